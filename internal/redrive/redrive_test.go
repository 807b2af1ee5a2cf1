package redrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/streamer"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const (
	streamerQueue  = "https://sqs.eu-west-1.amazonaws.com/123456789012/streamer-failures"
	forwarderQueue = "https://sqs.eu-west-1.amazonaws.com/123456789012/forwarder-failures"
	triggerQueue   = "https://sqs.eu-west-1.amazonaws.com/123456789012/forwarder-trigger-dlq"
	bucket         = "lake"
	patToken       = "dapi-redrive-test"
)

var created = time.Date(2026, 11, 23, 17, 4, 5, 0, time.UTC)

// world is the account a redrive runs against.
type world struct {
	queues  opsfake.Queues
	stream  *fakeStream
	bucket  *opsfake.Bucket
	secret  *opsfake.Secret
	ws      *fakedatabricks.Workspace
	srv     *httptest.Server
	cfg     Config
	clients Clients
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		queues: opsfake.Queues{streamerQueue: opsfake.NewQueue(streamerQueue), forwarderQueue: opsfake.NewQueue(forwarderQueue),
			triggerQueue: opsfake.NewQueue(triggerQueue)},
		stream: &fakeStream{},
		bucket: opsfake.NewBucket(bucket),
		ws:     fakedatabricks.New(fakedatabricks.WithToken(patToken)),
	}
	w.srv = httptest.NewTLSServer(w.ws)
	t.Cleanup(w.srv.Close)
	w.secret = opsfake.NewSecret(`{"host":"` + w.srv.URL + `","token":"` + patToken + `"}`)
	sc := streamer.DefaultConfig()
	sc.Bucket = bucket
	fc, err := forwarder.ConfigFromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42",
			"KEY_PREFIX": "cdc/table="}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = Config{
		StreamerQueueURL: streamerQueue, ForwarderQueueURLs: []string{forwarderQueue, triggerQueue},
		Streamer: &sc, Forwarder: &fc, Wait: -1, MaxEmptyReads: 3,
		DatabricksOptions: []databricks.Option{databricks.WithHTTPClient(w.srv.Client()),
			databricks.WithSleep(func(context.Context, time.Duration) error { return nil })},
	}
	w.clients = Clients{Queue: w.queues, Stream: w.stream, S3: w.bucket, Secrets: w.secret}
	return w
}

func (w *world) run(t *testing.T, mutate func(*Config)) Report {
	t.Helper()
	cfg := w.cfg
	if mutate != nil {
		mutate(&cfg)
	}
	rep, err := Run(context.Background(), cfg, w.clients)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func streamerOnly(c *Config)  { c.Sources = []Source{Streamer} }
func forwarderOnly(c *Config) { c.Sources = []Source{Forwarder} }

func dataKey(first, last string) string {
	return objectkey.Data(objectkey.Batch{Prefix: "cdc", Table: "Orders", Stream: "2026-11-01T00:00:00.000",
		FirstSequence: first, LastSequence: last, Created: created})
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestStreamerRedriveWritesTheBatchUnderItsKey: the range is read from
// its first sequence number to its last, across pages and empty reads,
// written through the streamer under the key the streamer derives from
// the batch, and only then is the message deleted.
func TestStreamerRedriveWritesTheBatchUnderItsKey(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 30, created) // 100..129
	w.stream.pageSize, w.stream.emptyEvery = 4, 3
	w.queues[streamerQueue].Send(failureRecord(seq(105), seq(114), 10))

	rep := w.run(t, streamerOnly)

	key := dataKey(seq(105), seq(114))
	q := rep.Queues[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"received", q.Received, 1},
		{"redriven", q.Redriven, 1},
		{"deleted", q.Deleted, 1},
		{"problems", rep.Problems(), 0},
		{"keys", strings.Join(q.Messages[0].Keys, ","), key},
		{"records", q.Messages[0].Records, 10},
		{"condition", q.Messages[0].Condition, "RetryAttemptsExhausted"},
		{"queue left", len(w.queues[streamerQueue].Bodies()), 0},
		{"objects", strings.Join(w.bucket.Keys(), ","), key},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
	body, _ := w.bucket.Object(key)
	lines := strings.Split(strings.TrimSpace(gunzip(t, body)), "\n")
	if len(lines) != 10 || !strings.Contains(lines[0], `"sequenceNumber":"`+seq(105)+`"`) || !strings.Contains(lines[0], `"price":19.990`) {
		t.Errorf("object holds %d lines, first %s", len(lines), lines[0])
	}
}

// TestStreamerRedriveTwiceChangesNothing: a batch already durable (an
// earlier redrive, or the streamer's own write before a crash) lands on
// the same key, S3 answers 412, and nothing is duplicated.
func TestStreamerRedriveTwiceChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 5, created)
	body := failureRecord(seq(100), seq(104), 5)
	w.queues[streamerQueue].Send(body)
	first := w.run(t, streamerOnly)
	w.queues[streamerQueue].Send(body) // the same record again
	second := w.run(t, streamerOnly)

	key := dataKey(seq(100), seq(104))
	m1, m2 := first.Queues[0].Messages[0], second.Queues[0].Messages[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"first keys", strings.Join(m1.Keys, ","), key},
		{"second keys", strings.Join(m2.Keys, ","), key},
		{"second found existing", strings.Join(m2.Existing, ","), key},
		{"second outcome", m2.Outcome, OutcomeRedriven},
		{"puts accepted", w.bucket.Puts, 1},
		{"412 answers", strings.Join(w.bucket.Conflicts, ","), key},
		{"objects", len(w.bucket.Keys()), 1},
		{"queue left", len(w.queues[streamerQueue].Bodies()), 0},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestStreamerRedriveKeepsWhatItCannotMakeDurable: a message is deleted
