package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	opts.Root, opts.WorkDir = root, t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("streamer log tail:\n%s", tail(p.StreamerLogs.String(), 3000))
			t.Logf("forwarder log tail:\n%s", tail(p.ForwarderLogs.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// run writes changes, drains the pipeline and verifies it.
func run(t *testing.T, p *Pipeline, changes int, during func(*Load)) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	load, err := Generate(ctx, p.DynamoDB, p.Opts.Table, changes, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(load)
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

func TestEveryChangeArrivesExactlyOnce(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 200})
	r := run(t, p, 2000, nil)
	requireExactlyOnce(t, r)
	if r.Objects < 2 || r.ErrorObjects != 0 {
		t.Errorf("%d objects, %d error objects", r.Objects, r.ErrorObjects)
	}
	if strings.Contains(p.ForwarderLogs.String(), "local-token") {
		t.Error("the Databricks token appears in the forwarder's logs")
	}
}

func TestS3SlowDownLosesNothing(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 100, StreamerEnv: map[string]string{"S3_MAX_ATTEMPTS": "2"}})
	p.S3Faults.SlowDownFor(3 * time.Second)
	r := run(t, p, 1500, nil)
	requireExactlyOnce(t, r)
	st := p.Poller.Stats()
	if p.S3Faults.SlowedDown() == 0 || st.PartialFailures == 0 {
		t.Errorf("the fault did not bite: %d SlowDowns, poller %+v", p.S3Faults.SlowedDown(), st)
	}
	if !strings.Contains(p.StreamerLogs.String(), `"retryFrom"`) {
		t.Error("the streamer did not report the first unwritten record")
	}
}

func TestStreamerKilledMidWriteLosesNothing(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150})
	p.S3Faults.HoldPuts(3, p.Streamer.Kill) // three crashes while the object is being written
	r := run(t, p, 1500, nil)
	requireExactlyOnce(t, r)
	if st := p.Poller.Stats(); st.FunctionErrors < 3 || p.Streamer.ColdStarts() < 4 {
		t.Errorf("the crashes did not happen: poller %+v, %d cold starts", st, p.Streamer.ColdStarts())
	}
}

func TestStreamerKilledAfterWriteLosesNothing(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150})
	p.S3Faults.AfterPuts(3, p.Streamer.Kill) // three crashes after the object was durable
	r := run(t, p, 1500, nil)
	requireExactlyOnce(t, r)
	if st := p.Poller.Stats(); st.FunctionErrors < 3 {
		t.Errorf("the crashes did not happen: poller %+v", st)
	}
	// The retries of those batches found their objects already written.
	if n := strings.Count(p.StreamerLogs.String(), "object already written by an earlier attempt"); n < 3 {
		t.Errorf("%d retries recognised their durable object; want 3", n)
	}
}

// TestBisectAfterDurableWriteDuplicates documents why bisectOnError is off:
// a bisected retry of a batch whose object is durable writes its records
// again under new keys. Nothing is lost; the duplicates are the same
// records, with the same sequence numbers, for downstream de-duplication.
func TestBisectAfterDurableWriteDuplicates(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 150, BisectOnError: true})
	p.S3Faults.AfterPuts(1, p.Streamer.Kill)
	r := run(t, p, 600, nil)
	if r.Missing != 0 || r.OutOfOrder != 0 || r.Unexpected != 0 || r.InexactNumbers != 0 || r.RecordsInS3-r.Duplicates != r.Changes {
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
	r := run(t, p, 800, nil)
	if r.ErrorObjects == 0 || r.Missing == 0 || r.Duplicates != 0 || r.Unexpected != 0 || r.RecordsInS3+r.Missing != r.Changes {
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
	if len(errs) == 0 || len(errs) != r.Missing {
		t.Fatalf("%d records under _errors/, %d missing from data objects", len(errs), r.Missing)
	}
	for _, e := range errs {
		if !strings.Contains(e, `unknown attribute type \"XS\"`) || !strings.Contains(e, poison) {
			t.Errorf("error line lacks reason or record: %s", e)
		}
	}
	if len(p.StreamerFailures()) != 0 {
		t.Errorf("poison blocked the shard: %+v", p.StreamerFailures())
	}
}

func TestDatabricksFaultsAndSecretRotation(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 200})
	p.Workspace.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: "1", Times: 2})
	p.Workspace.Inject(fakedatabricks.Fault{Status: 503, Times: 3})
	r := run(t, p, 1500, func(*Load) {
		// Rotate the token while objects are being delivered.
		p.Workspace.AddToken("rotated-token")
		p.Secrets.Rotate(SecretName, strings.Replace(mustSecret(t, p), "local-token", "rotated-token", 1))
		p.Workspace.RevokeToken("local-token")
	})
	requireExactlyOnce(t, r)
	logs := p.ForwarderLogs.String()
	if !strings.Contains(logs, `"credentialsRefreshed":true`) {
		t.Error("no delivery refreshed its credentials after the rotation")
	}
	statuses := map[int]int{}
	for _, req := range p.Workspace.Requests() {
		statuses[req.Status]++
	}
	if statuses[429] < 2 || statuses[503] < 3 || statuses[401] == 0 {
		t.Errorf("faults not all seen: %v", statuses)
	}
	for _, tok := range []string{"local-token", "rotated-token"} {
		if strings.Contains(logs, tok) {
			t.Errorf("token %s appears in the forwarder's logs", tok)
		}
	}
}

