package streamer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

// fakeS3 is an in-memory bucket that honours If-None-Match and can fail.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	inputs  []*s3.PutObjectInput
	// conflicts lists the keys of puts answered 412 PreconditionFailed.
	conflicts []string
	// fail, when set, decides the error for a put of key.
	fail func(key string) error
	// block makes puts wait for their context.
	block bool
}

func newFakeS3() *fakeS3 { return &fakeS3{objects: map[string][]byte{}} }

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	key := aws.ToString(in.Key)
	if f.fail != nil {
		if err := f.fail(key); err != nil {
			return nil, err
		}
	}
	if int64(len(body)) != aws.ToInt64(in.ContentLength) {
		return nil, errors.New("content length mismatch")
	}
	if _, ok := f.objects[key]; ok && aws.ToString(in.IfNoneMatch) == "*" {
		f.conflicts = append(f.conflicts, key)
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	f.objects[key] = body
	return &s3.PutObjectOutput{}, nil
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

func testConfig() Config {
	c := DefaultConfig()
	c.Bucket = "out-bucket"
	return c
}

func newHandler(t *testing.T, s3c ObjectPutter, cfg Config, opts ...function.Option) *Handler {
	t.Helper()
	h, err := New(s3c, cfg, append([]function.Option{function.WithClock(func() time.Time { return time.Date(2026, 11, 23, 17, 5, 0, 0, time.UTC) })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Fixtures shared with internal/record, which owns the event format and
// keeps the one copy.
const (
	badRecords      = "../record/testdata/bad_records.json"
	modifyNewAndOld = "../record/testdata/modify_new_and_old.json"
)

// readFixture reads a fixture by its path from this package: testdata/
// for the streamer's own, or one of the shared ones above.
func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func genEvent(records int) []byte {
	o := eventgen.DefaultOptions()
	o.Records = records
	return eventgen.Event(o)
}

const genKey = "cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-4421584500000000000001000000-"

func TestWritesOneObjectPerBatch(t *testing.T) {
	fs := newFakeS3()
	h := newHandler(t, fs, testConfig())
	payload := genEvent(500)
	resp, err := h.Handle(context.Background(), payload)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if len(fs.objects) != 1 {
		t.Fatalf("wrote %d objects; want 1", len(fs.objects))
	}
	key := genKey + eventgen.Sequence(1000000+499*100) + ".jsonl.gz"
	body, ok := fs.objects[key]
	if !ok {
		t.Fatalf("no object at %s; have %v", key, keys(fs.objects))
	}
	lines := strings.Split(strings.TrimSuffix(gunzip(t, body), "\n"), "\n")
	if len(lines) != 500 {
		t.Fatalf("object has %d lines; want 500", len(lines))
	}
	for i, l := range lines {
		var rec struct{ SequenceNumber string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if want := eventgen.Sequence(1000000 + uint64(i)*100); rec.SequenceNumber != want {
			t.Fatalf("line %d has sequence %s; want %s (stream order)", i, rec.SequenceNumber, want)
		}
	}
	in := fs.inputs[0]
	if aws.ToString(in.IfNoneMatch) != "*" || in.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32c ||
		aws.ToString(in.ContentType) != "application/x-ndjson" || aws.ToString(in.ContentEncoding) != "gzip" ||
		in.Metadata["records"] != "500" || in.Metadata["first-sequence-number"] != eventgen.Sequence(1000000) {
		t.Errorf("put input = %+v", in)
	}
	if in.ServerSideEncryption != "" || in.SSEKMSKeyId != nil {
		t.Error("SSE-KMS requested without a key configured")
	}
}

func TestRetriedBatchIsIdempotent(t *testing.T) {
	fs := newFakeS3()
	payload := genEvent(200)
	if _, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(fs.objects[keys(fs.objects)[0]])
	// A fresh process (cold start) handles the same batch again.
	resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v, %v", resp, err)
	}
	if len(fs.objects) != 1 || len(fs.inputs) != 2 {
		t.Fatalf("objects %d, puts %d; want 1 object from 2 puts", len(fs.objects), len(fs.inputs))
	}
	// Without conditional writes the retry overwrites with identical bytes.
	cfg := testConfig()
	cfg.ConditionalWrites = false
	fs2 := newFakeS3()
	if _, err := newHandler(t, fs2, cfg).Handle(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, fs2.objects[keys(fs2.objects)[0]]) {
		t.Error("the same batch produced different bytes: output is not deterministic")
	}
}

func TestWriteFailureReportsFirstUnwrittenRecord(t *testing.T) {
	fs := newFakeS3()
	fs.fail = func(string) error {
		return &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."}
	}
	h := newHandler(t, fs, testConfig())
	resp, err := h.Handle(context.Background(), genEvent(50))
	if err != nil {
		t.Fatal(err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: eventgen.Sequence(1000000)}}
	if !equalFailures(resp.BatchItemFailures, want) {
		t.Errorf("failures = %+v; want %+v", resp.BatchItemFailures, want)
	}
	out, err := h.Invoke(context.Background(), genEvent(50))
	if err != nil || !strings.Contains(string(out), `"batchItemFailures":[{"itemIdentifier":"`+eventgen.Sequence(1000000)+`"}]`) {
		t.Errorf("Invoke = %s, %v", out, err)
	}
}

func TestWithoutBatchItemFailuresTheInvocationFails(t *testing.T) {
	fs := newFakeS3()
	fs.fail = func(string) error { return errors.New("connection reset") }
	cfg := testConfig()
	cfg.ReportBatchItemFailures = false
	_, err := newHandler(t, fs, cfg).Handle(context.Background(), genEvent(5))
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v; want the write error", err)
	}
}

func TestConversionErrorsGoToErrorsObject(t *testing.T) {
	fs := newFakeS3()
	var logs bytes.Buffer
	h := newHandler(t, fs, testConfig(), function.WithLogger(lambdalog.New(&logs, slog.LevelInfo)))
	resp, err := h.Handle(context.Background(), readFixture(t, badRecords))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	const base = "table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz"
	data, errs := fs.objects["cdc/"+base], fs.objects["cdc/_errors/"+base]
	if data == nil || errs == nil {
		t.Fatalf("objects: %v", keys(fs.objects))
	}
	if n := strings.Count(gunzip(t, data), "\n"); n != 2 {
		t.Errorf("data object has %d lines; want the 2 good records", n)
	}
	lines := strings.Split(strings.TrimSuffix(gunzip(t, errs), "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("errors object has %d lines; want 7", len(lines))
	}
	var first struct {
		Reason         string          `json:"reason"`
		Index          int             `json:"index"`
		SequenceNumber string          `json:"sequenceNumber"`
		Record         json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Index != 1 || first.SequenceNumber != "500000000000000000002" ||
		first.Reason != `dynamodb.NewImage.when: unknown attribute type "DATE"` || !bytes.Contains(first.Record, []byte(`"DATE":"2026-01-01"`)) {
		t.Errorf("first error line = %+v", first)
	}
	if c := strings.Count(logs.String(), `"msg":"record not converted"`); c != 7 {
		t.Errorf("logged %d conversion errors; want 7:\n%s", c, logs.String())
	}
}

func TestFailedErrorsObjectWritesNothingMore(t *testing.T) {
	fs := newFakeS3()
	fs.fail = func(key string) error {
		if strings.Contains(key, "_errors/") {
			return errors.New("boom")
		}
		return nil
	}
	resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), readFixture(t, badRecords))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the batch is durable, so Lambda retries it from its start.
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: "500000000000000000001"}}
	if !equalFailures(resp.BatchItemFailures, want) || len(fs.objects) != 0 || len(fs.inputs) != 1 {
		t.Errorf("failures = %+v, %d objects after %d puts; want %+v and no data object", resp.BatchItemFailures, len(fs.objects), len(fs.inputs), want)
	}
}

func TestFailedDataObjectReportsItsFirstRecord(t *testing.T) {
	fs := newFakeS3()
	fs.fail = func(key string) error {
		if !strings.Contains(key, "_errors/") {
			return errors.New("boom")
		}
		return nil
	}
	payload := []byte(strings.Replace(string(readFixture(t, badRecords)), `"ok-1"}},"SequenceNumber"`, `"ok-1"},"x":{"BAD":1}},"SequenceNumber"`, 1))
	resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	// Record 1 is now an error record, written; the first data record is 8.
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: "500000000000000000008"}}
	if !equalFailures(resp.BatchItemFailures, want) {
		t.Errorf("failures = %+v; want %+v", resp.BatchItemFailures, want)
	}
}

