package redrive

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbstream/pipeline/internal/streamer"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

// streamsServer answers GetRecords in the DynamoDB Streams JSON protocol
// with a fixture, so that the records come through the real SDK's
// deserializer.
func streamsServer(t *testing.T, body []byte) *dynamodbstreams.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Amz-Target"); got != "DynamoDBStreams_20120810.GetRecords" {
			http.Error(w, "unexpected "+got, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return dynamodbstreams.New(dynamodbstreams.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

// convert runs payload through the streamer and returns the data
// object's lines.
func convert(t *testing.T, payload []byte) string {
	t.Helper()
	b := opsfake.NewBucket(bucket)
	cfg := streamer.DefaultConfig()
	cfg.Bucket = bucket
	h, err := streamer.New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(context.Background(), payload)
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("Handle: %+v, %v", resp, err)
	}
	keys := b.Keys()
	if len(keys) != 1 {
		t.Fatalf("objects %v; expect one data object (no record set aside)", keys)
	}
	body, _ := b.Object(keys[0])
	return keys[0] + "\n" + gunzip(t, body)
}

// TestEventRebuildsTheMappingsEvent: records read with GetRecords through
// the real SDK and rebuilt by Event convert to exactly the lines, under
// exactly the key, that the event source mapping's own event gives: the
// number text (38 digits, 1E+125, -0, 19.990, 2.50), strings with escapes
// and non-ASCII text, binary, sets, nested lists and maps, the creation
// time with a fraction, and the TTL service identity survive.
func TestEventRebuildsTheMappingsEvent(t *testing.T) {
	api, err := os.ReadFile("testdata/getrecords.json")
	if err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile("testdata/lambda-event.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := streamsServer(t, api).GetRecords(context.Background(), &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("it")})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := Event(out.Records, streamARN)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(payload) {
		t.Fatalf("not JSON: %s", payload)
	}
	got, expect := convert(t, payload), convert(t, original)
	if got != expect {
		t.Errorf("rebuilt event converts to\n%s\nthe mapping's event to\n%s", got, expect)
	}
	for _, s := range []string{`"big":12345678901234567890123456789012345678`, `"exp":1E+125`, `"neg":-0`, `"price":19.990`,
		`"approximateCreationDateTime":"2026-11-23T17:04:06.25Z"`, `"ttlDelete":true`} {
		if !strings.Contains(got, s) {
			t.Errorf("converted lines lack %s", s)
		}
	}
}

func TestAppendEpochSeconds(t *testing.T) {
	tests := []struct {
		t      time.Time
		expect string
	}{
		{time.Unix(1795453445, 0), "1795453445"},
		{time.Unix(1795453445, 250e6), "1795453445.25"},
		{time.Unix(1795453445, 7e6), "1795453445.007"},
		{time.Unix(0, 0), "0"},
	}
	for _, tc := range tests {
		if got := string(appendEpochSeconds(nil, tc.t)); got != tc.expect {
			t.Errorf("%v: got %s, expect %s", tc.t, got, tc.expect)
		}
	}
}

func TestAppendStringEscapesOnlyWhatJSONRequires(t *testing.T) {
	tests := []struct{ in, expect string }{
		{`plain`, `"plain"`},
		{"q\"b\\n\nt\tc\x01", `"q\"b\\n\nt\tc\u0001"`},
		{"<&> é \u2028", "\"<&> é \u2028\""},
		{"bad \xff byte", `"bad \ufffd byte"`},
	}
	for _, tc := range tests {
		got := appendString(nil, tc.in)
		if string(got) != tc.expect {
			t.Errorf("%q: got %s, expect %s", tc.in, got, tc.expect)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: not a JSON string: %v", tc.in, err)
		}
	}
}

func TestEventRefusesNilAttributes(t *testing.T) {
	recs := []types.Record{{Dynamodb: &types.StreamRecord{Keys: map[string]types.AttributeValue{"pk": nil}}}}
	if _, err := Event(recs, streamARN); err == nil || !strings.Contains(err.Error(), "pk") {
		t.Errorf("got %v, expect an error naming the attribute", err)
	}
}