// only after its records are durable. A range past the retention, a
// failing write, a body that is not a failure record and a range that
// does not hold what the record says are each kept, reported, and made
// visible again.
func TestStreamerRedriveKeepsWhatItCannotMakeDurable(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*world)
		body    string
		outcome string
		reason  string
	}{
		{"past retention", func(w *world) { w.stream.trimmed = seq(200) }, failureRecord(seq(100), seq(104), 5),
			OutcomeUnreadable, "TrimmedDataAccessException"},
		{"stream gone", nil, strings.Replace(failureRecord(seq(100), seq(104), 5), shardID, "shardId-gone", 1),
			OutcomeUnreadable, "ResourceNotFoundException"},
		{"write fails", func(w *world) {
			w.bucket.FailPut = func(string) error { return &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"} }
		}, failureRecord(seq(100), seq(104), 5), OutcomeFailed, "not durable"},
		{"size differs", nil, failureRecord(seq(100), seq(104), 7), OutcomeFailed, "the message says 7"},
		{"end missing", func(w *world) { w.stream.closed = true }, failureRecord(seq(100), seq(120), 21), OutcomeFailed, "ended before"},
		{"not a failure record", nil, `{"hello":"world"}`, OutcomeNotUnderstood, "shardId is missing"},
		{"not JSON", nil, `nope`, OutcomeNotUnderstood, "not an event source mapping on-failure record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.stream.add(100, 10, created)
			if tc.setup != nil {
				tc.setup(w)
			}
			w.queues[streamerQueue].Send(tc.body)
			rep := w.run(t, streamerOnly)
			m := rep.Queues[0].Messages[0]
			for _, c := range []struct {
				field       string
				got, expect any
			}{
				{"outcome", m.Outcome, tc.outcome},
				{"reason given", strings.Contains(m.Error, tc.reason), true},
				{"problems", rep.Problems(), 1},
				{"deleted", w.queues[streamerQueue].Deletes, 0},
				{"kept and visible again", w.queues[streamerQueue].Visible(), 1},
				{"released", rep.Queues[0].Released, 1},
				{"objects", len(w.bucket.Keys()), 0},
			} {
				if c.got != c.expect {
					t.Errorf("%s: got %v, expect %v (error %q)", c.field, c.got, c.expect, m.Error)
				}
			}
		})
	}
}

