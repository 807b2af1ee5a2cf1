package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbstream/pipeline/internal/export/converter"
	"github.com/ddbstream/pipeline/internal/export/planner"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const (
	converterQueue    = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-converter-failures"
	plannerQueue      = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-planner-failures"
	exportTriggerDLQ  = "https://sqs.eu-west-1.amazonaws.com/123456789012/export-trigger-dlq"
	converterFunction = "DdbStreamPipeline-ExportConverter"
	plannerFunction   = "DdbStreamPipeline-ExportPlanner"
	exportArn         = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/01795449600123-5f1c2e3a"
	dataFile          = "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/abcdefghijklmnopqrstuvwxyz.json.gz"
	summaryKey        = "exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-summary.json"
)

// job is the converter's job for dataFile, as the planner sends it.
const job = `{"exportArn":"` + exportArn + `","exportTime":"2026-11-23T16:00:00Z","table":"Orders","partitionKey":"pk",` +
	`"bucket":"lake","dataFileKey":"` + dataFile + `","itemCount":3,"md5Checksum":"1B2M2Y8AsgTpgAmY7PhCfg=="}`

// fakeLambda answers synchronous invocations with a function's canned
// answer, noting each call.
type fakeLambda struct {
	mu      sync.Mutex
	calls   []invocation
	answers map[string]func(payload []byte) (answer []byte, functionError string)
}

type invocation struct {
	function, invocationType string
	payload                  []byte
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.FunctionName)
	f.calls = append(f.calls, invocation{function: name, invocationType: string(in.InvocationType), payload: in.Payload})
	answer, ok := f.answers[name]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + name)}
	}
	out, fnErr := answer(in.Payload)
	res := &lambda.InvokeOutput{StatusCode: 200, Payload: out}
	if fnErr != "" {
		res.FunctionError = aws.String(fnErr)
	}
	return res, nil
}

func exportWorld(t *testing.T, fl *fakeLambda) *world {
	t.Helper()
	w := newWorld(t)
	for _, u := range []string{converterQueue, plannerQueue, exportTriggerDLQ} {
		w.queues[u] = opsfake.NewQueue(u)
	}
	w.cfg.Sources = []Source{Export}
	w.cfg.ConverterQueueURL, w.cfg.PlannerQueueURLs = converterQueue, []string{plannerQueue, exportTriggerDLQ}
	w.cfg.ConverterFunction, w.cfg.PlannerFunction = converterFunction, plannerFunction
	w.clients.Lambda = fl
	return w
}

func converterWrote(key string) func([]byte) ([]byte, string) {
	return func([]byte) ([]byte, string) {
		return []byte(`{"key":"` + key + `","outcome":"written","items":3,"rows":3,"conversionErrors":0,"bytesIn":90,"textBytes":300,"bytesOut":120,"attempts":1}`), ""
	}
}

// TestExportConverterRedriveConvertsInAWS: a job the converter gave up
// on goes back to the deployed converter, synchronously, byte for byte;
// its message is deleted once the converter answers with its result.
func TestExportConverterRedriveConvertsInAWS(t *testing.T) {
	const key = "cdc/table=Orders/dt=2026-11-23/hour=15/snapshot-01795449600123.5f1c2e3a-abcdefghijklmnopqrstuvwxyz.jsonl.gz"
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){converterFunction: converterWrote(key)}}
	w := exportWorld(t, fl)
	w.queues[converterQueue].Send(invocationRecord(t, job))
	rep := w.run(t, nil)

	q := rep.Queues[0]
	m := q.Messages[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"queues drained", len(rep.Queues), 3},
		{"queue", q.QueueURL, converterQueue},
		{"invocations", len(fl.calls), 1},
		{"function", fl.calls[0].function, converterFunction},
		{"invocation type", fl.calls[0].invocationType, "RequestResponse"},
		{"payload is the job, verbatim", string(fl.calls[0].payload), job},
		{"outcome", m.Outcome, OutcomeRedriven},
		{"subject", m.Subject, "s3://lake/" + dataFile},
		{"keys", strings.Join(m.Keys, ","), key},
		{"detail", m.Detail, "written: 3 rows"},
		{"condition", m.Condition, "RetriesExhausted"},
		{"message deleted", len(w.queues[converterQueue].Bodies()), 0},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestExportConverterRedriveKeepsWhatFails: a function error, an unknown
