package lambdaapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/integration/lambdaapi"
	"github.com/ddbstream/pipeline/integration/runtimeapi"
	"github.com/ddbstream/pipeline/internal/redrive"
)

// start serves functions and returns the real SDK client the export
// planner uses, pointed here as AWS_ENDPOINT_URL_LAMBDA points it.
func start(t *testing.T, functions map[string]lambdaapi.Function) (*lambdaapi.Endpoint, *lambda.Client) {
	t.Helper()
	e, err := lambdaapi.New(functions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	client := lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
	return e, client
}

// recorder is a function that records its payloads and fails its first
// failures invocations.
type recorder struct {
	mu       sync.Mutex
	payloads []string
	failures int
	// hold, if set, keeps the first invocation running until it is
	// closed, so that a test knows what is queued before it ends.
	hold chan struct{}
}

func (r *recorder) invoke(_ context.Context, payload []byte) ([]byte, error, error) {
	r.mu.Lock()
	if r.hold != nil && len(r.payloads) == 0 {
		r.mu.Unlock()
		<-r.hold
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	r.payloads = append(r.payloads, string(payload))
	if len(r.payloads) <= r.failures {
		return nil, errors.New("Runtime.ExitError: process exited during the invocation"), nil
	}
	return []byte(`{"done":` + string(payload) + `}`), nil, nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.payloads...)
}

func wait(t *testing.T, e *lambdaapi.Endpoint) {
	t.Helper()
	// A safety net for a queue that never drains; Wait wakes on progress.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEventIsAcceptedThenRun(t *testing.T) {
	rec := &recorder{}
	e, client := start(t, map[string]lambdaapi.Function{"exportconverter": {Invoke: rec.invoke, Retries: 2}})
	ctx := context.Background()
	for _, name := range []string{
		"exportconverter",
		"arn:aws:lambda:us-east-1:000000000000:function:exportconverter",
		"000000000000:function:exportconverter",
		"arn:aws:lambda:us-east-1:000000000000:function:exportconverter:$LATEST",
	} {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":1}`)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out.StatusCode != http.StatusAccepted {
			t.Errorf("%s: StatusCode: got %d, expect 202", name, out.StatusCode)
		}
		if len(out.Payload) != 0 {
			t.Errorf("%s: Payload: got %q, expect none", name, out.Payload)
		}
	}
	wait(t, e)
	for _, f := range []struct {
		field       string
		got, expect int
	}{
		{"invocations", len(rec.got()), 4},
		{"Accepted", e.Accepted("exportconverter"), 4},
		{"Invocations", e.Invocations("exportconverter"), 4},
		{"Failed", len(e.Failed()), 0},
		{"Pending", e.Pending(), 0},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %d, expect %d", f.field, f.got, f.expect)
		}
	}
	if got := rec.got(); got[0] != `{"n":1}` {
		t.Errorf("payload: got %s, expect the event as sent", got[0])
	}
}

func TestFailedEventIsRetriedAfterTheQueue(t *testing.T) {
	rec := &recorder{failures: 2, hold: make(chan struct{})}
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke, Retries: 2, RetryDelay: 10 * time.Millisecond}})
	ctx := context.Background()
	for _, p := range []string{`"a"`, `"b"`} {
		if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	close(rec.hold) // "a" fails only once "b" is queued
	wait(t, e)
	// "a" fails; "b", queued meanwhile, runs before a's retry and fails;
	// then both retries succeed. The two retries wait out the same delay
	// side by side, so their order is not defined, as in Lambda.
	got := rec.got()
	retries := slices.Sorted(slices.Values(got[min(2, len(got)):]))
	if len(got) != 4 || got[0] != `"a"` || got[1] != `"b"` || !slices.Equal(retries, []string{`"a"`, `"b"`}) {
		t.Errorf("invocations: got %s, expect \"a\" \"b\" and then the retries of both", strings.Join(got, " "))
	}
	if failed := e.Failed(); len(failed) != 0 {
		t.Errorf("Failed: got %+v, expect none", failed)
	}
}