// TestDryRunChangesNothing: a dry run reads the stream and shows the
// keys and objects, writes nothing, delivers nothing, deletes nothing and
// leaves every message visible.
func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 5, created)
	w.queues[streamerQueue].Send(failureRecord(seq(100), seq(104), 5))
	w.stream.trimmed = "" // readable
	k := "cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz"
	w.bucket.Put(k, []byte("data\n"))
	w.queues[forwarderQueue].Send(invocationRecord(t, eventBridgeEvent(k, opsfake.ETag([]byte("data\n")), "0055AED6DCD90281E5")))

	rep := w.run(t, func(c *Config) { c.DryRun = true })

	if len(rep.Queues) != 3 {
		t.Fatalf("queues: got %d, expect 3", len(rep.Queues))
	}
	s, f := rep.Queues[0].Messages[0], rep.Queues[1].Messages[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"streamer outcome", s.Outcome, OutcomeWouldRedrive},
		{"streamer keys", strings.Join(s.Keys, ","), dataKey(seq(100), seq(104))},
		{"forwarder outcome", f.Outcome, OutcomeWouldRedrive},
		{"forwarder objects", len(f.Objects), 1},
		{"forwarder object", f.Objects[0].Key, k},
		{"puts", w.bucket.Puts, 0},
		{"objects", len(w.bucket.Keys()), 1},
		{"job runs", len(w.ws.Runs()), 0},
		{"workspace requests", len(w.ws.Requests()), 0},
		{"streamer queue visible", w.queues[streamerQueue].Visible(), 1},
		{"forwarder queue visible", w.queues[forwarderQueue].Visible(), 1},
		{"deletes", w.queues[streamerQueue].Deletes + w.queues[forwarderQueue].Deletes, 0},
		{"problems", rep.Problems(), 0},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// eventBridgeEvent is S3's "Object Created" event as EventBridge
// delivers it to the forwarder.
func eventBridgeEvent(key, etag, sequencer string) string {
	return `{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",` +
		`"account":"123456789012","time":"2026-11-23T17:04:06Z","region":"eu-west-1","resources":["arn:aws:s3:::` + bucket + `"],` +
		`"detail":{"version":"0","bucket":{"name":"` + bucket + `"},"object":{"key":"` + key + `","size":5,"etag":"` + etag +
		`","sequencer":"` + sequencer + `"},"request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","reason":"PutObject"}}`
}