// function, and messages that are not converter jobs keep their
// messages, visible again, and name the cause.
func TestExportConverterRedriveKeepsWhatFails(t *testing.T) {
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){converterFunction: func([]byte) ([]byte, string) {
		return []byte(`{"errorMessage":"convert s3://lake/` + dataFile + `: get data file: AccessDenied","errorType":"wrapError"}`), "Unhandled"
	}}}
	w := exportWorld(t, fl)
	w.queues[converterQueue].Send(invocationRecord(t, job))
	w.queues[converterQueue].Send(job)                                                // a job, not an invocation record
	w.queues[converterQueue].Send(invocationRecord(t, `{"exportArn":"x","extra":1}`)) // not a job
	w.queues[converterQueue].Send(invocationRecord(t, strings.Replace(job, `"itemCount":3`, `"itemCount":-1`, 1)))
	w.queues[converterQueue].Send(eventBridgeEvent(summaryKey, "e1", "01")) // a planner's event
	rep := w.run(t, nil)

	q := rep.Queues[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"failed", q.Failed, 1},
		{"not understood", q.NotUnderstood, 4},
		{"invoked only for the job", len(fl.calls), 1},
		{"error names the function and its error", strings.Contains(q.Messages[0].Error, converterFunction+" failed (Unhandled)") &&
			strings.Contains(q.Messages[0].Error, "AccessDenied"), true},
		{"a bare job", strings.Contains(q.Messages[1].Error, "neither an asynchronous invocation record nor an event"), true},
		{"an event", strings.Contains(q.Messages[4].Error, "not the converter's invocation record"), true},
		{"not a job", strings.Contains(q.Messages[2].Error, "not a converter job"), true},
		{"kept visible", w.queues[converterQueue].Visible(), 5},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}

	fl.answers = nil // the function is gone
	rep = w.run(t, nil)
	if m := rep.Queues[0].Messages[0]; m.Outcome != OutcomeFailed || !strings.Contains(m.Error, "Function not found") {
		t.Errorf("unknown function: outcome %q, error %q", m.Outcome, m.Error)
	}
}

// TestExportPlannerRedrive: an event the planner gave up on (its
// on-failure queue's invocation record) and one EventBridge could not
// deliver (the trigger's dead-letter queue holds the event itself) both
// go back to the deployed planner with the original event; a planner
// that still fails keeps its message.
func TestExportPlannerRedrive(t *testing.T) {
	event := eventBridgeEvent(summaryKey, "e1", "01")
	planned := 0
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){plannerFunction: func(payload []byte) ([]byte, string) {
		if planned++; planned == 3 {
			return []byte(`{"errorMessage":"export ` + exportArn + ` is IN_PROGRESS","errorType":"wrapError"}`), "Unhandled"
		}
		return []byte(`{"exports":[{"bucket":"lake","key":"` + summaryKey + `","exportArn":"` + exportArn + `","status":"COMPLETED","dataFiles":4,"items":3,"invoked":3}]}`), ""
	}}}
	w := exportWorld(t, fl)
	w.queues[plannerQueue].Send(invocationRecord(t, event))
	w.queues[exportTriggerDLQ].Send(event)
	w.queues[exportTriggerDLQ].Send(event)
	rep := w.run(t, nil)

	planner, dlq := rep.Queues[1], rep.Queues[2]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"planner queue", planner.QueueURL, plannerQueue},
		{"planner redriven", planner.Redriven, 1},
		{"dead letters redriven", dlq.Redriven, 1},
		{"dead letter kept", dlq.Failed, 1},
		{"every payload is the event", fl.calls[0].function == plannerFunction && string(fl.calls[0].payload) == event &&
			string(fl.calls[1].payload) == event, true},
		{"subject", planner.Messages[0].Subject, "s3://lake/" + summaryKey},
		{"detail", strings.Contains(planner.Messages[0].Detail, "3 converters started for 4 data files"), true},
		{"kept error", strings.Contains(dlq.Messages[1].Error, "IN_PROGRESS"), true},
		{"planner queue empty", len(w.queues[plannerQueue].Bodies()), 0},
		{"one dead letter left", w.queues[exportTriggerDLQ].Visible(), 1},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestExportDryRunInvokesNothing: a dry run reads the export queues and
