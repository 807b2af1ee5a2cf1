package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/eventrule"
)

func TestForwarderTrigger(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	bucket := only(t, resources(s, "AWS::S3::Bucket"), func(r map[string]any) bool {
		return r["Properties"].(map[string]any)["VersioningConfiguration"] != nil
	})
	nc, _ := bucket["Properties"].(map[string]any)["NotificationConfiguration"].(map[string]any)
	if got := toJSON(nc); got != `{"EventBridgeConfiguration":{"EventBridgeEnabled":true}}` {
		t.Errorf("bucket NotificationConfiguration = %s; want EventBridge only, no filtered S3 notifications", got)
	}
	rule := only(t, resources(s, "AWS::Events::Rule"), ruleTargeting("Forwarder"))
	props := rule["Properties"].(map[string]any)
	if props["State"] != "ENABLED" || props["EventBusName"] != nil {
		t.Errorf("rule state %v on bus %v; want ENABLED on the default bus", props["State"], props["EventBusName"])
	}
	targets := props["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("%d targets", len(targets))
	}
	target := targets[0].(map[string]any)
	for field, want := range map[string]string{
		"Arn":              `{"Fn::GetAtt":["PipelineForwarder`,
		"RetryPolicy":      `{"MaximumEventAgeInSeconds":86400,"MaximumRetryAttempts":185}`,
		"DeadLetterConfig": `{"Arn":{"Fn::GetAtt":["PipelineForwarderTriggerDeadLetterQueue`,
	} {
		if got := toJSON(target[field]); !strings.HasPrefix(got, want) {
			t.Errorf("target %s = %s; want %s…", field, got, want)
		}
	}
	// The deployed pattern is eventrule's, to the letter.
	pattern := props["EventPattern"].(map[string]any)
	want := eventrule.Forwarder("BUCKET", "cdc").Document()
	got := withBucket(t, pattern, "BUCKET")
	if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Errorf("rule pattern %s; eventrule says %s", toJSON(got), toJSON(want))
	}
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), obj(map[string]any{
		"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction",
		"SourceArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("PipelineForwarderTrigger")), "Arn"}},
	}))
	s.template.ResourceCountIs(jsii.String("AWS::Lambda::Permission"), jsii.Number(2)) // the forwarder's and the export planner's
	s.template.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), obj(map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Sid": "ForwarderTriggerDeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage",
			"Principal": map[string]any{"Service": "events.amazonaws.com"}, "Resource": assertions.Match_AnyValue(),
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": map[string]any{"Fn::GetAtt": assertions.Match_AnyValue()}}},
		}})},
	}))
}

