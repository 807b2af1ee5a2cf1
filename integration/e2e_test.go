package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/replay/errorlist"
	"github.com/ddbstream/pipeline/internal/testing/authz"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// startPipeline starts a local pipeline for one test. Without the tools
// the test is skipped, unless INTEGRATION_REQUIRED is set (make test and
// CI set it, after installing the tools), where it fails.
func startPipeline(t *testing.T, opts Options) *Pipeline {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindTools(root); err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	opts.Root, opts.WorkDir, opts.FunctionsDir = root, t.TempDir(), sharedFunctions(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		recorded.add(p.Recorded(t.Name()))
		if t.Failed() {
			t.Logf("streamer log tail:\n%s", tail(p.StreamerLogs.String(), 3000))
			t.Logf("forwarder log tail:\n%s", tail(p.ForwarderLogs.String(), 3000))
			t.Logf("export planner log tail:\n%s", tail(p.PlannerLogs.String(), 3000))
			t.Logf("export converter log tail:\n%s", tail(p.ConverterLogs.String(), 3000))
		}
	})
	return p
}

// functions are the bootstraps every test's pipeline runs, built once.
var functions struct {
	once sync.Once
	dir  string
	err  error
}

// sharedFunctions builds the functions on the first call and returns
// their directory; TestMain removes it.
func sharedFunctions(t *testing.T, root string) string {
	t.Helper()
	functions.once.Do(func() {
		if functions.dir, functions.err = os.MkdirTemp("", "ddbstream-functions-*"); functions.err == nil {
			_, functions.err = BuildFunctions(root, functions.dir)
		}
	})
	if functions.err != nil {
		t.Fatal(functions.err)
	}
	return functions.dir
}

// recorded gathers the AWS requests every test's pipeline made, which
// TestMain evaluates once all have run.
var recorded recordedRequests

type recordedRequests struct {
	mu   sync.Mutex
	recs []authz.Recorded
}

func (r *recordedRequests) add(recs []authz.Recorded) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, recs...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if functions.dir != "" {
		_ = os.RemoveAll(functions.dir)
	}
	if code == 0 && len(recorded.recs) > 0 {
		start := time.Now()
		if err := authorizeRecorded(recorded.recs); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: the recorded AWS requests:", err)
			code = 1
		}
		fmt.Printf("authz: evaluated in %s\n", time.Since(start).Round(time.Millisecond))
	}
	os.Exit(code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// run writes changes, drains the pipeline and verifies it. The deadline
// is a safety net for a pipeline that never drains; Drain itself waits on
// the parts' progress, not on time.
func run(t *testing.T, p *Pipeline, changes int) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	load, err := Generate(ctx, p.DynamoDB, p.Opts.Table, changes, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Drain(ctx, load.Total, func(s Status) { t.Logf("progress: %+v", s) }); err != nil {
		t.Fatal(err)
	}
	r, err := p.Verify(ctx, load)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	return r
}

func requireExactlyOnce(t *testing.T, r Report) {
	t.Helper()
	if !r.ExactlyOnce {
		t.Fatalf("not exactly once:\n%s", r)
	}
}

// expectation is one checked number of a test's outcome.
type expectation struct {
	field       string
	got, expect int
	// atLeast accepts got >= expect; otherwise got must equal expect.
	atLeast bool
}

// check reports each field that misses its expectation, with its
// expected and actual values, and reports whether all were met.
func check(t *testing.T, es ...expectation) bool {
	t.Helper()
	ok := true
	for _, e := range es {
		switch {
		case e.atLeast && e.got < e.expect:
			t.Errorf("%s: got %d, expect at least %d", e.field, e.got, e.expect)
			ok = false
		case !e.atLeast && e.got != e.expect:
			t.Errorf("%s: got %d, expect %d", e.field, e.got, e.expect)
			ok = false
		}
	}
	return ok
}

func TestEveryChangeArrivesExactlyOnce(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 200})
	r := run(t, p, 2000)
	requireExactlyOnce(t, r)
	check(t,
		expectation{field: "objects", got: r.Objects, expect: 2, atLeast: true},
		expectation{field: "error objects", got: r.ErrorObjects, expect: 0},
	)
	if strings.Contains(p.ForwarderLogs.String(), "local-token") {
		t.Error("the Databricks token appears in the forwarder's logs")
	}
}

