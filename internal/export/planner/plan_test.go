package planner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
)

const converterFunction = "stack-exportconverter"

// fakeAWS answers the planner's four calls from memory.
type fakeAWS struct {
	mu      sync.Mutex
	objects map[string][]byte // by bucket/key
	calls   []string

	export      dbtypes.ExportDescription
	exportErr   error
	table       *dbtypes.TableDescription
	tableErr    error
	invokeErr   func(job export.Job) error
	invoked     []export.Job
	invokeInput []*lambda.InvokeInput
}

func (f *fakeAWS) call(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
}

func (f *fakeAWS) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.call("GetObject " + aws.ToString(in.Key))
	b, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchKey", Message: "The specified key does not exist."}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (f *fakeAWS) DescribeExport(_ context.Context, in *dynamodb.DescribeExportInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error) {
	f.call("DescribeExport " + aws.ToString(in.ExportArn))
	if f.exportErr != nil {
		return nil, f.exportErr
	}
	d := f.export
	return &dynamodb.DescribeExportOutput{ExportDescription: &d}, nil
}

func (f *fakeAWS) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.call("DescribeTable " + aws.ToString(in.TableName))
	if f.tableErr != nil {
		return nil, f.tableErr
	}
	return &dynamodb.DescribeTableOutput{Table: f.table}, nil
}

func (f *fakeAWS) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	job, err := export.ParseJob(in.Payload)
	if err != nil {
		return nil, fmt.Errorf("the converter would refuse this payload: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Invoke")
	if f.invokeErr != nil {
		if err := f.invokeErr(job); err != nil {
			return nil, err
		}
	}
	f.invoked = append(f.invoked, job)
	f.invokeInput = append(f.invokeInput, in)
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

func (f *fakeAWS) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// export is an export as the tests store it: where its summary is, and
// what DescribeExport and DescribeTable say of it.
type exportFixture struct {
	bucket, summaryKey string
}

// readingsExport stores record's Readings export fixture under the
// prefix "exports" (its manifests name keys with the prefix, as exports
// write them).
func readingsExport(t *testing.T, f *fakeAWS) exportFixture {
	t.Helper()
	dir := "../../record/testdata/export/Readings"
	const id = "01795449600123-5f1c2e3a"
	x := exportFixture{bucket: "lake-backfill", summaryKey: "exports/AWSDynamoDB/" + id + "/manifest-summary.json"}
	f.objects[x.bucket+"/"+x.summaryKey] = read(t, filepath.Join(dir, "manifest-summary.json"))
	f.objects[x.bucket+"/exports/AWSDynamoDB/"+id+"/manifest-files.json"] = read(t, filepath.Join(dir, "manifest-files.json"))
	var desc struct{ Table dbtypes.TableDescription }
	if err := json.Unmarshal(read(t, filepath.Join(dir, "describe-table.json")), &desc); err != nil {
		t.Fatal(err)
	}
	f.table = &desc.Table
	f.export = completed("arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/" + id)
	return x
}

// documentedExport stores the shapes of AWS's documented example, whose
// manifests name keys without the export prefix "2020-Nov".
func documentedExport(t *testing.T, f *fakeAWS) exportFixture {
	t.Helper()
	const id = "01234567890123-a1b2c3d4"
	x := exportFixture{bucket: "ddb-productcatalog-export", summaryKey: "2020-Nov/AWSDynamoDB/" + id + "/manifest-summary.json"}
	f.objects[x.bucket+"/"+x.summaryKey] = read(t, "../testdata/documented/manifest-summary.json")
	f.objects[x.bucket+"/2020-Nov/AWSDynamoDB/"+id+"/manifest-files.json"] = read(t, "../testdata/documented/manifest-files.json")
	f.table = &dbtypes.TableDescription{TableName: aws.String("ProductCatalog"), KeySchema: []dbtypes.KeySchemaElement{
		{AttributeName: aws.String("Id"), KeyType: dbtypes.KeyTypeHash}}}
	f.export = completed("arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog/export/" + id)
	return x
}

func completed(arn string) dbtypes.ExportDescription {
	return dbtypes.ExportDescription{ExportArn: aws.String(arn), ExportStatus: dbtypes.ExportStatusCompleted,
		ExportType: dbtypes.ExportTypeFullExport, ExportFormat: dbtypes.ExportFormatDynamodbJson}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// objectCreated is the EventBridge event S3 sends for a new object, in
// the shape of https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html.
func objectCreated(bucket, key string) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",`+
		`"account":"123456789012","time":"2026-11-23T16:07:42Z","region":"eu-west-1","resources":["arn:aws:s3:::%s"],`+
		`"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":512,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"00617F08299329D189"},`+
		`"request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","source-ip-address":"10.0.0.1","reason":"PutObject"}}`, bucket, bucket, key)
}