// TestTriggerMatchesAWSEvents evaluates the deployed pattern on events of
// the shape S3 sends to EventBridge
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
func TestTriggerMatchesAWSEvents(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	rule := only(t, resources(s, "AWS::Events::Rule"), ruleTargeting("Forwarder"))
	pattern := withBucket(t, rule["Properties"].(map[string]any)["EventPattern"].(map[string]any), "amzn-s3-demo-bucket1")
	event := func(detailType, bucket, key string) []byte {
		return []byte(fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":%q,"source":"aws.s3",
"account":"111122223333","time":"2021-11-12T00:00:00Z","region":"ca-central-1","resources":["arn:aws:s3:::%s"],
"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":5,"etag":"b1946ac92492d2347c6235b4d2611184",
"version-id":"IYV3p45BT0ac8hjHg1houSdS1a.Mro8e","sequencer":"617f08299329d189"},"request-id":"N4N7GDK58NMKJ12R",
"requester":"123456789012","source-ip-address":"1.2.3.4","reason":"PutObject"}}`, detailType, bucket, bucket, key))
	}
	const data = "cdc/table=Orders/dt=2026-11-23/hour=04/20261101T000000000-100-200.jsonl.gz"
	tests := []struct {
		name string
		ev   []byte
		want bool
	}{
		{"data object", event("Object Created", "amzn-s3-demo-bucket1", data), true},
		{"errors object", event("Object Created", "amzn-s3-demo-bucket1", "cdc/_errors/table=Orders/dt=2026-11-23/hour=04/x-1-2.jsonl.gz"), false},
		{"malformed payload", event("Object Created", "amzn-s3-demo-bucket1", "cdc/_errors/malformed/ab.json.gz"), false},
		{"deleted data object", event("Object Deleted", "amzn-s3-demo-bucket1", data), false},
		{"other bucket", event("Object Created", "other-bucket", data), false},
		{"other suffix", event("Object Created", "amzn-s3-demo-bucket1", strings.TrimSuffix(data, ".gz")), false},
	}
	for _, tc := range tests {
		got, err := eventrule.Matches(pattern, tc.ev)
		if err != nil || got != tc.want {
			t.Errorf("%s: matches = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// withBucket replaces the bucket name, a CloudFormation expression in the
// template, by a plain name.
func withBucket(t *testing.T, pattern map[string]any, name string) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal([]byte(toJSON(pattern)), &p); err != nil {
		t.Fatal(err)
	}
	detail, _ := p["detail"].(map[string]any)
	b, _ := detail["bucket"].(map[string]any)
	if b == nil {
		t.Fatalf("pattern has no detail.bucket: %s", toJSON(pattern))
	}
	b["name"] = []any{name}
	return p
}

func normalize(t *testing.T, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(toJSON(v)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func only(t *testing.T, rs map[string]map[string]any, keep func(map[string]any) bool) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range rs {
		if keep(r) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d matching resources, want 1", len(found))
	}
	return found[0]
}

// s3FilterSpecial are the characters S3 requires URL-encoded in
// notification filter values: its "characters that might require special
// handling" (object key naming guidelines) except '/', the separator
// every prefix example uses
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html:
// "If you use any other special characters in the value of the prefix or
// suffix, you must enter them in URL-encoded (percent-encoded) format").
const s3FilterSpecial = "&$@=;:+ ,?"

// s3FilterProblems lists the S3 notification filter values of a template
// that hold a character S3 needs encoded: such a filter silently never
// matches (aws/aws-cdk pull request 28012).
func s3FilterProblems(template map[string]any) []string {
	var out []string
	res, _ := template["Resources"].(map[string]any)
	for id, r := range res {
		props, _ := r.(map[string]any)["Properties"].(map[string]any)
		nc, _ := props["NotificationConfiguration"].(map[string]any)
		for kind, cfgs := range nc {
			list, _ := cfgs.([]any)
			for _, c := range list {
				filter, _ := c.(map[string]any)["Filter"].(map[string]any)
				s3key, _ := filter["S3Key"].(map[string]any)
				rules, _ := s3key["Rules"].([]any)
				for _, rule := range rules {
					v, _ := rule.(map[string]any)["Value"].(string)
					if strings.ContainsAny(v, s3FilterSpecial) || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
						out = append(out, fmt.Sprintf("%s %s filter value %q must be URL-encoded", id, kind, v))
					}
				}
			}
		}
	}
	return out
}

func TestS3FilterCheckCatchesUnencodedValues(t *testing.T) {
	bad := map[string]any{"Resources": map[string]any{"Output": map[string]any{"Properties": map[string]any{
		"NotificationConfiguration": map[string]any{"LambdaConfigurations": []any{map[string]any{"Filter": map[string]any{"S3Key": map[string]any{
			"Rules": []any{map[string]any{"Name": "prefix", "Value": "cdc/table="}, map[string]any{"Name": "suffix", "Value": ".jsonl.gz"}},
		}}}}},
	}}}}
	if got := s3FilterProblems(bad); len(got) != 1 || !strings.Contains(got[0], `"cdc/table="`) {
		t.Errorf("problems = %v; want the unencoded prefix", got)
	}
	good := map[string]any{"Resources": map[string]any{"Output": map[string]any{"Properties": map[string]any{
		"NotificationConfiguration": map[string]any{"QueueConfigurations": []any{map[string]any{"Filter": map[string]any{"S3Key": map[string]any{
			"Rules": []any{map[string]any{"Name": "prefix", "Value": "cdc/table%3D"}},
		}}}}},
	}}}}
	if got := s3FilterProblems(good); len(got) != 0 {
		t.Errorf("problems = %v; want none for an encoded prefix", got)
	}
}

// TestNoUnencodedS3FilterValues checks every synthesized variant.
func TestNoUnencodedS3FilterValues(t *testing.T) {
	defer failOnPanic(t)
	for name, p := range variants(t) {
		for _, problem := range s3FilterProblems(synth(t, p, false, "").json) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

// lambdaKeeps applies Lambda's documented application log-level filter to
// one line of JSON output: a missing or invalid "level" counts as INFO
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
func lambdaKeeps(line []byte, filter string) bool {
	rank := map[string]int{"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
	var l struct {
		Level string `json:"level"`
	}
	_ = json.Unmarshal(line, &l)
	level, ok := rank[strings.ToUpper(l.Level)]
	if !ok {
		level = rank["INFO"]
	}
	return level >= rank[filter]
}

// TestMetricsSurviveEveryLogLevel: EMF lines carry no level, so Lambda's
// filter counts them as INFO; whatever logLevel is chosen, the deployed
// filter must keep them, or the alarms and dashboard go blank.
func TestMetricsSurviveEveryLogLevel(t *testing.T) {
	defer failOnPanic(t)
	var line bytes.Buffer
	if err := emf.New(&line, "DynamoDBStreamPipeline").Emit(time.Unix(0, 0), emf.Metric{Name: "ConversionErrors", Unit: emf.Count, Value: 1}); err != nil {
		t.Fatal(err)
	}
	if !lambdaKeeps(line.Bytes(), "INFO") || lambdaKeeps(line.Bytes(), "WARN") {
		t.Fatalf("the filter model is off: an EMF line must count as INFO: %s", line.Bytes())
	}
	for _, level := range []string{"WARN", "FATAL"} {
		p := testProps(t)
		p.LogLevel = level
		for id, fn := range resources(synth(t, p, false, ""), "AWS::Lambda::Function") {
			props := fn["Properties"].(map[string]any)
			filter, _ := props["LoggingConfig"].(map[string]any)["ApplicationLogLevel"].(string)
			if !lambdaKeeps(line.Bytes(), filter) {
				t.Errorf("logLevel %s: function %s filters at %s and drops its metrics", level, id, filter)
			}
			if got := props["Environment"].(map[string]any)["Variables"].(map[string]any)["LOG_LEVEL"]; got != level {
				t.Errorf("logLevel %s: function %s has LOG_LEVEL %v", level, id, got)
			}
		}
	}
}

// ruleTargeting selects the rule whose one target has the given Id.
func ruleTargeting(id string) func(map[string]any) bool {
	return func(r map[string]any) bool {
		targets, _ := r["Properties"].(map[string]any)["Targets"].([]any)
		return len(targets) == 1 && targets[0].(map[string]any)["Id"] == id
	}
}

// TestExportTrigger: completed exports' manifests, and nothing else,
// reach the export planner.
func TestExportTrigger(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	rule := only(t, resources(s, "AWS::Events::Rule"), ruleTargeting("Planner"))
	props := rule["Properties"].(map[string]any)
	got := withBucket(t, props["EventPattern"].(map[string]any), "BUCKET")
	if want := eventrule.ExportManifest("BUCKET", "cdc-exports").Document(); !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Errorf("rule pattern %s; eventrule says %s", toJSON(got), toJSON(want))
	}
	target := props["Targets"].([]any)[0].(map[string]any)
	if got := toJSON(target["Arn"]); !strings.HasPrefix(got, `{"Fn::GetAtt":["PipelineBackfillPlanner`) {
		t.Errorf("target %s; want the export planner", got)
	}
	if got := toJSON(target["DeadLetterConfig"]); !strings.Contains(got, "PipelineBackfillTriggerDeadLetterQueue") {
		t.Errorf("dead-letter queue %s", got)
	}
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), obj(map[string]any{
		"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction",
		"SourceArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("PipelineBackfillPlannerTrigger")), "Arn"}},
	}))
	// The converter writes under the prefix, with the streamer's settings.
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj(map[string]any{"Environment": map[string]any{"Variables": map[string]any{
		"S3_PREFIX": "cdc", "IMAGE_FORMAT": "plain", "BUCKET_NAME": assertions.Match_AnyValue(), "KMS_KEY_ID": assertions.Match_AnyValue(),
		"METRICS_NAMESPACE": "DynamoDBStreamPipeline", "LOG_LEVEL": "INFO",
	}}, "MemorySize": 1769, "Timeout": 900}))
}

func TestExportPrefixOutsideDataPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix, exportPrefix string
		ok                   bool
	}{
		{"cdc", "", true},
		{"cdc", "exports", true},
		{"cdc", "cdc-exports", true},
		{"cdc", "cdc/exports", false},
		{"cdc", "cdc", false},
		{"cdc", "/x", false},
	} {
		p := testProps(t)
		p.Prefix, p.ExportPrefix = tc.prefix, tc.exportPrefix
		err := p.Validate()
		if gotOK := err == nil; gotOK != tc.ok {
			t.Errorf("prefix %q, exportPrefix %q: valid %v (%v), want %v", tc.prefix, tc.exportPrefix, gotOK, err, tc.ok)
		}
	}
}