// invocationRecord is Lambda's asynchronous invocation record for an
// event the forwarder failed, as its on-failure queue receives it.
func invocationRecord(t *testing.T, event string) string {
	t.Helper()
	rec := map[string]any{
		"version":   "1.0",
		"timestamp": "2026-11-23T17:10:47.333Z",
		"requestContext": map[string]any{"requestId": "8ea123e4-1db7-4aca-ad10-d9ca1234c1fd",
			"functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:forwarder:$LATEST", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
		"requestPayload":  json.RawMessage(event),
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorMessage": "1 of 1 objects not delivered: databricks run job: HTTP 503", "errorType": "wrapError"},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestForwarderRedriveOneJobRunPerObject: the forwarder's failures are
// delivered again by the forwarder's own code. The same event redriven
// twice (it sat in both the on-failure queue and the trigger's
// dead-letter queue, and a later run meets it again) starts one job run
// per object: the original event keeps its idempotency token.
func TestForwarderRedriveOneJobRunPerObject(t *testing.T) {
	w := newWorld(t)
	var events []string
	for i, name := range []string{"a", "b"} {
		k := "cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-" + seq(int64(100+10*i)) + "-" + seq(int64(109+10*i)) + ".jsonl.gz"
		body := []byte(name + "\n")
		w.bucket.Put(k, body)
		events = append(events, eventBridgeEvent(k, opsfake.ETag(body), "0055AED6DCD9028"+name))
	}
	w.queues[forwarderQueue].Send(invocationRecord(t, events[0]))
	w.queues[forwarderQueue].Send(invocationRecord(t, events[1]))
	w.queues[triggerQueue].Send(events[0]) // the dead-letter queue holds the event itself
	first := w.run(t, forwarderOnly)
	w.queues[forwarderQueue].Send(invocationRecord(t, events[1]))
	second := w.run(t, forwarderOnly)

	runs := w.ws.Runs()
	var keys []string
	for _, r := range runs {
		keys = append(keys, r.Params["key"])
	}
	slices.Sort(keys)
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"job runs", len(runs), 2},
		{"distinct objects run", len(slices.Compact(keys)), 2},
		{"first redriven", first.Queues[0].Redriven + first.Queues[1].Redriven, 3},
		{"second redriven", second.Queues[0].Redriven, 1},
		{"problems", first.Problems() + second.Problems(), 0},
		{"last error kept in report", strings.Contains(first.Queues[0].Messages[0].LastError, "HTTP 503"), true},
		{"object outcome", first.Queues[0].Messages[0].Objects[0].Result, "delivered"},
		{"queues empty", len(w.queues[forwarderQueue].Bodies()) + len(w.queues[triggerQueue].Bodies()), 0},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestForwarderRedriveKeepsUndelivered: an object Databricks refuses
// keeps its message; one that no longer exists is skipped, as the
// forwarder skips it, and its message goes; a payload the forwarder
// cannot read is kept.
func TestForwarderRedriveKeepsUndelivered(t *testing.T) {
	w := newWorld(t)
	k := "cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz"
	w.bucket.Put(k, []byte("x\n"))
	w.ws.Inject(fakedatabricks.Fault{PathPrefix: "/api/2.1/jobs/run-now", Status: 400, ErrorCode: "INVALID_PARAMETER_VALUE", Times: 10})
	w.queues[forwarderQueue].Send(invocationRecord(t, eventBridgeEvent(k, opsfake.ETag([]byte("x\n")), "01")))
	w.queues[forwarderQueue].Send(invocationRecord(t, eventBridgeEvent("cdc/table=Orders/dt=2026-11-23/hour=17/gone-1-2.jsonl.gz", "e", "02")))
	w.queues[forwarderQueue].Send(invocationRecord(t, `{"not":"an event"}`))
	rep := w.run(t, forwarderOnly)

	q := rep.Queues[0]
	outcomes := map[string]string{}
	for _, m := range q.Messages {
		key := ""
		if len(m.Objects) > 0 {
			key = m.Objects[0].Key
		}
		outcomes[key] = m.Outcome
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"refused object", outcomes[k], OutcomeFailed},
		{"gone object", outcomes["cdc/table=Orders/dt=2026-11-23/hour=17/gone-1-2.jsonl.gz"], OutcomeRedriven},
		{"not an event", outcomes[""], OutcomeNotUnderstood},
		{"problems", q.Problems(), 2},
		{"kept visible", w.queues[forwarderQueue].Visible(), 2},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestDeleteFailureIsReported: the work is done, but a message that
// could not be deleted is reported and kept; the next run finds the work
// done already.
func TestDeleteFailureIsReported(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 3, created)
	w.queues[streamerQueue].Send(failureRecord(seq(100), seq(102), 3))
	w.queues[streamerQueue].FailDelete = &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sqs:DeleteMessage"}
	rep := w.run(t, streamerOnly)
	if m := rep.Queues[0].Messages[0]; m.Outcome != OutcomeNotDeleted || !strings.Contains(m.Error, "sqs:DeleteMessage") {
		t.Errorf("outcome %q, error %q; expect %q naming the call", m.Outcome, m.Error, OutcomeNotDeleted)
	}
	if len(w.bucket.Keys()) != 1 || w.queues[streamerQueue].Visible() != 1 {
		t.Errorf("objects %v, visible messages %d; expect the batch written and the message kept", w.bucket.Keys(), w.queues[streamerQueue].Visible())
	}
}

func TestRunRefusesMissingSettings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		expect string
	}{
		{"no streamer queue", func(c *Config) { c.StreamerQueueURL = "" }, "no streamer on-failure queue"},
		{"no streamer settings", func(c *Config) { c.Streamer = nil }, "streamer's settings are unknown"},
		{"no forwarder settings", func(c *Config) { c.Forwarder = nil; c.Sources = []Source{Forwarder} }, "forwarder's settings are unknown"},
		{"unknown source", func(c *Config) { c.Sources = []Source{"exporter"} }, "unknown source"},
	}
	for _, tc := range tests {
		w := newWorld(t)
		cfg := w.cfg
		tc.mutate(&cfg)
		_, err := Run(context.Background(), cfg, w.clients)
		var re *Error
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.expect) {
			t.Errorf("%s: got %v, expect an *Error containing %q", tc.name, err, tc.expect)
		}
	}
}