// says what it would do, invokes and deletes nothing, and leaves every
// message visible again.
func TestExportDryRunInvokesNothing(t *testing.T) {
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){converterFunction: converterWrote("k")}}
	w := exportWorld(t, fl)
	w.queues[converterQueue].Send(invocationRecord(t, job))
	w.queues[plannerQueue].Send(invocationRecord(t, eventBridgeEvent(summaryKey, "e1", "01")))
	rep := w.run(t, func(c *Config) { c.DryRun = true })
	if len(fl.calls) != 0 || rep.Queues[0].WouldRedrive != 1 || rep.Queues[1].WouldRedrive != 1 ||
		w.queues[converterQueue].Visible() != 1 || w.queues[plannerQueue].Visible() != 1 {
		t.Errorf("calls %d, would redrive %d and %d, visible %d and %d: expect nothing invoked and both kept visible",
			len(fl.calls), rep.Queues[0].WouldRedrive, rep.Queues[1].WouldRedrive, w.queues[converterQueue].Visible(), w.queues[plannerQueue].Visible())
	}
	if m := rep.Queues[0].Messages[0]; m.Subject != "s3://lake/"+dataFile || !strings.Contains(m.Detail, converterFunction) {
		t.Errorf("dry run message: subject %q, detail %q", m.Subject, m.Detail)
	}
}

// TestExportMessagesOneAtATime: each export message is a synchronous
// invocation that may last Lambda's 15 minutes, so messages are received
// one at a time and hidden for longer than that; the other queues' are
// received ten at a time with the run's visibility.
func TestExportMessagesOneAtATime(t *testing.T) {
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){converterFunction: converterWrote("k")}}
	w := exportWorld(t, fl)
	w.queues[converterQueue].Send(invocationRecord(t, job))
	w.queues[converterQueue].Send(invocationRecord(t, strings.Replace(job, "abcdefghijklmnopqrstuvwxyz", "zyxwvutsrqponmlkjihgfedcba", 1)))
	rep := w.run(t, nil)
	if rep.Queues[0].Redriven != 2 {
		t.Fatalf("redriven %d, expect 2", rep.Queues[0].Redriven)
	}
	for i, in := range w.queues[converterQueue].ReceiveInputs {
		if in.MaxNumberOfMessages != 1 || in.VisibilityTimeout < 15*60+1 {
			t.Errorf("receive %d: %d messages hidden %ds; expect 1, hidden for more than 900s", i, in.MaxNumberOfMessages, in.VisibilityTimeout)
		}
	}
	w.queues[streamerQueue].Send("{}")
	w.run(t, func(c *Config) { c.Sources = []Source{Streamer} })
	if in := w.queues[streamerQueue].ReceiveInputs[0]; in.MaxNumberOfMessages != 10 || in.VisibilityTimeout != 15*60 {
		t.Errorf("streamer queue receive: %d messages hidden %ds; expect 10 with the run's visibility", in.MaxNumberOfMessages, in.VisibilityTimeout)
	}
}

// TestExportAnswerFromAnotherFunctionKeepsTheMessage: a function that
// answers without an error but not with the converter's result or the
// planner's response (a wrong --converter-function) converted nothing
// that redrive can tell: the message is kept.
func TestExportAnswerFromAnotherFunctionKeepsTheMessage(t *testing.T) {
	other := func([]byte) ([]byte, string) { return []byte(`{}`), "" }
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){converterFunction: other, plannerFunction: other}}
	w := exportWorld(t, fl)
	w.queues[converterQueue].Send(invocationRecord(t, job))
	w.queues[plannerQueue].Send(invocationRecord(t, eventBridgeEvent(summaryKey, "e1", "01")))
	rep := w.run(t, nil)
	for i, name := range []string{"converter", "planner"} {
		m := rep.Queues[i].Messages[0]
		if m.Outcome != OutcomeFailed || !strings.Contains(m.Error, "is it the export "+name) {
			t.Errorf("%s: outcome %q, error %q; expect failed, asking whether it is the %s", name, m.Outcome, m.Error, name)
		}
	}
	if len(w.queues[converterQueue].Bodies()) != 1 || len(w.queues[plannerQueue].Bodies()) != 1 {
		t.Error("a message was deleted")
	}
}