func TestUnnamedUnwrittenRecordFailsTheInvocation(t *testing.T) {
	fs := newFakeS3()
	fs.fail = func(key string) error { return errors.New("boom") }
	payload := []byte(`{"Records":["not a record",` + strings.TrimPrefix(string(genEvent(1)), `{"Records":[`))
	if _, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload); err == nil {
		t.Fatal("an unwritten record without a sequence number must fail the whole invocation")
	}
}

func TestDeadline(t *testing.T) {
	t.Run("no time left", func(t *testing.T) {
		fs := newFakeS3()
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
		defer cancel()
		resp, err := newHandler(t, fs, testConfig()).Handle(ctx, genEvent(10))
		if err != nil || len(resp.BatchItemFailures) != 1 || len(fs.inputs) != 0 {
			t.Fatalf("Handle = %+v, %v with %d puts; want the batch reported, no put", resp, err, len(fs.inputs))
		}
	})
	t.Run("slow put", func(t *testing.T) {
		fs := newFakeS3()
		fs.block = true
		cfg := testConfig()
		cfg.DeadlineMargin = 200 * time.Millisecond
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(500*time.Millisecond))
		defer cancel()
		resp, err := newHandler(t, fs, cfg).Handle(ctx, genEvent(10))
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Fatalf("Handle = %+v, %v; want the batch reported", resp, err)
		}
		if ctx.Err() != nil {
			t.Error("the handler answered after the Lambda deadline")
		}
	})
}