func TestEventFailingEveryAttemptGoesToOnFailure(t *testing.T) {
	rec := &recorder{failures: 100}
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke, Retries: 2}})
	if _, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("f"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"job":7}`)}); err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	if got := len(rec.got()); got != 3 {
		t.Errorf("invocations: got %d, expect 3 (1 + 2 retries)", got)
	}
	failed := e.Failed()
	if len(failed) != 1 {
		t.Fatalf("Failed: got %d events, expect 1", len(failed))
	}
	for _, f := range []struct {
		field       string
		got, expect any
	}{
		{"Function", failed[0].Function, "f"},
		{"Payload", string(failed[0].Payload), `{"job":7}`},
		{"Attempts", failed[0].Attempts, 3},
		{"Error", failed[0].Error, "Runtime.ExitError: process exited during the invocation"},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.field, f.got, f.expect)
		}
	}
}

func TestOnFailureGetsAWSInvocationRecord(t *testing.T) {
	// A converter job, with characters HTML escaping would change.
	payload := []byte(`{"exportArn":"arn:aws:dynamodb:us-east-1:000000000000:table/t/export/01234-abcd",` +
		`"exportTime":"2025-01-02T03:04:05Z","table":"t","partitionKey":"pk","bucket":"b",` +
		`"dataFileKey":"AWSDynamoDB/01234-abcd/data/a<b&c.json.gz","itemCount":7}`)
	var mu sync.Mutex
	var records [][]byte
	calls := 0
	fn := lambdaapi.Function{
		Invoke: func(context.Context, []byte) ([]byte, error, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return nil, &runtimeapi.FunctionError{Type: "Runtime.ExitError", Message: "process exited during the invocation"}, nil
		},
		Retries: 2,
		OnFailure: func(record []byte) error {
			mu.Lock()
			defer mu.Unlock()
			records = append(records, append([]byte(nil), record...))
			return nil
		},
	}
	e, client := start(t, map[string]lambdaapi.Function{"exportconverter": fn})
	before := time.Now()
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("exportconverter"),
		InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("invocations: got %d, expect 3 (1 + 2 retries)", calls)
	}
	if len(records) != 1 {
		t.Fatalf("OnFailure: got %d records, expect 1", len(records))
	}
	if got := len(e.Failed()); got != 1 {
		t.Errorf("Failed: got %d events, expect 1 (kept as well)", got)
	}
	// Read as its consumer, ddbstream redrive, reads it.
	var rec redrive.InvocationFailure
	var respPayload struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(records[0], &rec); err != nil {
		t.Fatalf("record %s: %v", records[0], err)
	}
	if err := json.Unmarshal(rec.ResponsePayload, &respPayload); err != nil {
		t.Fatalf("responsePayload %s: %v", rec.ResponsePayload, err)
	}
	acceptedID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	for _, f := range []struct {
		field       string
		got, expect any
	}{
		{"version", rec.Version, "1.0"},
		{"requestContext.requestId", rec.RequestContext.RequestID, acceptedID},
		{"requestContext.functionArn", rec.RequestContext.FunctionARN, "arn:aws:lambda:us-east-1:000000000000:function:exportconverter:$LATEST"},
		{"requestContext.condition", rec.RequestContext.Condition, "RetriesExhausted"},
		{"requestContext.approximateInvokeCount", rec.RequestContext.ApproximateInvokeCount, 3},
		{"responseContext.statusCode", rec.ResponseContext.StatusCode, 200},
		{"responseContext.executedVersion", rec.ResponseContext.ExecutedVersion, "$LATEST"},
		{"responseContext.functionError", rec.ResponseContext.FunctionError, "Unhandled"},
		{"responsePayload.errorMessage", respPayload.ErrorMessage, "process exited during the invocation"},
		{"responsePayload.errorType", respPayload.ErrorType, "Runtime.ExitError"},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.field, f.got, f.expect)
		}
	}
	if len(rec.RequestContext.RequestID) != 36 {
		t.Errorf("requestContext.requestId: got %q, expect a UUID", rec.RequestContext.RequestID)
	}
	if !bytes.Equal(rec.RequestPayload, payload) {
		t.Errorf("requestPayload: got %s, expect the event as sent, %s", rec.RequestPayload, payload)
	}
	at, err := time.Parse(time.RFC3339, rec.Timestamp)
	switch {
	case err != nil:
		t.Errorf("timestamp: %v", err)
	case !strings.HasSuffix(rec.Timestamp, "Z") || len(rec.Timestamp) != len("2006-01-02T15:04:05.000Z"):
		t.Errorf("timestamp: got %q, expect UTC with milliseconds", rec.Timestamp)
	case at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now()):
		t.Errorf("timestamp: got %s, expect between the invocation and now", at)
	}
	// ddbstream redrive reads the record as such and gets the event back.
	event, failure, err := redrive.AsyncEvent(string(records[0]))
	if err != nil {
		t.Fatalf("redrive.AsyncEvent: %v", err)
	}
	if failure == nil || failure.RequestContext.Condition != "RetriesExhausted" || failure.ErrorMessage() != "process exited during the invocation" {
		t.Errorf("redrive.AsyncEvent: got record %+v, expect the invocation record", failure)
	}
	if !bytes.Equal(event, payload) {
		t.Errorf("redrive.AsyncEvent: got event %s, expect %s", event, payload)
	}
}

func TestUndeliveredRecordStaysInFailed(t *testing.T) {
	rec := &recorder{failures: 100}
	delivered := 0
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke, OnFailure: func([]byte) error {
		delivered++ // one worker calls it: no lock needed
		return errors.New("queue gone")
	}}})
	if _, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("f"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"job":8}`)}); err != nil {
		t.Fatal(err)
	}
	wait(t, e)
	failed := e.Failed()
	if len(failed) != 1 || string(failed[0].Payload) != `{"job":8}` || failed[0].Attempts != 1 {
		t.Errorf("Failed: got %+v, expect the event after its one attempt", failed)
	}
	// A plain error has no type: the record carries its message only.
	if len(failed) == 1 {
		if got, expect := string(failed[0].ErrorPayload), `{"errorMessage":"Runtime.ExitError: process exited during the invocation"}`; got != expect {
			t.Errorf("ErrorPayload: got %s, expect %s", got, expect)
		}
	}
	if delivered != 1 {
		t.Errorf("OnFailure calls: got %d, expect 1 (no retry)", delivered)
	}
}

