package authz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The local run's values, as integration names them.
const (
	account     = "000000000000"
	region      = "us-east-1"
	bucket      = "cdc-local"
	streamLabel = "test-label"
	queueHost   = "http://127.0.0.1:4566/" + account + "/"
)

func testEnv() Env {
	return Env{Region: region, Account: account, StackName: "DdbStreamPipeline", StreamLabel: streamLabel,
		Names: map[string]string{
			"PipelineStreamer": "streamer", "PipelineForwarder": "forwarder",
			"PipelineBackfillPlanner": "exportplanner", "PipelineBackfillConverter": "exportconverter",
			"PipelineOutput": bucket, "PipelineTable": "Orders",
			"PipelineStreamerFailureQueue": "streamer-failures", "PipelineForwarderFailureQueue": "forwarder-failures",
			"PipelineForwarderTriggerDeadLetterQueue": "forwarder-trigger-dead-letters",
			"PipelineBackfillConverterFailureQueue":   "export-converter-failures",
			"PipelineBackfillPlannerFailureQueue":     "export-planner-failures",
			"PipelineBackfillTriggerDeadLetterQueue":  "export-planner-trigger-dead-letters",
			"PipelineForwarderTrigger":                "forwarder-trigger", "PipelineBackfillPlannerTrigger": "export-planner-trigger",
			"PipelineStreamerLogs": "/aws/lambda/streamer", "PipelineForwarderLogs": "/aws/lambda/forwarder",
			"PipelineBackfillPlannerLogs": "/aws/lambda/exportplanner", "PipelineBackfillConverterLogs": "/aws/lambda/exportconverter",
		}}
}

func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden is the committed stack template as JSON values, for a test to
// plant a fault in.
func golden(t *testing.T) map[string]any {
	t.Helper()
	var tpl map[string]any
	if err := json.Unmarshal(repoFile(t, "iam/testdata/stack-template.json"), &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// operatorPolicies are iam/testdata/operator-policies.json as JSON values.
func operatorPolicies(t *testing.T) map[string]any {
	t.Helper()
	var ops map[string]any
	if err := json.Unmarshal(repoFile(t, "iam/testdata/operator-policies.json"), &ops); err != nil {
		t.Fatal(err)
	}
	return ops
}

// load resolves tpl for testEnv and adds the operators.
func load(t *testing.T, tpl, ops map[string]any) *Stack {
	t.Helper()
	raw, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(raw, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if ops != nil {
		raw, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddOperators(raw); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// resource is the template resource whose logical ID starts with prefix
// (and then CDK's hash).
func templateResource(t *testing.T, tpl map[string]any, prefix string) map[string]any {
	t.Helper()
	return tpl["Resources"].(map[string]any)[logicalID(t, tpl, prefix)].(map[string]any)
}

func logicalID(t *testing.T, tpl map[string]any, prefix string) string {
	t.Helper()
	id, ok := LogicalID(tpl["Resources"].(map[string]any), prefix)
	if !ok {
		t.Fatalf("no resource %s in the template", prefix)
	}
	return id
}

// roleStatements are the statements of a role's inline policies.
func roleStatements(t *testing.T, tpl map[string]any, role string) []any {
	t.Helper()
	props := templateResource(t, tpl, role)["Properties"].(map[string]any)
	pol := props["Policies"].([]any)[0].(map[string]any)
	return pol["PolicyDocument"].(map[string]any)["Statement"].([]any)
}

func sid(st any) string {
	s, _ := st.(map[string]any)["Sid"].(string)
	return s
}

func queue(name string) string { return queueHost + name }

func fnARN(name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + name
}

func ruleARN(name string) string { return "arn:aws:events:" + region + ":" + account + ":rule/" + name }

// streamARN is a stream's ARN as DynamoDB Local gives it.
func localStreamARN(label string) string {
	return "arn:aws:dynamodb:ddblocal:" + account + ":table/Orders/stream/" + label
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
