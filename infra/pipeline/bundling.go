package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// LambdaBuildFlags are the flags of every function build, the same as
// `make build`: static, no RPC shim, no paths, no VCS stamp, no build ID.
var LambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// LambdaBuildEnv is the environment of every function build.
var LambdaBuildEnv = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}

// goBundler builds one function with the local Go toolchain.
type goBundler struct {
	sourceDir, function string
}

// TryBundle implements awscdk.ILocalBundling.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	args := append([]string{"build"}, LambdaBuildFlags...)
	args = append(args, "-o", filepath.Join(*outputDir, "bootstrap"), "./functions/"+b.function)
	cmd := exec.Command("go", args...)
	cmd.Dir = b.sourceDir
	cmd.Env = append(os.Environ(), LambdaBuildEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		// CDK falls back to Docker when this returns false; say why first.
		fmt.Fprintf(os.Stderr, "build %s for Lambda: %v\n%s", b.function, err, out)
		return jsii.Bool(false)
	}
	return jsii.Bool(true)
}

// functionCode builds function from source at synth. The asset hash is
// the built binary's, so it changes exactly when the binary does: the
// build is reproducible, so a rebuild of unchanged source keeps the hash.
func functionCode(sourceDir, function string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(sourceDir), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Exclude:       jsii.Strings("cdk.out", "node_modules", ".git", "bin", ".local", "**/testdata"),
		Bundling: &awscdk.BundlingOptions{
			Local: &goBundler{sourceDir: sourceDir, function: function},
			// Used only where no Go toolchain is installed.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1.26")),
			Environment: &map[string]*string{
				"CGO_ENABLED": jsii.String("0"), "GOOS": jsii.String("linux"), "GOARCH": jsii.String("arm64"),
				"GOCACHE": jsii.String("/tmp/go-cache"), "GOPATH": jsii.String("/tmp/go"),
			},
			Command: jsii.Strings("go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
				"-ldflags=-s -w -buildid=", "-o", "/asset-output/bootstrap", "./functions/"+function),
		},
	})
}
