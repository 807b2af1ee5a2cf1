package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/ddbstream/pipeline/internal/lambdabuild"
)

// goBundler builds one function with the local Go toolchain.
type goBundler struct {
	sourceDir, function string
}

// TryBundle implements awscdk.ILocalBundling.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	args := append([]string{"build"}, lambdabuild.Flags...)
	args = append(args, "-o", filepath.Join(*outputDir, "bootstrap"), "./functions/"+b.function)
	cmd := exec.Command("go", args...)
	cmd.Dir = b.sourceDir
	cmd.Env = append(os.Environ(), lambdabuild.Env...)
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
			Image:       awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1.26")),
			Environment: dockerEnv(),
			Command:     jsii.Strings(append(append([]string{"go", "build"}, lambdabuild.Flags...), "-o", "/asset-output/bootstrap", "./functions/"+function)...),
		},
	})
}

// dockerEnv is lambdabuild.Env, plus writable caches, for the Docker
// fallback.
func dockerEnv() *map[string]*string {
	env := map[string]*string{"GOCACHE": jsii.String("/tmp/go-cache"), "GOPATH": jsii.String("/tmp/go")}
	for _, kv := range lambdabuild.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = jsii.String(v)
	}
	return &env
}
