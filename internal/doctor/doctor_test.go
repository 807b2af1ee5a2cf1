package doctor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/eventrule"
)

func run(t *testing.T, w *world) Report {
	t.Helper()
	srv := startWorkspace(w.ws)
	t.Cleanup(srv.Close)
	w.secret.Set(w.secretJSON(srv.URL))
	return Run(context.Background(), Config{Stack: stackName, Now: func() time.Time { return time.Date(2026, 11, 23, 17, 30, 0, 0, time.UTC) },
		DatabricksOptions: []databricks.Option{databricks.WithHTTPClient(srv.Client()), databricks.WithSleep(func(context.Context, time.Duration) error { return nil })}},
		w.clients())
}

func find(r Report, id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// TestHealthyStackPassesEveryCheck: a stack deployed as infra builds it
// passes every check, and each check is there.
func TestHealthyStackPassesEveryCheck(t *testing.T) {
	r := run(t, newWorld())
	ids := []string{"stack", "stream", "mapping", "iterator-age", "streamer-queue", "forwarder-queue", "forwarder-trigger-dlq",
		"export-converter-queue", "export-planner-queue", "export-trigger-dlq", "trigger", "export-trigger",
		"role-streamer", "role-forwarder", "role-exportplanner", "role-exportconverter",
		"databricks-secret", "databricks-workspace", "databricks-destination",
		"streamer-logs", "forwarder-logs", "export-planner-logs", "export-converter-logs"}
	for _, id := range ids {
		c, ok := find(r, id)
		if !ok {
			t.Errorf("no %s check", id)
			continue
		}
		if c.Status != Pass {
			t.Errorf("%s: %s: %s (%s) %v", id, c.Status, c.Detail, c.Remedy, c.Lines)
		}
	}
	if len(r.Checks) != len(ids) || !r.OK || r.Failed() != 0 {
		t.Errorf("checks %d, ok %v, failed %d; expect %d, true, 0", len(r.Checks), r.OK, r.Failed(), len(ids))
	}
	s, _ := find(r, "databricks-secret")
	if strings.Contains(s.Detail, token) || strings.Contains(s.Detail, "127.0.0.1") {
		t.Errorf("the secret check shows a value: %s", s.Detail)
	}
}

// TestEachFaultFailsItsCheckWithItsRemedy injects one fault at a time:
// its check fails, says what it found and what to do, and every other
// check that can still run passes.
func TestEachFaultFailsItsCheckWithItsRemedy(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: dynamodb:DescribeTable"}
	tests := []struct {
		name   string
		fault  func(*world)
		id     string
		detail string
		remedy string
		// skipped are checks that cannot run after this fault.
		skipped []string
	}{
		{"stack missing", func(w *world) { w.outputs = nil }, "stack", "not found", "check --stack and the region",
			[]string{"stream", "mapping", "iterator-age", "queues", "trigger", "export-trigger", "roles", "databricks", "logs"}},
		{"outputs missing", func(w *world) { delete(w.outputs, "StreamerFailureQueueUrl") }, "stack", "lacks the outputs StreamerFailureQueueUrl", "make deploy",
			[]string{"stream", "logs"}},
		{"deployment rolled back", func(w *world) { w.stackStatus = cftypes.StackStatusUpdateRollbackComplete }, "stack", "UPDATE_ROLLBACK_COMPLETE", "describe-stack-events", nil},
		{"stream off", func(w *world) { w.streamSpec = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(false)} }, "stream", "no stream enabled", "update-table", nil},
		{"wrong view type", func(w *world) { w.streamSpec.StreamViewType = ddbtypes.StreamViewTypeKeysOnly }, "stream", "KEYS_ONLY", "cannot be changed in place", nil},
		{"stream replaced", func(w *world) { w.latest = strings.Replace(streamARN, "2026-11-01", "2026-11-20", 1) }, "stream", "current stream is", "existingStreamArn=", nil},
		{"table unreadable", func(w *world) { w.tableErr = denied }, "stream", "AccessDenied", "ddbstream-doctor policy", nil},
		{"mapping disabled", func(w *world) { w.mappings[0].State = aws.String("Disabled") }, "mapping", "Disabled", "update-event-source-mapping --uuid a1b2c3d4-5678-90ab-cdef-11111EXAMPLE --enabled", nil},
		{"mapping problem", func(w *world) {
			w.mappings[0].LastProcessingResult = aws.String("PROBLEM: Function call failed")
		}, "mapping", "PROBLEM: Function call failed", "fix what the result names", nil},
		{"mapping gone", func(w *world) { w.mappings = nil }, "mapping", "nothing reads the stream", "make deploy", nil},
		{"no on-failure destination", func(w *world) { w.mappings[0].DestinationConfig = nil }, "mapping", "no on-failure destination", "make deploy", nil},
		{"stream lag", func(w *world) { w.ageMs = float64(40 * time.Minute / time.Millisecond) }, "iterator-age", "latest 40m0s", "falling behind", nil},
		{"streamer failures waiting", func(w *world) { w.queues[sqsBase+"streamer-failures"].Send("{}") }, "streamer-queue", "1 messages",
			"ddbstream redrive --stack DdbStreamPipeline --source streamer", nil},
		{"forwarder failures waiting", func(w *world) { w.queues[sqsBase+"forwarder-failures"].Send("{}") }, "forwarder-queue", "1 messages",
			"ddbstream redrive --stack DdbStreamPipeline --source forwarder", nil},
		{"trigger dead letters", func(w *world) { w.queues[sqsBase+"forwarder-trigger-dlq"].Send("{}") }, "forwarder-trigger-dlq", "could not hand", "--source forwarder", nil},
		{"export conversions given up", func(w *world) { w.queues[sqsBase+"converter-failures"].Send("{}") }, "export-converter-queue", "the backfill is incomplete",
			"ddbstream redrive --stack DdbStreamPipeline --source export", nil},
		{"export summaries given up", func(w *world) { w.queues[sqsBase+"planner-failures"].Send("{}") }, "export-planner-queue", "not converted", "--source export", nil},
		{"export trigger dead letters", func(w *world) { w.queues[sqsBase+"export-trigger-dlq"].Send("{}") }, "export-trigger-dlq", "could not hand to the planner", "--source export", nil},
		{"bucket events off", func(w *world) { w.eventBridge = false }, "trigger", "does not send its events to EventBridge: no new object reaches the forwarder, and no export summary the export planner",
			"make deploy", []string{"export-trigger"}},
		{"rule disabled", func(w *world) { w.rules[nameOf(ruleARN)].state = ebtypes.RuleStateDisabled }, "trigger", "DISABLED",
			"aws events enable-rule --name DdbStreamPipeline-PipelineForwarderTrigger-1A2B3C", nil},
		{"rule pattern changed", func(w *world) { w.rules[nameOf(ruleARN)].pattern = `{"source":["aws.s3"]}` }, "trigger", "not iam's eventrule.Forwarder pattern", "make deploy", nil},
		{"no permission for the rule", func(w *world) { delete(w.policies, fnARN("DdbStreamPipeline-Forwarder")) }, "trigger", "no EventBridge rule may invoke", "make deploy", nil},
		{"rule targets another function", func(w *world) {
			w.rules[nameOf(ruleARN)].targets = []ebtypes.Target{{Arn: aws.String(fnARN("other"))}}
		}, "trigger", "does not target", "make deploy", nil},
		{"forwarder target without its dead-letter queue", func(w *world) { w.rules[nameOf(ruleARN)].targets[0].DeadLetterConfig = nil }, "trigger",
			"has no dead-letter queue", "make deploy", nil},
		// The export planner's trigger, checked like the forwarder's.
		{"planner rule disabled", func(w *world) { w.rules[nameOf(plannerRuleARN)].state = ebtypes.RuleStateDisabled }, "export-trigger", "DISABLED",
			"aws events enable-rule --name DdbStreamPipeline-PipelineBackfillPlannerTrigger-4D5E6F; exports that completed meanwhile were not converted: run ddbstream backfill --stack DdbStreamPipeline", nil},
		{"planner rule with the forwarder's pattern", func(w *world) { w.rules[nameOf(plannerRuleARN)].pattern = w.rules[nameOf(ruleARN)].pattern }, "export-trigger",
			"not iam's eventrule.ExportManifest pattern", "make deploy", nil},
		{"planner rule for another export prefix", func(w *world) {
			other, _ := json.Marshal(eventrule.ExportManifest(bucket, "other-exports").Document())
			w.rules[nameOf(plannerRuleARN)].pattern = string(other)
		}, "export-trigger", "not iam's eventrule.ExportManifest pattern", "ddbstream backfill --stack DdbStreamPipeline", nil},
		{"planner rule targets another function", func(w *world) {
			w.rules[nameOf(plannerRuleARN)].targets[0].Arn = aws.String(fnARN("DdbStreamPipeline-Converter"))
		}, "export-trigger", "does not target DdbStreamPipeline-Planner", "make deploy", nil},
		{"planner target without its dead-letter queue", func(w *world) { w.rules[nameOf(plannerRuleARN)].targets[0].DeadLetterConfig = nil }, "export-trigger",
			"has no dead-letter queue", "make deploy", nil},
		{"planner target with another dead-letter queue", func(w *world) {
			w.rules[nameOf(plannerRuleARN)].targets[0].DeadLetterConfig.Arn = aws.String(sqsARN("forwarder-trigger-dlq"))
		}, "export-trigger", "not to the stack's arn:aws:sqs:eu-west-1:123456789012:export-trigger-dlq", "make deploy", nil},
		{"no permission for the planner's rule", func(w *world) { delete(w.policies, fnARN("DdbStreamPipeline-Planner")) }, "export-trigger",
			"no EventBridge rule may invoke DdbStreamPipeline-Planner", "make deploy", nil},
		{"planner rule gone", func(w *world) { delete(w.rules, nameOf(plannerRuleARN)) }, "export-trigger", "Rule does not exist", "make deploy", nil},
		{"role statement widened", func(w *world) {
			st := iam.Streamer(w.resources())
			st[0].Actions = append(st[0].Actions, "s3:DeleteObject")
			w.setPolicy("DdbStreamPipeline-StreamerRole-AAA", "streamer", iam.Policy(st))
		}, "role-streamer", "differs from iam's streamer policy", "make deploy", nil},
		{"role statement added", func(w *world) {
			st := append(iam.Forwarder(w.resources()), iam.Statement{Sid: "Debug", Actions: []string{"s3:ListAllMyBuckets"}, Resources: []string{"*"}})
			w.setPolicy("DdbStreamPipeline-ForwarderRole-BBB", "forwarder", iam.Policy(st))
		}, "role-forwarder", "differs", "CloudTrail", nil},
		{"managed policy attached", func(w *world) {
			w.attached["DdbStreamPipeline-PlannerRole-CCC"] = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
		}, "role-exportplanner", "differs", "make deploy", nil},
		{"inline policy gone", func(w *world) { delete(w.inline, "DdbStreamPipeline-ConverterRole-DDD") }, "role-exportconverter", "differs", "make deploy", nil},
		{"secret unreadable", func(w *world) {
			w.secret.Err = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: secretsmanager:GetSecretValue"}
		}, "databricks-secret", "AccessDenied", "secretsmanager:GetSecretValue", []string{"databricks-workspace", "databricks-destination"}},
		{"secret malformed", func(w *world) {
			w.secretJSON = func(string) string { return `{"host":"http://insecure","token":"` + token + `"}` }
		}, "databricks-secret", `"host" must start with https://`,
			"put-secret-value", []string{"databricks-workspace", "databricks-destination"}},
		{"token revoked", func(w *world) { w.ws.token = "dapi-rotated" }, "databricks-workspace", "HTTP 401", "put a valid token", []string{"databricks-destination"}},
		{"workspace down", func(w *world) { w.ws.down = true }, "databricks-workspace", "HTTP 503", "check the workspace's status", []string{"databricks-destination"}},
		{"volume missing", func(w *world) { w.ws.dirs = map[string]bool{} }, "databricks-destination", "/Volumes/main/cdc/landing", "create the volume", nil},
		{"job missing", func(w *world) {
			env := w.functions["DdbStreamPipeline-Forwarder"].Env
			env["DELIVERY_MODE"], env["DATABRICKS_JOB_ID"] = "job", "999"
		}, "databricks-destination", "does not exist", "create the job or fix databricksJobId", nil},
		{"warehouse missing", func(w *world) {
			env := w.functions["DdbStreamPipeline-Forwarder"].Env
			env["DELIVERY_MODE"], env["DATABRICKS_WAREHOUSE_ID"] = "copy-into", "gone"
		}, "databricks-destination", "RESOURCE_DOES_NOT_EXIST", "create the warehouse", nil},
		{"streamer errors logged", func(w *world) {
			w.logLines["DdbStreamPipeline-StreamerLogs"] = []string{`{"level":"ERROR","msg":"batch not written; reporting the first unwritten record"}`}
		}, "streamer-logs", "1 ERROR lines", "ddbstream errors --stack DdbStreamPipeline", nil},
		{"forwarder errors logged", func(w *world) {
			w.logLines["DdbStreamPipeline-ForwarderLogs"] = []string{`{"level":"ERROR","msg":"object not delivered"}`}
		}, "forwarder-logs", "1 ERROR lines", "filter-log-events", nil},
		// The export functions' log groups come from their logging
		// configuration: the stack has no output for them.
		{"planner errors logged", func(w *world) {
			w.logLines["DdbStreamPipeline-PlannerLogs"] = []string{`{"level":"ERROR","msg":"export not planned; Lambda will retry the event"}`}
		}, "export-planner-logs", "1 ERROR lines in DdbStreamPipeline-PlannerLogs", "ddbstream redrive --stack DdbStreamPipeline --source export", nil},
		{"converter errors logged", func(w *world) {
			w.logLines["DdbStreamPipeline-ConverterLogs"] = []string{`{"level":"ERROR","msg":"data file not converted"}`}
		}, "export-converter-logs", "1 ERROR lines in DdbStreamPipeline-ConverterLogs", "ddbstream errors --stack DdbStreamPipeline", nil},
		{"planner's logs named by an output", func(w *world) {
			w.outputs["ExportPlannerLogGroupName"] = "DdbStreamPipeline-PlannerLogs-Output"
			w.logLines["DdbStreamPipeline-PlannerLogs-Output"] = []string{`{"level":"ERROR","msg":"export not planned"}`}
		}, "export-planner-logs", "in DdbStreamPipeline-PlannerLogs-Output", "--source export", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			tc.fault(w)
			r := run(t, w)
			c, ok := find(r, tc.id)
			if !ok {
				t.Fatalf("no %s check in %+v", tc.id, r.Checks)
			}
			t.Logf("%s %s: %s\n  what to do: %s\n  %s", c.Status, c.Title, c.Detail, c.Remedy, strings.Join(c.Lines, "\n  "))
			for _, f := range []struct {
				field       string
				got, expect any
			}{
				{"status", c.Status, Fail},
				{"detail says what was found", strings.Contains(c.Detail+strings.Join(c.Lines, "\n"), tc.detail), true},
				{"remedy says what to do", strings.Contains(c.Remedy, tc.remedy), true},
				{"report not ok", r.OK, false},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v (detail %q, remedy %q, lines %v)", f.field, f.got, f.expect, c.Detail, c.Remedy, c.Lines)
				}
			}
			skipped := map[string]bool{}
			for _, id := range tc.skipped {
				skipped[id] = true
			}
			for _, other := range r.Checks {
				switch {
				case other.ID == tc.id:
				case skipped[other.ID]:
					if other.Status != Skip {
						t.Errorf("%s: %s, expect it skipped", other.ID, other.Status)
					}
				case other.Status == Fail && tc.id != "stack":
					t.Errorf("%s also failed: %s (%s)", other.ID, other.Detail, other.Remedy)
				}
			}
		})
	}
}