// TestDeadLetterSaysWhyEventBridgeGaveUp: EventBridge's ERROR_CODE and
// ERROR_MESSAGE attributes on a dead-letter message are the report's
// condition and last error.
func TestDeadLetterSaysWhyEventBridgeGaveUp(t *testing.T) {
	fl := &fakeLambda{answers: map[string]func([]byte) ([]byte, string){plannerFunction: func([]byte) ([]byte, string) {
		return []byte(`{"exports":[{"bucket":"lake","key":"` + summaryKey + `","exportArn":"` + exportArn + `","status":"COMPLETED","dataFiles":1,"items":3,"invoked":1}]}`), ""
	}}}
	w := exportWorld(t, fl)
	w.queues[exportTriggerDLQ].SendWithAttributes(eventBridgeEvent(summaryKey, "e1", "01"), map[string]string{
		"RULE_ARN": "arn:aws:events:eu-west-1:123456789012:rule/planner", "ERROR_CODE": "NO_PERMISSIONS",
		"ERROR_MESSAGE": "No permissions to invoke the target"})
	rep := w.run(t, nil)
	m := rep.Queues[2].Messages[0]
	if m.Outcome != OutcomeRedriven || m.Condition != "EventBridge: NO_PERMISSIONS" || m.LastError != "No permissions to invoke the target" {
		t.Errorf("outcome %q, condition %q, last error %q", m.Outcome, m.Condition, m.LastError)
	}
}

// TestExportRedriveNeedsItsFunctions: export queues without the function
// to invoke are refused before any message is received; no export
// queues at all (a stack from before backfill) is nothing to do.
func TestExportRedriveNeedsItsFunctions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config, *Clients)
		expect string
	}{
		{"no converter function", func(c *Config, _ *Clients) { c.ConverterFunction = "" }, "ExportConverterFunctionName"},
		{"no planner function", func(c *Config, _ *Clients) { c.PlannerFunction = "" }, "ExportPlannerFunctionName"},
		{"no Lambda client", func(_ *Config, cl *Clients) { cl.Lambda = nil }, "no Lambda client"},
	} {
		w := exportWorld(t, &fakeLambda{})
		w.queues[converterQueue].Send(invocationRecord(t, job))
		cfg, cl := w.cfg, w.clients
		tc.mutate(&cfg, &cl)
		_, err := Run(context.Background(), cfg, cl)
		var re *Error
		if !errors.As(err, &re) || !strings.Contains(re.Error()+re.Remedy, tc.expect) {
			t.Errorf("%s: got %v, expect an *Error naming %q", tc.name, err, tc.expect)
		}
		if n := w.queues[converterQueue].Receives; n != 0 {
			t.Errorf("%s: %d receives; expect none before the settings are checked", tc.name, n)
		}
	}
	w := exportWorld(t, &fakeLambda{})
	w.cfg.ConverterQueueURL, w.cfg.PlannerQueueURLs = "", nil
	if rep := w.run(t, nil); len(rep.Queues) != 0 {
		t.Errorf("no export queues: got %d queue reports, expect none", len(rep.Queues))
	}
}

// TestAnswersAreTheFunctionsOwn: the converter's Result and the planner's
// Response, as the functions marshal them, read back into what redrive
// reports.
func TestAnswersAreTheFunctionsOwn(t *testing.T) {
	res := converter.Result{Key: "k", ErrorsKey: "e", Outcome: converter.OutcomeAlreadyWritten, Rows: 7, ConversionErrors: 2}
	b, _ := json.Marshal(res)
	var got converterAnswer
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if expect := (converterAnswer{Key: "k", ErrorsKey: "e", Outcome: alreadyWritten, Rows: 7, ConversionErrors: 2}); got != expect {
		t.Errorf("converter answer: got %+v, expect %+v", got, expect)
	}
	if own := []string{converter.OutcomeWritten, converter.OutcomeAlreadyWritten, converter.OutcomeEmpty}; !slices.Equal(converterOutcomes, own) {
		t.Errorf("converter outcomes: got %v, expect the converter's %v", converterOutcomes, own)
	}
	resp := planner.Response{Exports: []planner.ExportResult{{Key: "s", ExportArn: "a", Status: "COMPLETED", DataFiles: 4, Invoked: 3, Skipped: "x"}}}
	b, _ = json.Marshal(resp)
	var p plannerAnswer
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Exports) != 1 {
		t.Fatalf("planner answer: %+v", p)
	}
	e := p.Exports[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{{"key", e.Key, "s"}, {"exportArn", e.ExportArn, "a"}, {"status", e.Status, "COMPLETED"}, {"dataFiles", e.DataFiles, 4},
		{"invoked", e.Invoked, 3}, {"skipped", e.Skipped, "x"}} {
		if c.got != c.expect {
			t.Errorf("planner answer %s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}