func TestS3SlowDownLosesNothing(t *testing.T) {
	const attempts = 2 // the SDK's, per write
	p := startPipeline(t, Options{BatchSize: 100, StreamerEnv: map[string]string{"S3_MAX_ATTEMPTS": strconv.Itoa(attempts)}})
	// S3 slows down for the first writes: with the SDK's attempts per
	// write, the first invocations fail every attempt and report their
	// first unwritten record. The streamer writes one object at a time, so
	// a count of writes, unlike a time window, fails the same invocations
	// however slow the machine.
	const failedInvocations = 3
	p.S3Faults.SlowDownNext(failedInvocations * attempts)
	r := run(t, p, 1500)
	requireExactlyOnce(t, r)
	check(t,
		expectation{field: "SlowDown answers", got: p.S3Faults.SlowedDown(), expect: failedInvocations * attempts},
		expectation{field: "partial batch failures", got: p.Poller.Stats().PartialFailures, expect: 1, atLeast: true},
	)
	if !strings.Contains(p.StreamerLogs.String(), `"retryFrom"`) {
		t.Error("the streamer did not report the first unwritten record")
	}
}

func TestStreamerKilledMidWriteLosesNothing(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150})
	p.S3Faults.HoldPuts(3, p.Streamer.Kill) // three crashes while the object is being written
	r := run(t, p, 1500)
	requireExactlyOnce(t, r)
	check(t,
		expectation{field: "function errors (the crashes)", got: p.Poller.Stats().FunctionErrors, expect: 3, atLeast: true},
		expectation{field: "cold starts", got: p.Streamer.ColdStarts(), expect: 4, atLeast: true},
	)
}

func TestStreamerKilledAfterWriteLosesNothing(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150})
	p.S3Faults.AfterPuts(3, p.Streamer.Kill) // three crashes after the object was durable
	r := run(t, p, 1500)
	requireExactlyOnce(t, r)
	check(t,
		expectation{field: "function errors (the crashes)", got: p.Poller.Stats().FunctionErrors, expect: 3, atLeast: true},
		// The retries of those batches found their objects already written.
		expectation{field: "retries that recognised their durable object",
			got: strings.Count(p.StreamerLogs.String(), "object already written by an earlier attempt"), expect: 3, atLeast: true},
	)
}

// TestBisectAfterDurableWriteDuplicates documents why bisectOnError is off:
// a bisected retry of a batch whose object is durable writes its records
// again under new keys. Nothing is lost; the duplicates are the same
// records, with the same sequence numbers, for downstream de-duplication.
func TestBisectAfterDurableWriteDuplicates(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150, BisectOnError: true})
	// The crash follows the first data object of two records or more:
	// only such a batch can be bisected (one record is retried whole,
	// under its key).
	p.S3Faults.AfterPutsOf(1, func(key string) bool {
		k, err := objectkey.Parse(key)
		return err == nil && !k.Errors && k.FirstSequence != k.LastSequence
	}, p.Streamer.Kill)
	r := run(t, p, 600)
	if !check(t,
		expectation{field: "missing", got: r.Missing, expect: 0},
		expectation{field: "out of order", got: r.OutOfOrder, expect: 0},
		expectation{field: "unexpected", got: r.Unexpected, expect: 0},
		expectation{field: "inexact numbers", got: r.InexactNumbers, expect: 0},
		expectation{field: "distinct records in S3", got: r.RecordsInS3 - r.Duplicates, expect: r.Changes},
	) {
		t.Fatalf("bisect lost or changed records:\n%s", r)
	}
	if r.Duplicates == 0 {
		t.Errorf("expected the bisected retry to duplicate records; if it no longer does, bisectOnError could default on:\n%s", r)
	}
}

