package pipeline

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite iam/testdata/stack-template.json")

// stackTemplateGolden is the authorization-relevant part of the
// synthesized template, which internal/testing/authz evaluates the local
// runs' requests against (integration's TestMain, cmd/local).
const stackTemplateGolden = "iam/testdata/stack-template.json"

// authorizationTypes are the resource types whose properties decide who
// may do what, with the properties kept (nil: all of them but those in
// assetProperties). A bucket keeps its name and encryption only: the
// rest (lifecycle, logging, versioning) authorizes nothing.
var authorizationTypes = map[string][]string{
	"AWS::IAM::Role":                      nil,
	"AWS::IAM::Policy":                    nil,
	"AWS::IAM::ManagedPolicy":             nil,
	"AWS::S3::Bucket":                     {"BucketName", "BucketEncryption"},
	"AWS::S3::BucketPolicy":               nil,
	"AWS::KMS::Key":                       nil,
	"AWS::SQS::Queue":                     nil,
	"AWS::SQS::QueuePolicy":               nil,
	"AWS::Lambda::Function":               nil,
	"AWS::Lambda::Permission":             nil,
	"AWS::Lambda::EventSourceMapping":     nil,
	"AWS::Lambda::EventInvokeConfig":      nil,
	"AWS::Events::Rule":                   nil,
	"AWS::DynamoDB::Table":                nil,
	"AWS::Logs::LogGroup":                 nil,
	"AWS::SecretsManager::Secret":         nil,
	"AWS::SecretsManager::ResourcePolicy": nil,
}

// assetProperties depend on the functions' built code, not on the
// policies: a code change must not show as a policy diff.
var assetProperties = map[string]bool{"Code": true}

// authorizationOutput tells the outputs that name a resource (what
// ddbstream reads to find them, and what authz fills the operator
// policies' placeholders from) from the printed commands.
func authorizationOutput(name string) bool {
	for _, suffix := range []string{"Name", "Arn", "Url", "Prefix"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// refersOnlyTo reports whether every resource v names (Ref, Fn::GetAtt)
// is one of kept: an output about a resource left out (the dashboard)
// would not resolve.
func refersOnlyTo(v any, kept map[string]any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch k {
			case "Ref":
				if id, _ := x.(string); !strings.HasPrefix(id, "AWS::") && kept[id] == nil {
					return false
				}
			case "Fn::GetAtt":
				if l, _ := x.([]any); len(l) > 0 && kept[fmt.Sprint(l[0])] == nil {
					return false
				}
			}
			if !refersOnlyTo(x, kept) {
				return false
			}
		}
	case []any:
		for _, x := range v {
			if !refersOnlyTo(x, kept) {
				return false
			}
		}
	}
	return true
}

// authorizationTemplate is the part of a synthesized template that
// authorizes: the resources of authorizationTypes, each with its Type and
// Properties only (no CDK metadata, which names the construct path and
// cdk-nag's suppressions), and the outputs naming resources. Marshalled
// with sorted keys and indented, so that a policy change is a reviewable
// diff of the golden file.
func authorizationTemplate(t *testing.T, tpl map[string]any) []byte {
	t.Helper()
	resources := map[string]any{}
	for id, raw := range tpl["Resources"].(map[string]any) {
		r := raw.(map[string]any)
		typ, _ := r["Type"].(string)
		keep, ok := authorizationTypes[typ]
		if !ok {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		kept := map[string]any{}
		for k, v := range props {
			if assetProperties[k] {
				continue
			}
			if keep != nil && !slices.Contains(keep, k) {
				continue
			}
			kept[k] = v
		}
		resources[id] = map[string]any{"Type": typ, "Properties": kept}
	}
	outputs := map[string]any{}
	if all, ok := tpl["Outputs"].(map[string]any); ok {
		for name, o := range all {
			if authorizationOutput(name) && refersOnlyTo(o, resources) {
				outputs[name] = map[string]any{"Value": o.(map[string]any)["Value"]}
			}
		}
	}
	b, err := json.MarshalIndent(map[string]any{"Resources": resources, "Outputs": outputs}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestStackTemplateIsCurrent keeps iam/testdata/stack-template.json equal
// to what `make synth` deploys with its example context
// (databricksSecretName and databricksVolumePath as EXAMPLE_CONTEXT in the
// Makefile) and the Unity Catalog role enabled, so that the roles, the
// bucket, key and queue policies and the Lambda permissions the local
// runs are evaluated against are the deployed ones. The stack is
// make synth's, DdbStreamPipeline: the bucket's and the Unity Catalog
// role's generated names hash its ID.
func TestStackTemplateIsCurrent(t *testing.T) {
	defer failOnPanic(t)
	p := testProps(t)
	p.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	got := authorizationTemplate(t, synthStack(t, "DdbStreamPipeline", p, false, "", true).json)
	golden := filepath.Join(repoRoot(t), filepath.FromSlash(stackTemplateGolden))
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v; run go test ./infra/pipeline -run TestStackTemplateIsCurrent -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the synthesized stack; review the change and run go test ./infra/pipeline -run TestStackTemplateIsCurrent -update\n%s",
			stackTemplateGolden, firstDifference(string(want), string(got)))
	}
}

// firstDifference shows where two texts part: the first differing line
// of each, with its number.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  committed:   " + wl + "\n  synthesized: " + gl
		}
	}
	return "(no line differs)"
}
