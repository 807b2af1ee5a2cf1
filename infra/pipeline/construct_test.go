package pipeline

import (
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestStatefulLogicalIDsNeverChange: the table, buckets, keys, queues and
// log groups hold data. Renaming a construct changes its logical ID, and
// CloudFormation then creates a new resource and orphans (retained) or
// deletes the old one with its data. A change here must be deliberate.
func TestStatefulLogicalIDsNeverChange(t *testing.T) {
	defer failOnPanic(t)
	expect := map[string][]string{
		"AWS::DynamoDB::Table": {"PipelineTable0C1A5F45"},
		"AWS::S3::Bucket":      {"PipelineAccessLogs3A10AC0B", "PipelineOutputDE261739"},
		"AWS::KMS::Key":        {"PipelineBucketKeyA35FB1B5"},
		"AWS::SQS::Queue": {"PipelineBackfillConverterFailureQueue435A87E3", "PipelineBackfillPlannerFailureQueue2A87CFDC",
			"PipelineBackfillTriggerDeadLetterQueue8BC26375", "PipelineForwarderFailureQueueEF12F25C",
			"PipelineForwarderTriggerDeadLetterQueueB8FD3F67", "PipelineStreamerFailureQueue9F17FC21"},
		"AWS::Logs::LogGroup": {"PipelineBackfillConverterLogs4F89596F", "PipelineBackfillPlannerLogsE1794C16",
			"PipelineForwarderLogsD9B0817A", "PipelineStreamerLogs4C8DB241"},
	}
	s := defaultSynth(t)
	for typ, want := range expect {
		var got []string
		for id := range resources(s, typ) {
			got = append(got, id)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s logical IDs: got %v, want %v", typ, got, want)
		}
	}
}

// TestNilPropsStopSynthesisClearly: nil props are the defaults, which
// name no Databricks secret; the construct says so instead of panicking.
func TestNilPropsStopSynthesisClearly(t *testing.T) {
	defer failOnPanic(t)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"aws:cdk:bundling-stacks": []string{}}})
	stack := NewPipelineStack(app, "Nil", nil)
	errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("databricksSecretName")))
	if len(*errs) == 0 {
		t.Error("nil props synthesized without an error naming databricksSecretName")
	}
	// Valid props add no error.
	app = awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"aws:cdk:bundling-stacks": []string{}}})
	stack = NewPipelineStack(app, "Valid", &StackProps{Pipeline: testProps(t)})
	if errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_AnyValue()); len(*errs) != 0 {
		t.Errorf("valid props: %d errors", len(*errs))
	}
}

// TestDeliveryNone: Databricks reads the objects itself (Auto Loader), so
// no forwarder, no Databricks secret, no forwarder rule, queues or alarms;
// the backfill and the stream side are unchanged.
func TestDeliveryNone(t *testing.T) {
	defer failOnPanic(t)
	p := testProps(t)
	p.DeliveryMode, p.DatabricksSecretName, p.DatabricksVolumePath = DeliveryNone, "", ""
	if err := p.Validate(); err != nil {
		t.Fatalf("delivery mode none without a secret: %v", err)
	}
	s := synth(t, p, false, "")
	fns := resources(s, "AWS::Lambda::Function")
	if got := len(fns); got != 3 {
		t.Errorf("%d functions, want 3 (streamer, export planner, export converter)", got)
	}
	if strings.Contains(toJSON(s.json), "secretsmanager") {
		t.Error("the template refers to a Databricks secret")
	}
	rules := resources(s, "AWS::Events::Rule")
	if len(rules) != 1 {
		t.Fatalf("%d rules, want the export planner's only", len(rules))
	}
	for id := range resources(s, "AWS::SQS::Queue") {
		if strings.Contains(id, "Forwarder") {
			t.Errorf("queue %s in delivery mode none", id)
		}
	}
	for _, o := range []string{"ForwarderFunctionName", "ForwarderFailureQueueUrl"} {
		if _, ok := s.json["Outputs"].(map[string]any)[o]; ok {
			t.Errorf("output %s in delivery mode none", o)
		}
	}
	// S3 still sends events to EventBridge: the backfill needs them.
	s.template.HasResourceProperties(jsii.String("AWS::S3::Bucket"), &map[string]any{
		"NotificationConfiguration": map[string]any{"EventBridgeConfiguration": map[string]any{"EventBridgeEnabled": true}},
	})
	checkNag(t, s)
	checkIAMRules(t, s)
}