type harness struct {
	aws           *fakeAWS
	p             *Planner
	logs, metrics bytes.Buffer
}

func newHarness(t *testing.T, edits ...func(*Config)) *harness {
	t.Helper()
	h := &harness{aws: &fakeAWS{objects: map[string][]byte{}}}
	cfg := DefaultConfig()
	cfg.ConverterFunction = converterFunction
	for _, e := range edits {
		e(&cfg)
	}
	p, err := New(Clients{S3: h.aws, Exports: h.aws, Tables: h.aws, Lambda: h.aws}, cfg,
		function.WithLogger(lambdalog.New(&h.logs, slog.LevelDebug)), function.WithMetrics(emf.New(&h.metrics, "NS")))
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	return h
}

func (h *harness) metric(t *testing.T, name string) float64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(h.metrics.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("metric line %q: %v", lines[len(lines)-1], err)
	}
	v, _ := m[name].(float64)
	return v
}

// TestCompletedExport: one asynchronous invocation of the converter per
// data file, each with the Job the converter needs, for an export whose
// manifests hold keys with the prefix and for one in the documented shape
// without it.
func TestCompletedExport(t *testing.T) {
	readingsTime := time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC)
	readingsArn := "arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/01795449600123-5f1c2e3a"
	readingsJob := func(file string, items int64) export.Job {
		return export.Job{ExportArn: readingsArn, ExportTime: readingsTime, Table: "Readings", PartitionKey: "deviceId", SortKey: "digest",
			Bucket: "lake-backfill", DataFileKey: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/" + file, ItemCount: items}
	}
	tests := []struct {
		name       string
		setup      func(*testing.T, *fakeAWS) exportFixture
		expectJobs []export.Job
	}{
		{"keys with the export prefix", readingsExport, []export.Job{
			readingsJob("4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz", 3),
			readingsJob("o2x5mqzj6e4hbd7lvyk3fna2wi.json.gz", 1),
			readingsJob("ysl2bqgjcy5oznkkjfpc4ux3ru.json.gz", 0),
		}},
		{"documented shape, keys without the prefix", documentedExport, []export.Job{{
			ExportArn:  "arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog/export/01234567890123-a1b2c3d4",
			ExportTime: time.Date(2020, 11, 4, 7, 28, 34, 28e6, time.UTC), Table: "ProductCatalog", PartitionKey: "Id",
			Bucket:      "ddb-productcatalog-export",
			DataFileKey: "2020-Nov/AWSDynamoDB/01234567890123-a1b2c3d4/data/bafybeiczss3yxay3o4abnabbb.json.gz",
			ItemCount:   8, MD5Checksum: "sQMSpEILNgoQmarvDFonGQ==", ETag: "af83d6f217c19b8b0fff8023d8ca4716-1",
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			x := tc.setup(t, h.aws)
			out, err := h.p.Invoke(context.Background(), objectCreated(x.bucket, x.summaryKey))
			if err != nil {
				t.Fatal(err)
			}
			got := h.aws.invoked
			sort.Slice(got, func(i, j int) bool { return got[i].DataFileKey < got[j].DataFileKey })
			if len(got) != len(tc.expectJobs) {
				t.Fatalf("invocations: got %d, expect %d", len(got), len(tc.expectJobs))
			}
			for i, expect := range tc.expectJobs {
				g := got[i]
				for _, f := range []struct {
					name        string
					got, expect any
				}{
					{"ExportArn", g.ExportArn, expect.ExportArn},
					{"ExportTime", g.ExportTime, expect.ExportTime},
					{"Table", g.Table, expect.Table},
					{"PartitionKey", g.PartitionKey, expect.PartitionKey},
					{"SortKey", g.SortKey, expect.SortKey},
					{"Bucket", g.Bucket, expect.Bucket},
					{"DataFileKey", g.DataFileKey, expect.DataFileKey},
					{"ItemCount", g.ItemCount, expect.ItemCount},
					{"MD5Checksum", g.MD5Checksum, expect.MD5Checksum},
					{"ETag", g.ETag, expect.ETag},
				} {
					if f.got != f.expect {
						t.Errorf("job %d %s: got %v, expect %v", i, f.name, f.got, f.expect)
					}
				}
			}
			for _, in := range h.aws.invokeInput {
				if aws.ToString(in.FunctionName) != converterFunction || in.InvocationType != lambdatypes.InvocationTypeEvent {
					t.Errorf("invocation of %q as %q; expect %q as Event", aws.ToString(in.FunctionName), in.InvocationType, converterFunction)
				}
			}
			var resp Response
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"answer exports", len(resp.Exports), 1},
				{"answer status", resp.Exports[0].Status, StatusCompleted},
				{"answer invoked", resp.Exports[0].Invoked, len(tc.expectJobs)},
				{"metric ExportsPlanned", h.metric(t, "ExportsPlanned"), 1.0},
				{"metric ExportDataFiles", h.metric(t, "ExportDataFiles"), float64(len(tc.expectJobs))},
				{"logged", strings.Contains(h.logs.String(), `"msg":"export planned"`), true},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
		})
	}
}