func TestPoisonRecordIsKeptAndDoesNotBlock(t *testing.T) {
	const poison = `"pk":{"S":"item-000003"}`
	p := startPipeline(t, Options{BatchSize: 100, Mutate: func(rec []byte) []byte {
		if !bytes.Contains(rec, []byte(poison)) || !bytes.Contains(rec, []byte(`"eventName":"INSERT"`)) {
			return rec
		}
		// An attribute type DynamoDB does not have.
		return bytes.Replace(rec, []byte(`"tags":{"SS":`), []byte(`"tags":{"XS":`), 1)
	}})
	r := run(t, p, 800)
	if !check(t,
		expectation{field: "error objects", got: r.ErrorObjects, expect: 1, atLeast: true},
		expectation{field: "missing from data objects", got: r.Missing, expect: 1, atLeast: true},
		expectation{field: "duplicates", got: r.Duplicates, expect: 0},
		expectation{field: "unexpected", got: r.Unexpected, expect: 0},
		expectation{field: "records in S3 plus missing", got: r.RecordsInS3 + r.Missing, expect: r.Changes},
	) {
		t.Fatalf("poison not diverted:\n%s", r)
	}
	for _, prob := range r.Problems { // every other item arrived exactly once
		if !strings.Contains(prob, "item-000003") {
			t.Errorf("a problem beyond the poisoned item: %s", prob)
		}
	}
	errs, err := p.ReadErrorLines(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !check(t,
		expectation{field: "records under _errors/", got: len(errs), expect: 1, atLeast: true},
		expectation{field: "records under _errors/ (as many as missing from data objects)", got: len(errs), expect: r.Missing},
	) {
		t.FailNow()
	}
	for _, e := range errs {
		if reason := `unknown attribute type \"XS\"`; !strings.Contains(e, reason) {
			t.Errorf("error line: got %s, expect the reason %s", e, reason)
		}
		if !strings.Contains(e, poison) {
			t.Errorf("error line: got %s, expect the record %s", e, poison)
		}
	}
	if len(p.StreamerFailures()) != 0 {
		t.Errorf("poison blocked the shard: %+v", p.StreamerFailures())
	}
	// ddbstream errors finds it, as the errors principal: its requests are
	// evaluated against its policy with the rest (TestMain).
	for _, table := range []string{p.Opts.Table, ""} {
		rep, err := errorlist.Run(context.Background(), errorlist.Config{Bucket: p.Opts.Bucket, Prefix: p.Opts.Prefix, Table: table}, p.As(ErrorsPrincipal).S3)
		if err != nil {
			t.Fatalf("ddbstream errors --table %q: %v", table, err)
		}
		if rep.ByTable[p.Opts.Table] != len(errs) {
			t.Errorf("ddbstream errors --table %q: %d records of table %s, expect %d: %+v", table, rep.ByTable[p.Opts.Table], p.Opts.Table, len(errs), rep)
		}
	}
}

func TestDatabricksFaultsAndSecretRotation(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 200})
	p.Workspace.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: "1", Times: 2})
	p.Workspace.Inject(fakedatabricks.Fault{Status: 503, Times: 3})
	// Rotate the token while objects are being delivered: after the first
	// invocation, which cached the old token, and before the second, which
	// must meet a 401 and read the secret again. An invocation count,
	// not a moment, so the rotation cannot come after the last delivery.
	p.Relay.BeforeInvocation(2, func() {
		p.Workspace.AddToken("rotated-token")
		p.Secrets.Rotate(SecretName, strings.Replace(mustSecret(t, p), "local-token", "rotated-token", 1))
		p.Workspace.RevokeToken("local-token")
	})
	r := run(t, p, 1500)
	requireExactlyOnce(t, r)
	logs := p.ForwarderLogs.String()
	if !strings.Contains(logs, `"credentialsRefreshed":true`) {
		t.Error("no delivery refreshed its credentials after the rotation")
	}
	statuses := map[int]int{}
	for _, req := range p.Workspace.Requests() {
		statuses[req.Status]++
	}
	check(t,
		expectation{field: "429 answers", got: statuses[429], expect: 2, atLeast: true},
		expectation{field: "503 answers", got: statuses[503], expect: 3, atLeast: true},
		expectation{field: "401 answers (the rotation)", got: statuses[401], expect: 1, atLeast: true},
	)
	for _, tok := range []string{"local-token", "rotated-token"} {
		if strings.Contains(logs, tok) {
			t.Errorf("token %s appears in the forwarder's logs", tok)
		}
	}
}

