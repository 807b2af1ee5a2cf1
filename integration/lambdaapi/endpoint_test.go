package lambdaapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbstream/pipeline/integration/lambdaapi"
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
}

func (r *recorder) invoke(_ context.Context, payload []byte) ([]byte, error, error) {
	r.mu.Lock()
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
	rec := &recorder{failures: 2}
	e, client := start(t, map[string]lambdaapi.Function{"f": {Invoke: rec.invoke, Retries: 2, RetryDelay: 10 * time.Millisecond}})
	ctx := context.Background()
	for _, p := range []string{`"a"`, `"b"`} {
		if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, e)
	// "a" fails; "b", queued meanwhile, runs before a's retry and fails;
	// then both retries succeed.
	got := strings.Join(rec.got(), " ")
	if expect := `"a" "b" "a" "b"`; got != expect {
		t.Errorf("invocations: got %s, expect %s", got, expect)
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