// TestDeliveryModeNone: without a forwarder, its checks are skipped, not
// failed.
func TestDeliveryModeNone(t *testing.T) {
	w := newWorld()
	for _, k := range []string{"ForwarderFunctionName", "ForwarderLogGroupName", "ForwarderFailureQueueUrl", "ForwarderTriggerDeadLetterQueueUrl"} {
		delete(w.outputs, k)
	}
	r := run(t, w)
	if !r.OK {
		t.Errorf("failed: %+v", r.Checks)
	}
	for _, id := range []string{"forwarder-queue", "trigger", "databricks-secret", "databricks-destination"} {
		if c, _ := find(r, id); c.Status != Skip {
			t.Errorf("%s: %s, expect skip", id, c.Status)
		}
	}
}

// TestReportIsJSON: --json's shape, stable for automation.
func TestReportIsJSON(t *testing.T) {
	w := newWorld()
	w.queues[sqsBase+"streamer-failures"].Send("{}")
	b, err := json.Marshal(run(t, w))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Stack  string `json:"stack"`
		OK     bool   `json:"ok"`
		Checks []struct {
			ID, Title, Status, Detail, Remedy string
		} `json:"checks"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Stack != stackName || back.OK || len(back.Checks) == 0 || back.Checks[0].ID != "stack" || back.Checks[0].Status != "ok" {
		t.Errorf("JSON %s", b)
	}
}

func TestVolumeRoot(t *testing.T) {
	tests := []struct{ in, expect, err string }{
		{"/Volumes/main/cdc/landing/{table}/{name}", "/Volumes/main/cdc/landing", ""},
		{"/Volumes/my cat/s/v/x", "/Volumes/my%20cat/s/v", ""},
		{"/Volumes/main/{schema}/v/x", "", "without variables"},
		{"/mnt/x", "", "not under /Volumes"},
	}
	for _, tc := range tests {
		got, err := volumeRoot(tc.in)
		if got != tc.expect || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %q, %v; expect %q, %q", tc.in, got, err, tc.expect, tc.err)
		}
	}
}

var _ = lambdatypes.EventSourceMappingConfiguration{}

// TestDeliveryModeNoneStillChecksTheBackfill: without a forwarder, the
// export planner's trigger still needs the bucket's EventBridge events.
func TestDeliveryModeNoneStillChecksTheBackfill(t *testing.T) {
	w := newWorld()
	for _, k := range []string{"ForwarderFunctionName", "ForwarderLogGroupName", "ForwarderFailureQueueUrl", "ForwarderTriggerDeadLetterQueueUrl"} {
		delete(w.outputs, k)
	}
	w.eventBridge = false
	r := run(t, w)
	c, _ := find(r, "export-trigger")
	if c.Status != Fail || !strings.Contains(c.Detail, "does not send its events to EventBridge: no new object reaches the export planner") {
		t.Errorf("export-trigger: %s %s", c.Status, c.Detail)
	}
}

// TestStackBeforeTheBackfill: a stack without the export functions skips
// their checks rather than failing them.
func TestStackBeforeTheBackfill(t *testing.T) {
	w := newWorld()
	for k := range w.outputs {
		if strings.HasPrefix(k, "Export") {
			delete(w.outputs, k)
		}
	}
	r := run(t, w)
	if !r.OK {
		t.Errorf("failed: %+v", r.Checks)
	}
	for _, id := range []string{"export-trigger"} {
		if c, _ := find(r, id); c.Status != Skip {
			t.Errorf("%s: %s, expect skip", id, c.Status)
		}
	}
	for _, id := range []string{"export-planner-logs", "export-converter-logs"} {
		if _, ok := find(r, id); ok {
			t.Errorf("%s checked on a stack without export functions", id)
		}
	}
}