// TestNotPlanned: what keeps the planner from invoking anything, and
// whether the event is retried (an error) or ends (none).
func TestNotPlanned(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(t *testing.T, f *fakeAWS, x exportFixture)
		expectErr string // "" for an event that ends without error
		expectIs  error
		expectLog string
	}{
		{"export in progress: retried", func(_ *testing.T, f *fakeAWS, _ exportFixture) {
			f.export.ExportStatus = dbtypes.ExportStatusInProgress
		}, "IN_PROGRESS", ErrInProgress, "export not complete yet"},
		{"export failed: logged, not retried", func(_ *testing.T, f *fakeAWS, _ exportFixture) {
			f.export.ExportStatus = dbtypes.ExportStatusFailed
			f.export.FailureCode, f.export.FailureMessage = aws.String("S3NoSuchBucket"), aws.String("The bucket is gone")
		}, "", nil, `"failureCode":"S3NoSuchBucket"`},
		{"unknown status", func(_ *testing.T, f *fakeAWS, _ exportFixture) { f.export.ExportStatus = "PAUSED" }, `status "PAUSED"`, nil, "export not planned"},
		{"no format anywhere", func(t *testing.T, f *fakeAWS, x exportFixture) {
			k := x.bucket + "/" + x.summaryKey
			f.objects[k] = bytes.Replace(f.objects[k], []byte(`, "outputFormat": "DYNAMODB_JSON"`), nil, 1)
			f.export.ExportFormat = ""
		}, `output format ""`, nil, "export not planned"},
		{"DescribeExport fails", func(_ *testing.T, f *fakeAWS, _ exportFixture) {
			f.exportErr = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
		}, "ThrottlingException", nil, ""},
		{"table deleted since", func(_ *testing.T, f *fakeAWS, _ exportFixture) {
			f.tableErr = &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Requested resource not found"}
		}, "for its key schema", nil, ""},
		{"malformed manifest", func(t *testing.T, f *fakeAWS, x exportFixture) {
			f.objects[x.bucket+"/exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json"] = read(t, "../testdata/malformed/item-count-missing.json")
		}, "manifest-files.json line 3: itemCount is missing", nil, ""},
		{"item counts do not add up", func(t *testing.T, f *fakeAWS, x exportFixture) {
			k := x.bucket + "/exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json"
			f.objects[k] = bytes.Replace(f.objects[k], []byte(`"itemCount": 3`), []byte(`"itemCount": 2`), 1)
		}, "lists 3 items in 3 files; the summary says 4", nil, ""},
		{"data file outside the export", func(t *testing.T, f *fakeAWS, x exportFixture) {
			k := x.bucket + "/exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json"
			f.objects[k] = bytes.Replace(f.objects[k], []byte(`exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/o2x5`), []byte(`cdc/o2x5`), 1)
		}, "data file 2: key \"cdc/o2x5", nil, ""},
		{"files manifest missing", func(t *testing.T, f *fakeAWS, x exportFixture) {
			delete(f.objects, x.bucket+"/exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json")
		}, "NoSuchKey", nil, ""},
		{"summary of another export", func(t *testing.T, f *fakeAWS, x exportFixture) {
			k := x.bucket + "/" + x.summaryKey
			f.objects[k] = bytes.Replace(f.objects[k], []byte("01795449600123-5f1c2e3a"), []byte("01795449600999-00000000"), 1)
		}, "lies in the directory of export", nil, ""},
		{"summary not JSON", func(t *testing.T, f *fakeAWS, x exportFixture) {
			f.objects[x.bucket+"/"+x.summaryKey] = []byte("<Error/>")
		}, "not the documented JSON object", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			x := readingsExport(t, h.aws)
			tc.edit(t, h.aws, x)
			_, err := h.p.Handle(context.Background(), objectCreated(x.bucket, x.summaryKey))
			switch {
			case tc.expectErr == "" && err != nil:
				t.Fatalf("error: got %v, expect none", err)
			case tc.expectErr != "" && (err == nil || !strings.Contains(err.Error(), tc.expectErr)):
				t.Fatalf("error: got %v, expect one containing %q", err, tc.expectErr)
			case tc.expectIs != nil && !errors.Is(err, tc.expectIs):
				t.Errorf("error %v is not %v", err, tc.expectIs)
			}
			if n := h.aws.count("Invoke"); n != 0 {
				t.Errorf("invocations: got %d, expect none", n)
			}
			if tc.expectLog != "" && !strings.Contains(h.logs.String(), tc.expectLog) {
				t.Errorf("logs do not mention %q:\n%s", tc.expectLog, h.logs.String())
			}
		})
	}
}

