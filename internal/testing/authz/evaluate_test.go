package authz

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// Keys as objectkey builds them (the layout the policies' patterns
// follow), and as DynamoDB writes an export.
const (
	dataKey      = "cdc/table=Orders/dt=d1/hour=h1/batch-1.jsonl.gz"
	errorsKey    = "cdc/_errors/table=Orders/dt=d1/hour=h1/batch-1.jsonl.gz"
	snapshotKey  = "cdc/table=Orders/dt=d1/hour=h1/snapshot-e1-f1.jsonl.gz"
	snapErrors   = "cdc/_errors/table=Orders/dt=d1/hour=h1/snapshot-e1-"
	exportPrefix = "cdc-exports/AWSDynamoDB/e1/"
	exportARN    = "arn:aws:dynamodb:ddblocal:" + account + ":table/Orders/export/e1"
)

func rec(principal string, c iam.Call) Recorded {
	return Recorded{Principal: principal, Call: c, Where: "TestHandMade"}
}

func s3Call(op, key string) iam.Call {
	return iam.Call{Service: "s3", Operation: op, Bucket: bucket, Key: key}
}

func list(prefix string) iam.Call {
	return iam.Call{Service: "s3", Operation: "ListObjectsV2", Bucket: bucket, Prefix: prefix}
}

// allowedCalls are calls each principal's code makes, which the deployed
// policies must allow.
func allowedCalls() []Recorded {
	stream := localStreamARN(streamLabel)
	logs := func(fn string) []Recorded {
		return []Recorded{
			rec(fn, iam.Call{Service: "cloudwatchlogs", Operation: "CreateLogStream", LogGroup: "/aws/lambda/" + fn, LogStream: "s1"}),
			rec(fn, iam.Call{Service: "cloudwatchlogs", Operation: "PutLogEvents", LogGroup: "/aws/lambda/" + fn, LogStream: "s1"}),
		}
	}
	versioned := s3Call("GetObject", dataKey)
	versioned.VersionID = "v1"
	missing := s3Call("HeadObject", dataKey)
	missing.Status = 404
	out := []Recorded{
		rec("streamer", iam.Call{Service: "dynamodbstreams", Operation: "DescribeStream", Stream: stream}),
		rec("streamer", iam.Call{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: stream}),
		rec("streamer", iam.Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: stream}),
		rec("streamer", iam.Call{Service: "dynamodbstreams", Operation: "ListStreams", Table: "Orders"}),
		rec("streamer", s3Call("PutObject", dataKey)),
		rec("streamer", s3Call("PutObject", errorsKey)),
		rec("streamer", iam.Call{Service: "sqs", Operation: "SendMessage", Queue: queue("streamer-failures")}),
		rec("forwarder", s3Call("HeadObject", dataKey)),
		rec("forwarder", s3Call("GetObject", dataKey)),
		rec("forwarder", versioned),
		rec("forwarder", missing),
		rec("forwarder", iam.Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "databricks/pipeline"}),
		rec("forwarder", iam.Call{Service: "sqs", Operation: "SendMessage", Queue: queue("forwarder-failures")}),
		rec("events.amazonaws.com", iam.Call{Service: "lambda", Operation: "Invoke", Function: fnARN("forwarder"), SourceARN: ruleARN("forwarder-trigger")}),
		rec("events.amazonaws.com", iam.Call{Service: "lambda", Operation: "Invoke", Function: fnARN("exportplanner"), SourceARN: ruleARN("export-planner-trigger")}),
		rec("events.amazonaws.com", iam.Call{Service: "sqs", Operation: "SendMessage", Queue: queue("forwarder-trigger-dead-letters"), SourceARN: ruleARN("forwarder-trigger")}),
		rec("exportplanner", s3Call("GetObject", exportPrefix+"manifest-summary.json")),
		rec("exportplanner", iam.Call{Service: "dynamodb", Operation: "DescribeExport", Export: exportARN}),
		rec("exportplanner", iam.Call{Service: "dynamodb", Operation: "DescribeTable", Table: "Orders"}),
		rec("exportplanner", iam.Call{Service: "lambda", Operation: "Invoke", Function: fnARN("exportconverter")}),
		rec("exportconverter", s3Call("GetObject", exportPrefix+"data/f1.json.gz")),
		rec("exportconverter", s3Call("CreateMultipartUpload", snapshotKey)),
		rec("exportconverter", s3Call("UploadPart", snapshotKey)),
		rec("exportconverter", s3Call("CompleteMultipartUpload", snapshotKey)),
		rec("exportconverter", s3Call("AbortMultipartUpload", snapshotKey)),
		rec("backfill", iam.Call{Service: "dynamodb", Operation: "ExportTableToPointInTime", Table: "Orders"}),
		rec("backfill", s3Call("PutObject", exportPrefix+"_started")),
		rec("backfill", list(snapErrors)),
		rec("backfill", list("cdc/table=Orders/dt=d1/hour=h1/snapshot-e1-")),
		rec("errors", list("cdc/_errors/")),
		rec("errors", s3Call("GetObject", errorsKey)),
		rec("reconcile", iam.Call{Service: "dynamodb", Operation: "Scan", Table: "Orders"}),
		rec("redrive", iam.Call{Service: "sqs", Operation: "ReceiveMessage", Queue: queue("streamer-failures")}),
		rec("redrive", iam.Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: stream}),
		rec("replay", list("cdc/table=Orders/dt=d1/")),
		rec("doctor", iam.Call{Service: "cloudformation", Operation: "DescribeStacks", Stack: "DdbStreamPipeline"}),
		rec("doctor", iam.Call{Service: "lambda", Operation: "GetPolicy", Function: "forwarder"}),
		rec(Harness, iam.Call{Service: "dynamodb", Operation: "CreateTable", Table: "Orders"}),
	}
	for _, fn := range []string{"streamer", "forwarder", "exportplanner", "exportconverter"} {
		out = append(out, logs(fn)...)
	}
	return out
}

