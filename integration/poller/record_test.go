package poller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ddbstream/pipeline/integration/internal/lambdarecord"
	"github.com/ddbstream/pipeline/internal/redrive"
)

// awsExample is the on-failure record of AWS's documentation
// (services-dynamodb-errors.html), as internal/redrive's tests keep it.
const awsExample = `{
  "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
    "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
    "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
  "version": "1.0",
  "timestamp": "2019-11-14T00:13:49Z",
  "DDBStreamBatchInfo": {"shardId": "shardId-00000001573689847184-864758bb",
    "startSequenceNumber": "800000000003126276362", "endSequenceNumber": "800000000003126276362",
    "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z", "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
    "batchSize": 1,
    "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"}
}`

// paths lists the members of a JSON document by path, with each value's
// JSON type, so that two documents' shapes compare.
func paths(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(prefix+"."+k, x)
			}
		case string:
			out = append(out, prefix+" string")
		case float64:
			out = append(out, prefix+" number")
		default:
			out = append(out, prefix+" other")
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

// TestOnFailureRecordIsAWSsShape: the record the local mapping sends has
// the documented record's members, each of its JSON type, and
// ddbstream redrive's parser reads back the batch it describes.
func TestOnFailureRecordIsAWSsShape(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-11-23T17:00:00.000"
	b := FailedBatch{ShardID: "shardId-00000001795453445000-0a1b2c3d", StartSequenceNumber: "000000000000000000001",
		EndSequenceNumber: "000000000000000000042", BatchSize: 42, StreamARN: arn,
		FunctionARN:  "arn:aws:lambda:us-east-1:000000000000:function:streamer",
		FirstArrival: time.Date(2026, 11, 23, 17, 4, 5, 0, time.UTC), LastArrival: time.Date(2026, 11, 23, 17, 4, 6, 250e6, time.UTC),
		Invocations: 2, FunctionError: true, RequestID: lambdarecord.NewRequestID(), At: time.Date(2026, 11, 23, 17, 13, 49, 717e6, time.UTC)}
	rec, err := b.Record()
	if err != nil {
		t.Fatal(err)
	}
	if got, expect := paths(t, rec), paths(t, []byte(awsExample)); !reflect.DeepEqual(got, expect) {
		t.Errorf("members: got %v, expect AWS's %v", got, expect)
	}
	f, err := redrive.ParseStreamBatchFailure(string(rec))
	if err != nil {
		t.Fatalf("redrive's parser refuses the record: %v\n%s", err, rec)
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"shardId", f.Batch.ShardID, b.ShardID},
		{"startSequenceNumber", f.Batch.StartSequenceNumber, b.StartSequenceNumber},
		{"endSequenceNumber", f.Batch.EndSequenceNumber, b.EndSequenceNumber},
		{"batchSize", f.Batch.BatchSize, 42},
		{"streamArn", f.Batch.StreamARN, arn},
		{"approximateArrivalOfFirstRecord", f.Batch.ApproximateArrivalOfFirstRecord, "2026-11-23T17:04:05Z"},
		{"approximateArrivalOfLastRecord", f.Batch.ApproximateArrivalOfLastRecord, "2026-11-23T17:04:06Z"},
		{"condition", f.RequestContext.Condition, "RetryAttemptsExhausted"},
		{"approximateInvokeCount", f.RequestContext.ApproximateInvokeCount, 2},
		{"functionArn", f.RequestContext.FunctionARN, b.FunctionARN},
		{"requestId length", len(f.RequestContext.RequestID), 36},
		{"statusCode", f.ResponseContext.StatusCode, 200},
		{"executedVersion", f.ResponseContext.ExecutedVersion, "$LATEST"},
		{"functionError", f.ResponseContext.FunctionError, "Unhandled"},
		{"version", f.Version, "1.0"},
		{"timestamp", f.Timestamp, "2026-11-23T17:13:49.717Z"},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestPartialFailuresGiveUpWithoutAFunctionError: a batch whose
// invocations only reported item failures goes to the destination with
// the records from the lowest failure on, its invocations counted, and
// no function error.
func TestPartialFailuresGiveUpWithoutAFunctionError(t *testing.T) {
	s := &scripted{t: t, answer: func(int, []string) (string, error) {
		return `{"batchItemFailures":[{"itemIdentifier":"002"}]}`, nil
	}}
	var failed []FailedBatch
	p := newPoller(s, 1, false, &failed)
	if err := p.process(context.Background(), "shard-1", recs(3)); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 {
		t.Fatalf("on-failure: got %d batches, expect 1", len(failed))
	}
	f := failed[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"StartSequenceNumber", f.StartSequenceNumber, "002"},
		{"EndSequenceNumber", f.EndSequenceNumber, "003"},
		{"BatchSize", f.BatchSize, 2},
		{"Invocations", f.Invocations, 2},
		{"FunctionError", f.FunctionError, false},
		{"Processed", p.Stats().Processed, 3},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
	rec, err := f.Record()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec), "functionError") {
		t.Errorf("record: got %s, expect no functionError", rec)
	}
}

