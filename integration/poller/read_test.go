package poller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestReadRecordsAsksAgainAfterACutAnswer: a GetRecords whose answer is
// cut off is asked again with the same iterator, as the event source
// mapping keeps reading; an answer the stream gives (HTTP 400) is not.
func TestReadRecordsAsksAgainAfterACutAnswer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case r.Header.Get("X-Amz-Target") != "DynamoDBStreams_20120810.GetRecords":
			w.WriteHeader(http.StatusBadRequest)
		case n == 1: // promise a body, send half of it, hang up
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"Records":[`))
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		case n == 2:
			_, _ = w.Write([]byte(`{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"7","ApproximateCreationDateTime":1}}],"NextShardIterator":"next"}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ExpiredIteratorException"}`))
		}
	}))
	defer srv.Close()
	p := New(Config{Endpoint: srv.URL, Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("K", "S", ""),
		RetryDelay: time.Millisecond, StreamARN: "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/x", FunctionARN: "f",
		Invoke: func(context.Context, []byte) ([]byte, error, error) { return nil, nil, nil }})
	recs, next, err := p.readRecords(context.Background(), "it", 10)
	if err != nil || len(recs) != 1 || next != "next" || calls.Load() != 2 {
		t.Fatalf("after a cut answer: %d records, next %q, %d calls, error %v; expect 1 record, next \"next\", 2 calls", len(recs), next, calls.Load(), err)
	}
	if _, _, err := p.readRecords(context.Background(), "it", 10); err == nil || calls.Load() != 3 {
		t.Fatalf("an answer the stream gave: error %v after %d calls; expect an error at once (3 calls)", err, calls.Load())
	}
}