func evaluate(t *testing.T, sim *iamsim.Simulator, s *Stack, recs []Recorded) *Report {
	t.Helper()
	rep, err := Evaluate(context.Background(), sim, s, recs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestAllowedCallsPass: what the code does is allowed by the deployed
// policies, and the harness's calls are not evaluated.
func TestAllowedCallsPass(t *testing.T) {
	sim := iamsim.Require(t)
	s := load(t, golden(t), operatorPolicies(t))
	recs := allowedCalls()
	rep := evaluate(t, sim, s, recs)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Calls != len(recs)-1 {
		t.Errorf("%d calls evaluated, want %d (all but the harness's)", rep.Calls, len(recs)-1)
	}
	// Each distinct request once: the streamer's PutObject of a data key
	// and of an errors key are one s3:PutObject each and one
	// kms:GenerateDataKey for both; the forwarder's HeadObject and
	// GetObject of one key one s3:GetObject, the versioned GetObject an
	// s3:GetObjectVersion, the 404 HeadObject an s3:ListBucket, their
	// reads one kms:Decrypt.
	want := map[string]int{"streamer": 10, "forwarder": 8, "exportplanner": 7, "exportconverter": 7, "events.amazonaws.com": 3,
		"backfill": 5, "errors": 3, "reconcile": 1, "redrive": 2, "replay": 1, "doctor": 2}
	if !reflect.DeepEqual(rep.Distinct, want) {
		t.Errorf("distinct requests %v, want %v", rep.Distinct, want)
	}
	if len(rep.IgnoredContextKeys) > 0 {
		t.Errorf("context keys that do not apply: %v", rep.IgnoredContextKeys)
	}
	if got := rep.Summary(); !strings.Contains(got, "streamer") || !strings.Contains(got, "0 not allowed") {
		t.Errorf("summary %q", got)
	}
}

// plant edits the template or the operator policies.
type plant func(t *testing.T, tpl, ops map[string]any)

// dropStatement removes a statement from a role's inline policy.
func dropStatement(role, sid string) plant {
	return func(t *testing.T, tpl, _ map[string]any) {
		props := templateResource(t, tpl, role)["Properties"].(map[string]any)
		doc := props["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)
		var kept []any
		for _, st := range doc["Statement"].([]any) {
			if got := sid; got != "" && got == stSid(st) {
				continue
			}
			kept = append(kept, st)
		}
		if len(kept) == len(doc["Statement"].([]any)) {
			t.Fatalf("%s has no statement %s", role, sid)
		}
		doc["Statement"] = kept
	}
}

func stSid(st any) string { return sid(st) }

// setResource sets a role statement's Resource.
func setResource(role, sid string, resource func(tpl map[string]any) any) plant {
	return func(t *testing.T, tpl, _ map[string]any) {
		for _, st := range roleStatements(t, tpl, role) {
			if stSid(st) == sid {
				st.(map[string]any)["Resource"] = resource(tpl)
				return
			}
		}
		t.Fatalf("%s has no statement %s", role, sid)
	}
}

// TestPlantedFaults: each fault makes Evaluate report a denial naming the
// principal, the call and the IAM request; without it, the same call is
// allowed (TestAllowedCallsPass).
func TestPlantedFaults(t *testing.T) {
	sim := iamsim.Require(t)
	tests := []struct {
		name        string
		plant       plant
		call        Recorded
		wantAction  string
		wantDecided iamsim.Decision
		wantWhy     string
	}{
		{
			name:  "the KMS grant dropped from the streamer's role",
			plant: dropStatement("PipelineStreamerRole", "EncryptObjects"),
			call:  rec("streamer", s3Call("PutObject", dataKey)), wantAction: "kms:GenerateDataKey", wantDecided: iamsim.ImplicitlyDenied,
		},
		{
			name: "the stream ARN narrowed in ReadStream",
			plant: setResource("PipelineStreamerRole", "ReadStream", func(tpl map[string]any) any {
				return map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logicalID(t, tpl, "PipelineTable"), "Arn"}}, "/stream/other-label"}}}
			}),
			call:       rec("streamer", iam.Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: localStreamARN(streamLabel)}),
			wantAction: "dynamodb:GetRecords", wantDecided: iamsim.ImplicitlyDenied, wantWhy: "resource matches none of",
		},
		{
			name: "a bucket-policy Deny of the forwarder's GetObject",
			plant: func(t *testing.T, tpl, _ map[string]any) {
				doc := templateResource(t, tpl, "PipelineOutputPolicy")["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
				doc["Statement"] = append(doc["Statement"].([]any), map[string]any{
					"Sid": "NoForwarderReads", "Effect": "Deny", "Action": "s3:GetObject",
					"Principal": map[string]any{"AWS": map[string]any{"Fn::GetAtt": []any{logicalID(t, tpl, "PipelineForwarderRole"), "Arn"}}},
					"Resource":  map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logicalID(t, tpl, "PipelineOutput"), "Arn"}}, "/*"}}},
				})
			},
			call:       rec("forwarder", s3Call("GetObject", dataKey)),
			wantAction: "s3:GetObject", wantDecided: iamsim.ExplicitlyDenied, wantWhy: "resource policy statement NoForwarderReads denies",
		},
		{
			name: "an s3:prefix value removed from the backfill's ListBucket",
			plant: func(t *testing.T, _, ops map[string]any) {
				for _, st := range ops["ddbstream-backfill"].(map[string]any)["Statement"].([]any) {
					if stSid(st) != "ListExportAndTableKeys" {
						continue
					}
					like := st.(map[string]any)["Condition"].(map[string]any)["StringLike"].(map[string]any)
					var kept []any
					for _, p := range like["s3:prefix"].([]any) {
						if !strings.HasPrefix(p.(string), "cdc/_errors/") {
							kept = append(kept, p)
						}
					}
					like["s3:prefix"] = kept
					return
				}
				t.Fatal("ddbstream-backfill has no ListExportAndTableKeys")
			},
			call:       rec("backfill", list(snapErrors)),
			wantAction: "s3:ListBucket", wantDecided: iamsim.ImplicitlyDenied, wantWhy: "condition StringLike s3:prefix",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, ops := golden(t), operatorPolicies(t)
			tc.plant(t, tpl, ops)
			s := load(t, tpl, ops)
			// The other allowed calls still pass: the fault denies only
			// what it must. The planted call comes first: a denial names
			// the first call that needed the request.
			rep := evaluate(t, sim, s, append([]Recorded{tc.call}, allowedCalls()...))
			var found *Denial
			for i, d := range rep.Denied {
				if d.Principal != tc.call.Principal {
					t.Errorf("the fault denies another principal's request too: %s", d)
				}
				if d.Principal == tc.call.Principal && d.Call == tc.call.Call && d.Authorization.Action == tc.wantAction {
					found = &rep.Denied[i]
				}
			}
			if found == nil {
				t.Fatalf("no denial of %s for %s; report: %v", tc.wantAction, callText(tc.call.Call), rep.Err())
			}
			if found.Decision != tc.wantDecided || !strings.Contains(found.Explanation, tc.wantWhy) {
				t.Errorf("denial %s; want %s, explained with %q", found, tc.wantDecided, tc.wantWhy)
			}
			msg := rep.Err().Error()
			for _, w := range []string{tc.call.Principal + ": " + callText(tc.call.Call), tc.wantAction + " on ", string(tc.wantDecided)} {
				if !strings.Contains(msg, w) {
					t.Errorf("the report does not name %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestInvalidCalls: a call by a principal the stack does not know, a
// call with no IAM mapping, and a service principal the resource does not
// allow are reported, each once with the number of calls.
func TestInvalidCalls(t *testing.T) {
	sim := iamsim.Require(t)
	s := load(t, golden(t), nil)
	frob := iam.Call{Service: "s3", Operation: "Frob", Bucket: bucket}
	rep := evaluate(t, sim, s, []Recorded{
		rec("nobody", list("cdc/")), rec("nobody", list("cdc/")),
		rec("streamer", frob),
		rec("events.amazonaws.com", iam.Call{Service: "lambda", Operation: "Invoke", Function: "forwarder", SourceARN: ruleARN("other")}),
	})
	got := map[string]string{}
	for _, d := range rep.Denied {
		got[d.Principal] = fmt.Sprintf("%s %d %s", d.Decision, d.Calls, d.Explanation)
	}
	want := map[string][]string{
		"nobody":               {"Invalid 2 ", `no principal "nobody"`, "exportconverter, exportplanner, forwarder, streamer"},
		"streamer":             {"Invalid 1 ", "no IAM mapping for s3:Frob"},
		"events.amazonaws.com": {"ImplicitlyDenied 1 ", "only the resource's policy can allow it"},
	}
	if len(got) != len(want) {
		t.Errorf("denials %v; want one for each of %v", got, want)
	}
	for p, ws := range want {
		for _, w := range ws {
			if !strings.Contains(got[p], w) {
				t.Errorf("%s's denial %q does not say %q", p, got[p], w)
			}
		}
	}
}

// TestUnusedGrantsAndReasons: the forwarder's grants no allowed request
// used are reported; each needs a reason, and a reason for a grant that
// is used (or gone) is stale.
func TestUnusedGrantsAndReasons(t *testing.T) {
	sim := iamsim.Require(t)
	s := load(t, golden(t), nil)
	rep := evaluate(t, sim, s, []Recorded{
		rec("forwarder", s3Call("GetObject", dataKey)),
		rec("forwarder", iam.Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "databricks/pipeline"}),
	})
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	objects := "arn:aws:s3:::" + bucket + "/cdc/table=*"
	logGroup := "arn:aws:logs:us-east-1:" + account + ":log-group:/aws/lambda/forwarder:*"
	want := []string{
		"forwarder forwarder/ListDataKeys s3:ListBucket arn:aws:s3:::" + bucket,
		"forwarder forwarder/ReadObjects s3:GetObjectVersion " + objects,
		"forwarder forwarder/SendFailedEvents sqs:SendMessage arn:aws:sqs:us-east-1:" + account + ":forwarder-failures",
		"forwarder forwarder/WriteLogs logs:CreateLogStream " + logGroup,
		"forwarder forwarder/WriteLogs logs:PutLogEvents " + logGroup,
	}
	if got := lines(rep.UnusedText()); !reflect.DeepEqual(got, want) {
		t.Errorf("unused grants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"exportconverter", "exportplanner", "streamer"}; !reflect.DeepEqual(rep.Unexercised, want) {
		t.Errorf("unexercised %v, want %v", rep.Unexercised, want)
	}
	reasons := func(lines ...string) string {
		path := filepath.Join(t.TempDir(), "unused-grants.txt")
		if err := os.WriteFile(path, []byte("# why each unused grant is kept\n\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var all []string
	for _, g := range want {
		all = append(all, g+" -- reached only under a fault the tests do not inject")
	}
	for _, p := range []string{"exportconverter", "exportplanner", "streamer"} {
		all = append(all, p+" * -- not run in this test")
	}
	used := "forwarder forwarder/ReadObjects s3:GetObject " + objects + " -- read every object"
	tests := []struct {
		name  string
		lines []string
		want  []string // in the error; none: no error
	}{
		{"every unused grant has a reason", all, nil},
		{"a missing reason fails", all[1:], []string{"1 unused grants have no reason", want[0] + " -- <why it is kept>"}},
		{"a stale reason fails", append(append([]string{}, all...), used), []string{"1 reasons name a grant that is used now or gone", "s3:GetObject " + objects}},
		{"a reason for a grant gone fails", append(append([]string{}, all...), "streamer streamer/Gone s3:PutObject * -- no longer granted"), []string{"streamer streamer/Gone"}},
		{"a line without a reason fails", append(append([]string{}, all...), want[0]), []string{"want <principal> <policy>/<sid> <action> <resource> -- <reason>"}},
		{"a grant given two reasons fails", append(append([]string{}, all...), all[0]), []string{"has a reason already on line 3"}},
		{"a principal that made no request needs a line", all[:len(all)-1], []string{"streamer * -- <why no request of it is recorded>"}},
		{"a line for a principal that made requests is stale", append(append([]string{}, all...), "forwarder * -- never runs"), []string{"forwarder * (it made requests, or is gone)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckUnused(rep, reasons(tc.lines...))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if err := CheckUnused(rep, filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Error("a missing reasons file passes")
	}
}

// TestTrustChecks: the deployed trust holds (the Unity Catalog role for
// Databricks with the external ID and for itself, each function for its
// rule, each dead-letter queue for its rule), and each planted fault makes
// a check fail.
func TestTrustChecks(t *testing.T) {
	sim := iamsim.Require(t)
	s := load(t, golden(t), nil)
	checks := TrustChecks(s)
	sim.Expect(t, checks)
	names := strings.Join(checkNames(checks), "\n")
	for _, w := range []string{
		"unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL assumes the role with the external ID",
		"unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL assumes the role without an external ID",
		"assumes the role with another external ID",
		"another principal (arn:aws:iam::111122223333:role/intruder)",
		"/self assumes the role with the external ID",
		"events.amazonaws.com invokes " + fnARN("forwarder") + " from " + ruleARN("forwarder-trigger"),
		"events.amazonaws.com invokes " + fnARN("exportplanner") + " from another source",
		"events.amazonaws.com sqs:SendMessage on arn:aws:sqs:us-east-1:" + account + ":forwarder-trigger-dead-letters from " + ruleARN("forwarder-trigger"),
		"lambda.amazonaws.com assumes the role",
	} {
		if !strings.Contains(names, w) {
			t.Errorf("no check %q among:\n%s", w, names)
		}
	}

	// removeCondition drops a condition from a statement of a resource's
	// policy document (prop) or, for a permission, a property.
	removeCondition := func(prefix, prop, sid, op string) plant {
		return func(t *testing.T, tpl, _ map[string]any) {
			props := templateResource(t, tpl, prefix)["Properties"].(map[string]any)
			for _, st := range props[prop].(map[string]any)["Statement"].([]any) {
				if stSid(st) == sid {
					delete(st.(map[string]any)["Condition"].(map[string]any), op)
					return
				}
			}
			t.Fatalf("%s has no statement %s", prefix, sid)
		}
	}
	tests := []struct {
		name  string
		plant plant
		want  string // a check that must fail
	}{
		{"the Unity Catalog trust without the external ID", removeCondition("PipelineDatabricksUnityCatalogRole", "AssumeRolePolicyDocument", "UnityCatalogAssumeRole", "StringEquals"),
			"UCMasterRole-14S5ZJVKOTYTL assumes the role without an external ID"},
		{"the self-assume statement for any principal of the account", removeCondition("PipelineDatabricksUnityCatalogRole", "AssumeRolePolicyDocument", "ExplicitSelfRoleAssumption", "ArnLike"),
			"another principal (arn:aws:iam::" + account + ":role/intruder) assumes the role with the external ID"},
		{"the forwarder's permission for any rule", func(t *testing.T, tpl, _ map[string]any) {
			delete(templateResource(t, tpl, "PipelineAllowTriggerToInvokeForwarder")["Properties"].(map[string]any), "SourceArn")
		}, "events.amazonaws.com invokes " + fnARN("forwarder") + " from another source"},
		{"the trigger's dead-letter queue for any rule", removeCondition("PipelineForwarderTriggerDeadLetterQueuePolicy", "PolicyDocument", "ForwarderTriggerDeadLetters", "ArnEquals"),
			"forwarder-trigger-dead-letters from another source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := golden(t)
			tc.plant(t, tpl, nil)
			failed := failingChecks(t, sim, TrustChecks(load(t, tpl, nil)))
			if len(failed) == 0 || !strings.Contains(strings.Join(failed, "\n"), tc.want) {
				t.Errorf("failing checks %v; want %q among them", failed, tc.want)
			}
		})
	}
}

func checkNames(checks []iamsim.Check) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.Name)
	}
	return out
}

// failingChecks are the checks whose decision is not the one wanted.
func failingChecks(t *testing.T, sim *iamsim.Simulator, checks []iamsim.Check) []string {
	t.Helper()
	reqs := make([]iamsim.Request, len(checks))
	for i, c := range checks {
		reqs[i] = c.Request
	}
	got, err := sim.Evaluate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, c := range checks {
		if got[i].Decision != c.Want {
			out = append(out, c.Name)
		}
	}
	return out
}

// TestEvaluateVolume evaluates more distinct requests than a long local
// run makes (every object key is its own request), and logs how long it
// took: Evaluate's comment gives the figure.
func TestEvaluateVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates 1,500 distinct requests")
	}
	sim := iamsim.Require(t)
	s := load(t, golden(t), nil)
	var recs []Recorded
	for i := 0; i < 1500; i++ {
		recs = append(recs, rec("streamer", s3Call("PutObject", fmt.Sprintf("cdc/table=Orders/dt=d1/hour=h1/batch-%d.jsonl.gz", i))))
	}
	start := time.Now()
	rep := evaluate(t, sim, s, recs)
	t.Logf("%d distinct requests evaluated in %v", rep.Requests, time.Since(start))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	// Each PutObject is an s3:PutObject and a kms:GenerateDataKey request
	// (the same for every key: one).
	if rep.Requests != 1501 || rep.Calls != 1500 {
		t.Errorf("%d requests for %d calls, want 1501 for 1500", rep.Requests, rep.Calls)
	}
}

// TestWildcardRequestNeedsAWildcardGrant: a request on "*" (ListExports
// without a table) is allowed by a statement granting it on "*", and is
// invalid when the only grant names one table, which the simulator alone
// would take as a match.
func TestWildcardRequestNeedsAWildcardGrant(t *testing.T) {
	sim := iamsim.Require(t)
	s := load(t, golden(t), nil)
	policy := func(resource string) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Sid": "ListExports", "Effect": "Allow", "Action": "dynamodb:ListExports", "Resource": resource}}}
	}
	table := "arn:aws:dynamodb:" + region + ":" + account + ":table/Orders"
	for _, tc := range []struct {
		principal, resource string
		want                iamsim.Decision // "" allowed
	}{
		{"wide", "*", ""},
		{"narrow", table, iamsim.Invalid},
	} {
		if err := s.AddOperator(tc.principal, policy(tc.resource)); err != nil {
			t.Fatal(err)
		}
		rep := evaluate(t, sim, s, []Recorded{rec(tc.principal, iam.Call{Service: "dynamodb", Operation: "ListExports"})})
		var got iamsim.Decision
		if len(rep.Denied) > 0 {
			got = rep.Denied[0].Decision
		}
		if got != tc.want {
			t.Errorf("ListExports granted on %s: got %q, want %q (%v)", tc.resource, got, tc.want, rep.Err())
		}
	}
}