// TestRecordsHaveTheShapeOfLambdasEvent: the records the poller passes on
// are those of the event Lambda builds from the same GetRecords answer
// (internal/redrive's fixtures: a TTL delete's userIdentity renamed to
// type and principalId, eventSourceARN added, everything else as sent).
func TestRecordsHaveTheShapeOfLambdasEvent(t *testing.T) {
	api, err := os.ReadFile("../../internal/redrive/testdata/getrecords.json")
	if err != nil {
		t.Fatal(err)
	}
	lambdaEvent, err := os.ReadFile("../../internal/redrive/testdata/lambda-event.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Amz-Target"); got != "DynamoDBStreams_20120810.GetRecords" {
			http.Error(w, "unexpected "+got, http.StatusBadRequest)
			return
		}
		_, _ = w.Write(api)
	}))
	defer srv.Close()
	var expect struct{ Records []json.RawMessage }
	if err := json.Unmarshal(lambdaEvent, &expect); err != nil {
		t.Fatal(err)
	}
	var arn struct {
		ARN string `json:"eventSourceARN"`
	}
	if err := json.Unmarshal(expect.Records[0], &arn); err != nil {
		t.Fatal(err)
	}
	p := New(Config{StreamARN: arn.ARN, Endpoint: srv.URL, Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	got, next, err := p.getRecords(context.Background(), "iterator", 10)
	if err != nil {
		t.Fatal(err)
	}
	if next != "next" || len(got) != len(expect.Records) {
		t.Fatalf("got %d records and iterator %q, expect %d and \"next\"", len(got), next, len(expect.Records))
	}
	for i, r := range got {
		var g, e map[string]any
		if err := errors.Join(json.Unmarshal(r.raw, &g), json.Unmarshal(expect.Records[i], &e)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, e) {
			t.Errorf("record %d: got %s, expect Lambda's %s", i, r.raw, expect.Records[i])
		}
	}
	var ev events.DynamoDBEventRecord
	if err := json.Unmarshal(got[1].raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.UserIdentity == nil {
		t.Fatalf("TTL delete: got no userIdentity in %s", got[1].raw)
	}
	for _, c := range []struct{ field, got, expect string }{
		{"userIdentity.type", ev.UserIdentity.Type, "Service"},
		{"userIdentity.principalId", ev.UserIdentity.PrincipalID, "dynamodb.amazonaws.com"},
		{"created", got[1].created.Format(time.RFC3339Nano), "2026-11-23T17:04:06.25Z"},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %q, expect %q", c.field, c.got, c.expect)
		}
	}
	// The text of the stream record itself is passed on as DynamoDB sent it.
	if at := strings.Index(string(api), `{"ApproximateCreationDateTime":1795453445,`); at < 0 || !strings.Contains(string(got[0].raw), string(api[at:at+200])) {
		t.Errorf("record 0's dynamodb member was rewritten: %s", got[0].raw)
	}
}