func TestRedeliveredEventsAreIdempotent(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 300, DuplicateEvents: true})
	r := run(t, p, 1200)
	requireExactlyOnce(t, r)
	for path, f := range p.Workspace.Files() {
		if f.Writes != 2 {
			t.Errorf("%s: writes: got %d, expect 2 (each event was delivered twice)", path, f.Writes)
		}
	}
}

func TestMalformedEventsAreKept(t *testing.T) {
	p := startPipeline(t, Options{})
	ctx := context.Background()
	res, err := p.Streamer.Invoke(ctx, []byte(`{"Records":[{"eventID":"x",`))
	if err != nil {
		t.Fatalf("streamer on a malformed event: got %v, expect an invocation", err)
	}
	if res.Error != nil {
		t.Fatalf("streamer on a malformed event: got function error %v, expect success (the payload kept)", res.Error)
	}
	kept, err := p.ReadObjects(ctx, p.Opts.Prefix+"/_errors/malformed/")
	if err == nil && len(kept) != 0 {
		t.Fatal("ReadObjects parsed a malformed payload as JSON lines")
	}
	list, err := p.S3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.Opts.Bucket), Prefix: aws.String(p.Opts.Prefix + "/_errors/malformed/")})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.Contents); got != 1 {
		t.Fatalf("malformed payloads kept: got %d, expect 1", got)
	}
	// An EventBridge "Object Created" event, as the rule delivers, without its object.
	p.Relay.Enqueue([]byte(`{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"` + p.Opts.Bucket + `"}}}`))
	p.Relay.Wait()
	if failed := p.Relay.Failed(); len(failed) != 1 {
		t.Fatalf("events in the forwarder's on-failure destination: got %d, expect the malformed one", len(failed))
	}
	if !strings.Contains(p.ForwarderLogs.String(), `"msg":"event not understood"`) {
		t.Error("the forwarder did not log a clear error")
	}
}

func mustSecret(t *testing.T, p *Pipeline) string {
	t.Helper()
	value, ok := p.Secrets.Current(SecretName)
	if !ok {
		t.Errorf("secret %s: got none, expect the local secret", SecretName)
	}
	return value
}

func TestJobModeStartsOneRunPerObject(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 250, DuplicateEvents: true,
		ForwarderEnv: map[string]string{"DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"}})
	r := run(t, p, 1000)
	requireExactlyOnce(t, r)
	runs := p.Workspace.Runs()
	uris := map[string]bool{}
	for _, run := range runs {
		uris[run.Params["s3_uri"]] = true
		if run.JobID != 42 {
			t.Errorf("run %s: JobID: got %d, expect 42", run.Params["s3_uri"], run.JobID)
		}
		if len(run.IdempotencyToken) != 64 {
			t.Errorf("run %s: idempotency token: got %q, expect 64 characters", run.Params["s3_uri"], run.IdempotencyToken)
		}
		if run.Params["table"] != p.Opts.Table {
			t.Errorf("run %s: table: got %q, expect %q", run.Params["s3_uri"], run.Params["table"], p.Opts.Table)
		}
	}
	// Every event came twice; the idempotency token kept it to one run.
	check(t,
		expectation{field: "runs", got: len(runs), expect: r.Objects},
		expectation{field: "distinct objects run", got: len(uris), expect: r.Objects},
	)
}

func TestDBFSModeStreamsEveryObject(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 250,
		ForwarderEnv: map[string]string{"DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/cdc/{key}"}})
	r := run(t, p, 1000)
	requireExactlyOnce(t, r)
	objects, err := p.ReadObjects(context.Background(), p.Opts.Prefix+"/table=")
	if err != nil {
		t.Fatal(err)
	}
	files := p.Workspace.DBFSFiles()
	for _, o := range objects {
		f, ok := files["/mnt/cdc/"+o.Key]
		if !ok {
			t.Errorf("%s: not delivered to DBFS", o.Key)
			continue
		}
		if f.SHA256 != o.SHA256 {
			t.Errorf("%s: DBFS SHA-256: got %s, expect %s", o.Key, f.SHA256, o.SHA256)
		}
	}
	if got := p.Workspace.DBFSPuts(); got != 0 {
		t.Errorf("dbfs/put calls: got %d, expect 0 (it is limited to 1 MB)", got)
	}
}