func TestRequestResponseAnswersThePayloadOrTheError(t *testing.T) {
	rec := &recorder{failures: 1}
	_, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke}})
	ctx := context.Background()
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`1`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.FunctionError); got != "Unhandled" {
		t.Errorf("first call: FunctionError: got %q, expect Unhandled", got)
	}
	if !strings.Contains(string(out.Payload), "Runtime.ExitError") {
		t.Errorf("first call: Payload: got %s, expect the error", out.Payload)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		field       string
		got, expect any
	}{
		{"StatusCode", out.StatusCode, int32(200)},
		{"FunctionError", aws.ToString(out.FunctionError), ""},
		{"Payload", string(out.Payload), `{"done":2}`},
		{"ExecutedVersion", aws.ToString(out.ExecutedVersion), "$LATEST"},
	} {
		if f.got != f.expect {
			t.Errorf("second call: %s: got %v, expect %v", f.field, f.got, f.expect)
		}
	}
	dry, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeDryRun})
	if err != nil {
		t.Fatal(err)
	}
	if dry.StatusCode != http.StatusNoContent {
		t.Errorf("DryRun: StatusCode: got %d, expect 204", dry.StatusCode)
	}
	if got := len(rec.got()); got != 2 {
		t.Errorf("invocations: got %d, expect 2 (DryRun runs nothing)", got)
	}
}

// TestDenyAnswersAccessDenied: while denied, every invocation is
// refused as Lambda refuses a caller without lambda:InvokeFunction, and
// nothing runs; afterwards invocations run again.
func TestDenyAnswersAccessDenied(t *testing.T) {
	rec := &recorder{}
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke}})
	ctx := context.Background()
	e.Deny(true)
	for _, typ := range []types.InvocationType{types.InvocationTypeEvent, types.InvocationTypeRequestResponse} {
		_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: typ, Payload: []byte(`{}`)})
		var api smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Errorf("%s while denied: got %v, expect 403 AccessDeniedException", typ, err)
		}
	}
	e.Deny(false)
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("after Deny(false): %v", err)
	}
	if got := len(rec.got()); got != 1 {
		t.Errorf("invocations: got %d, expect 1 (none while denied)", got)
	}
}