func TestInProgressStopsEarly(t *testing.T) {
	h := newHarness(t)
	x := readingsExport(t, h.aws)
	h.aws.export.ExportStatus = dbtypes.ExportStatusInProgress
	if _, err := h.p.Handle(context.Background(), objectCreated(x.bucket, x.summaryKey)); !errors.Is(err, ErrInProgress) {
		t.Fatalf("error: got %v", err)
	}
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"DescribeTable calls", h.aws.count("DescribeTable"), 0},
		{"files manifest reads", h.aws.count("GetObject exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json"), 0},
		{"metric ExportsInProgress", h.metric(t, "ExportsInProgress"), 1.0},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
}

// TestInvokeFailure: every Job is tried; a failed invocation fails the
// event, so Lambda retries it (and invokes all again: the converter's
// conditional writes make that harmless).
func TestInvokeFailure(t *testing.T) {
	h := newHarness(t)
	x := readingsExport(t, h.aws)
	h.aws.invokeErr = func(j export.Job) error {
		if strings.Contains(j.DataFileKey, "o2x5") {
			return &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}
		}
		return nil
	}
	resp, err := h.p.Handle(context.Background(), objectCreated(x.bucket, x.summaryKey))
	if err == nil || !strings.Contains(err.Error(), "1 of 3 converter invocations failed") {
		t.Fatalf("error: got %v", err)
	}
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"invoked", len(h.aws.invoked), 2},
		{"answer invoked", resp.Exports[0].Invoked, 2},
		{"metric InvokeFailures", h.metric(t, "InvokeFailures"), 1.0},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
}