func TestMalformedEventIsKeptWhole(t *testing.T) {
	fs := newFakeS3()
	var metrics bytes.Buffer
	h := newHandler(t, fs, testConfig(), function.WithMetrics(emf.New(&metrics, "NS")))
	payload := []byte(`{"Records":[{"eventID":"x"`)
	resp, err := h.Handle(context.Background(), payload)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	k := keys(fs.objects)
	if len(k) != 1 || !strings.HasPrefix(k[0], "cdc/_errors/malformed/") {
		t.Fatalf("objects = %v", k)
	}
	if gunzip(t, fs.objects[k[0]]) != string(payload) {
		t.Error("malformed payload not kept byte for byte")
	}
	if !strings.Contains(metrics.String(), `"MalformedEvents":1`) {
		t.Errorf("metrics = %s", metrics.String())
	}
	fs.fail = func(string) error { return errors.New("down") }
	if _, err := h.Handle(context.Background(), []byte("garbage")); err == nil {
		t.Error("a malformed event that could not be stored must fail the invocation")
	}
}

func TestEmptyBatchWritesNothing(t *testing.T) {
	fs := newFakeS3()
	resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), []byte(`{"Records":[]}`))
	if err != nil || len(resp.BatchItemFailures) != 0 || len(fs.inputs) != 0 {
		t.Fatalf("Handle = %+v, %v, %d puts", resp, err, len(fs.inputs))
	}
}

func TestKMSAndContentSettings(t *testing.T) {
	fs := newFakeS3()
	cfg := testConfig()
	cfg.KMSKeyID = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	cfg.ContentType, cfg.ContentEncoding = "application/gzip", ""
	if _, err := newHandler(t, fs, cfg).Handle(context.Background(), genEvent(3)); err != nil {
		t.Fatal(err)
	}
	in := fs.inputs[0]
	if in.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(in.SSEKMSKeyId) != cfg.KMSKeyID ||
		!aws.ToBool(in.BucketKeyEnabled) || aws.ToString(in.ContentType) != "application/gzip" || in.ContentEncoding != nil {
		t.Errorf("put input = %+v", in)
	}
}

func TestLogsAndMetrics(t *testing.T) {
	fs := newFakeS3()
	var logs, metrics bytes.Buffer
	h := newHandler(t, fs, testConfig(), function.WithLogger(lambdalog.New(&logs, slog.LevelInfo)), function.WithMetrics(emf.New(&metrics, "NS")))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-42"})
	payload := readFixture(t, modifyNewAndOld)
	if _, err := h.Handle(ctx, payload); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	for k, want := range map[string]any{"msg": "batch written", "requestId": "req-42", "records": 2.0, "bytesIn": float64(len(payload)),
		"maxRecordAgeMs": 54000.0, "key": "cdc/table=Customers/dt=2026-11-23/hour=17/20261101T000000000-442158450000000000000002-442158450000000000000003.jsonl.gz"} {
		if line[k] != want {
			t.Errorf("log %s = %v; want %v", k, line[k], want)
		}
	}
	for _, k := range []string{"bytesOut", "latencyMs"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log lacks %s", k)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"Records": 2, "Objects": 1, "ConversionErrors": 0, "FailedRecords": 0, "RecordAge": 54000} {
		if m[k] != want {
			t.Errorf("metric %s = %v; want %v", k, m[k], want)
		}
	}
	for _, k := range []string{"BytesIn", "BytesOut", "BatchLatency"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metrics lack %s", k)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := ConfigFromEnv(env(map[string]string{"BUCKET_NAME": "my-bucket", "S3_PREFIX": "raw/cdc/", "IMAGE_FORMAT": "dynamodb",
		"CONTENT_ENCODING": "none", "KMS_KEY_ID": "alias/pipeline", "GZIP_LEVEL": "6"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bucket != "my-bucket" || c.Prefix != "raw/cdc" || c.ImageFormat.String() != "dynamodb" || c.ContentEncoding != "" || c.GzipLevel != 6 {
		t.Errorf("config = %+v", c)
	}
	_, err = ConfigFromEnv(env(map[string]string{"S3_PREFIX": "a//b", "GZIP_LEVEL": "11", "IMAGE_FORMAT": "avro",
		"DEADLINE_MARGIN": "forever", "KMS_KEY_ID": "my key", "CONTENT_TYPE": "json"}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"BUCKET_NAME is not set", `S3_PREFIX="a//b"`, `GZIP_LEVEL="11": want a whole number from 1 to 9`,
		`IMAGE_FORMAT="avro": want one of plain, dynamodb`, `DEADLINE_MARGIN="forever"`, `KMS_KEY_ID="my key"`, `CONTENT_TYPE="json"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := ConfigFromEnv(env(map[string]string{"BUCKET_NAME": "Bad_Bucket"})); err == nil || !strings.Contains(err.Error(), "BUCKET_NAME") {
		t.Errorf("bad bucket: %v", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalFailures(a, b []events.DynamoDBBatchItemFailure) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