// TestSettingsFromTheDeployedFunctions: without settings given, the
// streamer's and the forwarder's are read from the deployed functions'
// environments, through their own ConfigFromEnv.
func TestSettingsFromTheDeployedFunctions(t *testing.T) {
	w := newWorld(t)
	w.clients.Functions = opsfake.Functions{
		"stack-Streamer": {ARN: "arn:aws:lambda:eu-west-1:123456789012:function:stack-Streamer",
			Env: map[string]string{"BUCKET_NAME": bucket, "S3_PREFIX": "lake-prefix", "IMAGE_FORMAT": "dynamodb"}},
		"stack-Forwarder": {ARN: "arn:aws:lambda:eu-west-1:123456789012:function:stack-Forwarder",
			Env: map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "7"}},
	}
	w.stream.add(100, 2, created)
	w.queues[streamerQueue].Send(failureRecord(seq(100), seq(101), 2))
	k := "cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz"
	w.bucket.Put(k, []byte("x\n"))
	w.queues[forwarderQueue].Send(invocationRecord(t, eventBridgeEvent(k, opsfake.ETag([]byte("x\n")), "01")))
	rep := w.run(t, func(c *Config) {
		c.Streamer, c.Forwarder = nil, nil
		c.StreamerFunction, c.ForwarderFunction = "stack-Streamer", "stack-Forwarder"
	})
	if rep.Problems() != 0 {
		t.Fatalf("problems: %+v", rep)
	}
	keys := w.bucket.Keys()
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "lake-prefix/table=Orders/") }) {
		t.Errorf("objects %v; expect one under the deployed streamer's prefix", keys)
	}
	if runs := w.ws.Runs(); len(runs) != 1 || runs[0].JobID != 7 {
		t.Errorf("runs %+v; expect one of the deployed forwarder's job 7", runs)
	}
	_, err := Run(context.Background(), Config{Sources: []Source{Streamer}, StreamerQueueURL: streamerQueue, StreamerFunction: "nope"}, w.clients)
	if err == nil || !strings.Contains(err.Error(), "Function not found") {
		t.Errorf("unknown function: got %v", err)
	}
}

// TestExpiredIteratorResumesAfterTheLastRecordRead: an iterator that
// expires mid-range (they live 15 minutes) is replaced once, after the
// last record read, and the batch is still read whole.
func TestExpiredIteratorResumesAfterTheLastRecordRead(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 12, created)
	w.stream.pageSize, w.stream.expireAt = 4, 2
	w.queues[streamerQueue].Send(failureRecord(seq(100), seq(111), 12))
	rep := w.run(t, streamerOnly)
	if m := rep.Queues[0].Messages[0]; m.Outcome != OutcomeRedriven || m.Records != 12 {
		t.Errorf("outcome %q with %d records (%s); expect the 12 records redriven", m.Outcome, m.Records, m.Error)
	}
}

// TestStreamerReportDoesNotReadLogs: the keys a redrive reports come from
// the streamer's own account of its writes, not from its log lines: with a
// streamer whose log goes nowhere, the report still names the key written
// and, on a second redrive, the key S3 already held.
func TestStreamerReportDoesNotReadLogs(t *testing.T) {
	w := newWorld(t)
	w.stream.add(100, 5, created)
	cfg := w.cfg
	cfg.defaults()
	r := &run{cfg: cfg, queue: w.queues, stream: w.stream, clients: w.clients}
	ctx := context.Background()
	if err := r.streamerHandlers(ctx); err != nil {
		t.Fatal(err)
	}
	quiet, err := streamer.New(w.bucket, *r.cfg.Streamer, function.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	r.writer = quiet
	m := sqstypes.Message{MessageId: aws.String("m-1"), Body: aws.String(failureRecord(seq(100), seq(104), 5))}
	first, ok1 := r.streamerMessage(ctx, m)
	second, ok2 := r.streamerMessage(ctx, m)

	key := dataKey(seq(100), seq(104))
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"first done", ok1, true},
		{"first keys", strings.Join(first.Keys, ","), key},
		{"first existing", strings.Join(first.Existing, ","), ""},
		{"second done", ok2, true},
		{"second keys", strings.Join(second.Keys, ","), key},
		{"second existing", strings.Join(second.Existing, ","), key},
		{"objects", strings.Join(w.bucket.Keys(), ","), key},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}