// TestEventsWithoutExport: events that announce no export summary end
// without AWS calls or error; a payload that is no event fails.
func TestEventsWithoutExport(t *testing.T) {
	tests := []struct {
		name        string
		payload     string
		expectErr   bool
		expectSkips int
	}{
		{"another object", string(objectCreated("lake-backfill", "exports/AWSDynamoDB/01795449600123-5f1c2e3a/_started")), false, 1},
		{"a data file", string(objectCreated("lake-backfill", "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/x.json.gz")), false, 1},
		{"object deleted", strings.Replace(string(objectCreated("b", "exports/AWSDynamoDB/1-a/manifest-summary.json")), "Object Created", "Object Deleted", 1), false, 0},
		{"S3 test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-23T16:00:00.000Z","Bucket":"b"}`, false, 0},
		{"not an event", `{"hello":1}`, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			resp, err := h.p.Handle(context.Background(), []byte(tc.payload))
			if (err != nil) != tc.expectErr {
				t.Fatalf("error: got %v, expect one: %v", err, tc.expectErr)
			}
			skips := 0
			for _, e := range resp.Exports {
				if e.Skipped != "" {
					skips++
				}
			}
			if skips != tc.expectSkips || len(h.aws.calls) != 0 {
				t.Errorf("skipped %d (expect %d), AWS calls %v (expect none)", skips, tc.expectSkips, h.aws.calls)
			}
		})
	}
}

// TestPlanInvokesNothing: Plan, for a local harness, reads and checks but
// leaves invoking to its caller.
func TestPlanInvokesNothing(t *testing.T) {
	h := newHarness(t)
	x := readingsExport(t, h.aws)
	plan, err := h.p.Plan(context.Background(), x.bucket, x.summaryKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Jobs) != 3 || plan.Status != StatusCompleted || h.aws.count("Invoke") != 0 {
		t.Errorf("plan: %d jobs, status %q, %d invocations", len(plan.Jobs), plan.Status, h.aws.count("Invoke"))
	}
	if n, err := h.p.Dispatch(context.Background(), plan.Jobs); n != 3 || err != nil {
		t.Errorf("dispatch: %d, %v", n, err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, name := range []string{"stack-exportconverter", "arn:aws:lambda:eu-west-1:123456789012:function:stack-exportconverter",
		"123456789012:function:f", "f:live"} {
		c, err := ConfigFromEnv(env(map[string]string{"CONVERTER_FUNCTION": name}))
		if err != nil || c.ConverterFunction != name || c.InvokeConcurrency != 8 || c.MetricsNamespace != emf.DefaultNamespace {
			t.Errorf("CONVERTER_FUNCTION=%s: got %+v, %v", name, c, err)
		}
	}
	_, err := ConfigFromEnv(env(map[string]string{"INVOKE_CONCURRENCY": "0"}))
	for _, name := range []string{"CONVERTER_FUNCTION", "INVOKE_CONCURRENCY"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	if _, err := ConfigFromEnv(env(map[string]string{"CONVERTER_FUNCTION": "a b"})); err == nil {
		t.Error("a function name with a space was accepted")
	}
}

// TestSkipsWhatItMustNotConvert: an export the converter cannot read (Ion,
// incremental) or that is not this pipeline's (another table, bucket or
// export prefix) ends the event with a logged skip and an answer saying
// why, not an error that would send it to the failure queue after
// Lambda's retries. Foreign locations are skipped before any AWS call.
func TestSkipsWhatItMustNotConvert(t *testing.T) {
	own := func(c *Config) { c.Bucket, c.ExportPrefix, c.Table = "lake-backfill", "exports", "Readings" }
	summary := func(t *testing.T, f *fakeAWS, x exportFixture, old, new string) {
		t.Helper()
		k := x.bucket + "/" + x.summaryKey
		if !bytes.Contains(f.objects[k], []byte(old)) {
			t.Fatalf("summary has no %s", old)
		}
		f.objects[k] = bytes.Replace(f.objects[k], []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name   string
		edit   func(t *testing.T, f *fakeAWS, x exportFixture) (bucket, key string)
		reason string
		detail string
		// calls are the AWS calls made before the skip.
		calls []string
	}{
		{"Ion export, as DescribeExport says", func(_ *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			f.export.ExportFormat = dbtypes.ExportFormatIon
			return x.bucket, x.summaryKey
		}, SkipFormat, "format is ION", []string{"GetObject", "DescribeExport"}},
		{"Ion export, as its summary says", func(t *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			summary(t, f, x, `"outputFormat": "DYNAMODB_JSON"`, `"outputFormat": "ION"`)
			return x.bucket, x.summaryKey
		}, SkipFormat, "format is ION", []string{"GetObject"}},
		{"incremental export, as DescribeExport says", func(_ *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			f.export.ExportType = dbtypes.ExportTypeIncrementalExport
			return x.bucket, x.summaryKey
		}, SkipExportType, "INCREMENTAL_EXPORT", []string{"GetObject", "DescribeExport"}},
		{"incremental export whose summary has no exportTime", func(t *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			summary(t, f, x, `"exportTime": "2026-11-23T16:00:00.123Z", `, `"exportType": "INCREMENTAL_EXPORT", `)
			return x.bucket, x.summaryKey
		}, SkipExportType, "INCREMENTAL_EXPORT", []string{"GetObject"}},
		{"another table", func(t *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			summary(t, f, x, `table/Readings"`, `table/Orders"`)
			return x.bucket, x.summaryKey
		}, SkipOtherTable, "of table Orders", []string{"GetObject"}},
		{"another export prefix", func(t *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			k := "elsewhere/" + x.summaryKey
			f.objects[x.bucket+"/"+k] = f.objects[x.bucket+"/"+x.summaryKey]
			return x.bucket, k
		}, SkipOtherPrefix, `under prefix "elsewhere/exports"`, nil},
		{"another bucket", func(t *testing.T, f *fakeAWS, x exportFixture) (string, string) {
			f.objects["other-bucket/"+x.summaryKey] = f.objects[x.bucket+"/"+x.summaryKey]
			return "other-bucket", x.summaryKey
		}, SkipOtherBucket, "in bucket other-bucket", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, own)
			x := readingsExport(t, h.aws)
			bucket, key := tc.edit(t, h.aws, x)
			out, err := h.p.Invoke(context.Background(), objectCreated(bucket, key))
			if err != nil {
				t.Fatalf("error: got %v, expect a skip", err)
			}
			// The answer as ddbstream redrive reads it (internal/redrive:
			// plannerAnswer) and with the reason for programs.
			var resp struct {
				Exports []struct {
					Key, Skipped, SkipReason string
					Invoked                  int
				}
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			var calls []string
			for _, c := range h.aws.calls {
				calls = append(calls, strings.Fields(c)[0])
			}
			if len(resp.Exports) != 1 {
				t.Fatalf("answer %s", out)
			}
			e := resp.Exports[0]
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"key", e.Key, key},
				{"skip reason", e.SkipReason, tc.reason},
				{"skipped says why", strings.Contains(e.Skipped, tc.detail), true},
				{"invoked", e.Invoked, 0},
				{"invocations", h.aws.count("Invoke"), 0},
				{"AWS calls", strings.Join(calls, ","), strings.Join(tc.calls, ",")},
				{"logged", strings.Contains(h.logs.String(), `"msg":"export skipped: not this pipeline's to convert"`) &&
					strings.Contains(h.logs.String(), `"skipReason":"`+tc.reason+`"`), true},
				{"metric ExportsSkipped", h.metric(t, "ExportsSkipped"), 1.0},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v (answer %s)", f.name, f.got, f.expect, out)
				}
			}
		})
	}
}

// TestOwnExportNotSkipped: with the pipeline's bucket, prefix and table
// configured, its own export is converted as before.
func TestOwnExportNotSkipped(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Bucket, c.ExportPrefix, c.Table = "lake-backfill", "exports", "Readings" })
	x := readingsExport(t, h.aws)
	resp, err := h.p.Handle(context.Background(), objectCreated(x.bucket, x.summaryKey))
	if err != nil || len(resp.Exports) != 1 || resp.Exports[0].Skipped != "" || resp.Exports[0].Invoked != 3 {
		t.Fatalf("got %+v, %v; expect 3 converters invoked", resp, err)
	}
}

func TestConfigOwnExports(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := ConfigFromEnv(env(map[string]string{"CONVERTER_FUNCTION": "f", "BUCKET_NAME": "b", "EXPORT_PREFIX": "cdc-exports", "TABLE_NAME": "Orders"}))
	if err != nil || c.Bucket != "b" || c.ExportPrefix != "cdc-exports" || c.Table != "Orders" {
		t.Errorf("got %+v, %v", c, err)
	}
	_, err = ConfigFromEnv(env(map[string]string{"CONVERTER_FUNCTION": "f", "EXPORT_PREFIX": "/x/", "TABLE_NAME": "a b"}))
	for _, name := range []string{"EXPORT_PREFIX", "TABLE_NAME"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