func TestInvokeErrorsHaveTheServiceShapes(t *testing.T) {
	rec := &recorder{}
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke}})
	ctx := context.Background()
	var notFound *types.ResourceNotFoundException
	var badContent *types.InvalidRequestContentException
	var tooLarge *types.RequestTooLargeException
	for _, tc := range []struct {
		name string
		in   *lambda.InvokeInput
		as   any
	}{
		{"unknown function", &lambda.InvokeInput{FunctionName: aws.String("other"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}, &notFound},
		{"a version", &lambda.InvokeInput{FunctionName: aws.String("f:3"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}, &notFound},
		{"not JSON", &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{`)}, &badContent},
		{"over 1 MB asynchronous", &lambda.InvokeInput{FunctionName: aws.String("f"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`"` + strings.Repeat("x", 1<<20) + `"`)}, &tooLarge},
	} {
		_, err := client.Invoke(ctx, tc.in)
		if err == nil {
			t.Errorf("%s: got no error, expect %T", tc.name, tc.as)
			continue
		}
		if !errors.As(err, tc.as) {
			t.Errorf("%s: got %v, expect %T", tc.name, err, tc.as)
		}
	}
	if got := len(rec.got()); got != 0 {
		t.Errorf("invocations: got %d, expect none", got)
	}
	if got := e.Pending(); got != 0 {
		t.Errorf("Pending: got %d, expect none", got)
	}
}

func TestUnsignedRequestIsRefused(t *testing.T) {
	e, err := lambdaapi.New(map[string]lambdaapi.Function{"f": {Invoke: (&recorder{}).invoke}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/2015-03-31/functions/f/invocations", strings.NewReader(`{}`)))
	if rec.Code != http.StatusForbidden {
		t.Errorf("status: got %d, expect 403", rec.Code)
	}
}

func TestNewRefusesBadFunctions(t *testing.T) {
	for name, fns := range map[string]map[string]lambdaapi.Function{
		"no Invoke":       {"f": {}},
		"three retries":   {"f": {Invoke: (&recorder{}).invoke, Retries: 3}},
		"name with colon": {"a:b": {Invoke: (&recorder{}).invoke}},
	} {
		if e, err := lambdaapi.New(fns); err == nil {
			e.Close()
			t.Errorf("%s: got no error, expect one", name)
		}
	}
}

// The SDK's own ListEventSourceMappings reads the mappings back, filtered
// by stream and function as the API filters them.
func TestListEventSourceMappingsThroughTheSDK(t *testing.T) {
	e, err := lambdaapi.New(map[string]lambdaapi.Function{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	modified := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
	stream := "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2026-01-01T00:00:00.000"
	e.AddMapping(lambdaapi.Mapping{UUID: "u1", EventSourceARN: stream, FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:streamer",
		State: "Enabled", StartingPosition: "TRIM_HORIZON", LastModified: modified})
	e.AddMapping(lambdaapi.Mapping{UUID: "u2", EventSourceARN: stream, FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:other",
		State: "Disabled", StartingPosition: "LATEST", LastModified: modified})
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	tests := []struct {
		name, fn string
		expect   []string
	}{
		{"by stream", "", []string{"u1", "u2"}},
		{"by stream and function name", "streamer", []string{"u1"}},
		{"by stream and function ARN", "arn:aws:lambda:us-east-1:000000000000:function:other", []string{"u2"}},
	}
	for _, tc := range tests {
		in := &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(stream)}
		if tc.fn != "" {
			in.FunctionName = aws.String(tc.fn)
		}
		out, err := client.ListEventSourceMappings(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, m := range out.EventSourceMappings {
			got = append(got, aws.ToString(m.UUID))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.expect) {
			t.Errorf("%s: got %v, expect %v", tc.name, got, tc.expect)
		}
		if len(out.EventSourceMappings) > 0 {
			m := out.EventSourceMappings[0]
			if !aws.ToTime(m.LastModified).Equal(modified) || m.StartingPosition == "" || aws.ToString(m.State) == "" {
				t.Errorf("%s: got %+v, expect LastModified %v and a position and state", tc.name, m, modified)
			}
		}
	}
}