func TestRedeliveredEventsAreIdempotent(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 300, DuplicateEvents: true})
	r := run(t, p, 1200, nil)
	requireExactlyOnce(t, r)
	for path, f := range p.Workspace.Files() {
		if f.Writes != 2 {
			t.Errorf("%s written %d times; each event was delivered twice", path, f.Writes)
		}
	}
}

func TestMalformedEventsAreKept(t *testing.T) {
	p := startPipeline(t, Options{})
	ctx := context.Background()
	res, err := p.Streamer.Invoke(ctx, []byte(`{"Records":[{"eventID":"x",`))
	if err != nil || res.Error != nil {
		t.Fatalf("streamer on a malformed event: %+v, %v", res, err)
	}
	kept, err := p.ReadObjects(ctx, p.Opts.Prefix+"/_errors/malformed/")
	if err == nil && len(kept) != 0 {
		t.Fatal("ReadObjects parsed a malformed payload as JSON lines")
	}
	list, err := p.S3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.Opts.Bucket), Prefix: aws.String(p.Opts.Prefix + "/_errors/malformed/")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("malformed payload not kept: %v, %v", list, err)
	}
	// An EventBridge "Object Created" event, as the rule delivers, without its object.
	p.Relay.Enqueue([]byte(`{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"` + p.Opts.Bucket + `"}}}`))
	p.Relay.Wait()
	if failed := p.Relay.Failed(); len(failed) != 1 {
		t.Fatalf("the malformed event is not in the forwarder's on-failure destination: %d", len(failed))
	}
	if !strings.Contains(p.ForwarderLogs.String(), `"msg":"event not understood"`) {
		t.Error("the forwarder did not log a clear error")
	}
}

func mustSecret(t *testing.T, p *Pipeline) string {
	t.Helper()
	p.Secrets.mu.Lock()
	defer p.Secrets.mu.Unlock()
	return p.Secrets.secrets[SecretName]
}

func TestJobModeStartsOneRunPerObject(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 250, DuplicateEvents: true,
		ForwarderEnv: map[string]string{"DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42"}})
	r := run(t, p, 1000, nil)
	requireExactlyOnce(t, r)
	runs := p.Workspace.Runs()
	uris := map[string]bool{}
	for _, run := range runs {
		uris[run.Params["s3_uri"]] = true
		if run.JobID != 42 || len(run.IdempotencyToken) != 64 || run.Params["table"] != p.Opts.Table {
			t.Errorf("run %+v", run)
		}
	}
	// Every event came twice; the idempotency token kept it to one run.
	if len(runs) != r.Objects || len(uris) != r.Objects {
		t.Errorf("%d runs for %d objects (%d distinct)", len(runs), r.Objects, len(uris))
	}
}

func TestDBFSModeStreamsEveryObject(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 250,
		ForwarderEnv: map[string]string{"DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/cdc/{key}"}})
	r := run(t, p, 1000, nil)
	requireExactlyOnce(t, r)
	objects, err := p.ReadObjects(context.Background(), p.Opts.Prefix+"/table=")
	if err != nil {
		t.Fatal(err)
	}
	files := p.Workspace.DBFSFiles()
	for _, o := range objects {
		if f, ok := files["/mnt/cdc/"+o.Key]; !ok || f.SHA256 != o.SHA256 {
			t.Errorf("%s not delivered intact to DBFS", o.Key)
		}
	}
	if p.Workspace.DBFSPuts() != 0 {
		t.Error("the 1 MB-limited dbfs/put was used")
	}
}
