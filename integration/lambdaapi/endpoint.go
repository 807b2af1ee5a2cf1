package lambdaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/integration/internal/lambdarecord"
	"github.com/ddbstream/pipeline/integration/internal/wake"
)

// Invoker runs one invocation of a function. fnErr is a function error
// (an error the handler returned, a crash, a timeout), which Lambda
// retries; err means the invocation could not run at all (the emulator
// was stopped), and ends the event.
type Invoker func(ctx context.Context, payload []byte) (resp []byte, fnErr error, err error)

// Function is one function the endpoint serves.
type Function struct {
	// Invoke runs the function. The queue calls it for one event at a
	// time; a synchronous call may come meanwhile, so it must be safe for
	// concurrent use (runtimeapi.Function.Invoke is: it runs one
	// invocation at a time, as one execution environment does).
	//
	// It may be nil for a function registered only for its configuration
	// (Environment): one another service invokes, such as the forwarder,
	// which EventBridge's rule invokes (the local relay). Invoke then
	// answers 403 AccessDeniedException, as AWS answers every caller of
	// the local pipeline there: only the rule's service principal may
	// invoke such a function (its resource policy), and no role or
	// operator policy grants lambda:InvokeFunction on it.
	Invoke Invoker
	// Environment, when not nil, is the function's configured environment
	// variables, which GetFunctionConfiguration returns as
	// Environment.Variables (the way ddbstream replay and redrive read a
	// deployed function's settings). Lambda's reserved keys (AWS_REGION,
	// the credentials, ...) are left out of the answer, as Lambda sets them
	// in the execution environment and never in the configuration. The map
	// is read at each request, not copied, so that the pipeline may finish
	// filling it after New; it must not change once requests are served.
	// A function registered without one answers GetFunctionConfiguration
	// with UnknownOperationException: the endpoint does not make up a
	// configuration it was not given.
	Environment map[string]string
	// Retries is the asynchronous invoke configuration's
	// MaximumRetryAttempts: 0 to 2, and Lambda's default is 2.
	Retries int
	// RetryDelay spaces an event's attempts. Nothing waits on it: Pending
	// and Changed report when the retries are over.
	RetryDelay time.Duration
	// OnFailure, when set, is the function's on-failure destination: it
	// receives, for each event whose attempts are all spent, the
	// invocation record Lambda sends there (Failure.Record), which an SQS
	// destination receives as the message body. It is called on the
	// function's queue before the event stops being pending, so that
	// Wait returns after it, and must not block. An error it returns is
	// not retried; the event stays in Failed either way.
	OnFailure func(record []byte) error
}

// Failure is an asynchronous event whose every attempt failed: what the
// function's on-failure destination receives.
type Failure struct {
	// Function is the function's name.
	Function string
	// Payload is the event as invoked.
	Payload []byte
	// Attempts counts the invocations made, the first included.
	Attempts int
	// Error is the last attempt's function error.
	Error string
	// ErrorPayload is that error as the record's responsePayload:
	// {"errorMessage", "errorType"} as the runtime API reports it, or only
	// errorMessage for an error of unknown type.
	ErrorPayload []byte
	// RequestID is the asynchronous invocation's ID (the 202 answer's
	// X-Amzn-RequestId); At is when Lambda gave up on the event.
	RequestID string
	At        time.Time
}

// ConditionRetriesExhausted is the record's condition when every attempt
// failed, the only way the model gives up (it has no event age limit).
const ConditionRetriesExhausted = lambdarecord.ConditionRetriesExhausted

// Record renders the failure as the invocation record Lambda sends the
// on-failure destination (lambdarecord.Invocation).
func (f Failure) Record() ([]byte, error) {
	return lambdarecord.Invocation{FunctionARN: arn(f.Function, "$LATEST"), Payload: f.Payload, Attempts: f.Attempts,
		ErrorPayload: f.ErrorPayload, RequestID: f.RequestID, At: f.At}.Record()
}

// Endpoint is the Invoke API for a fixed set of functions. Create it with
// New and stop it with Close.
type Endpoint struct {
	fns     map[string]*function
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	changed wake.Signal

	mu       sync.Mutex
	pending  int
	failed   []Failure
	denied   bool
	mappings []Mapping
}

// Deny answers every invocation from now on as Lambda answers a caller
// without lambda:InvokeFunction (403 AccessDeniedException), until
// Deny(false): the local stand-in for a role missing its permission.
func (e *Endpoint) Deny(denied bool) { e.mu.Lock(); e.denied = denied; e.mu.Unlock() }

// function is one served function and its asynchronous queue.
type function struct {
	name  string
	cfg   Function
	queue chan *event

	mu          sync.Mutex
	invocations int
	accepted    int
}

// event is one asynchronous invocation and its attempts so far.
type event struct {
	requestID string
	payload   []byte
	attempts  int
}

// functionName is a function's name: Lambda allows 1 to 64 letters,
// digits, hyphens and underscores.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// queueSize bounds the events queued per function: far more than the
// local pipeline ever queues (one per export data file).
const queueSize = 1 << 16

// New serves functions, by name. Each function's queue is worked from now
// until Close.
func New(functions map[string]Function) (*Endpoint, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{fns: map[string]*function{}, ctx: ctx, cancel: cancel}
	for name, cfg := range functions {
		if (cfg.Invoke == nil && cfg.Environment == nil) || cfg.Retries < 0 || cfg.Retries > 2 || !functionName.MatchString(name) {
			cancel()
			return nil, fmt.Errorf("lambdaapi: function %q: want a function name, an Invoke or an Environment, and 0 to 2 retries", name)
		}
		f := &function{name: name, cfg: cfg, queue: make(chan *event, queueSize)}
		e.fns[name] = f
		if cfg.Invoke != nil {
			e.workers.Add(1)
			go e.work(f)
		}
	}
	return e, nil
}

// Close stops the queues, dropping events not yet run, and returns once
// no invocation runs.
func (e *Endpoint) Close() {
	e.cancel()
	e.workers.Wait()
}

// Changed returns a channel closed when Pending or Failed next change, so
// that a waiter needs no polling interval.
func (e *Endpoint) Changed() <-chan struct{} { return e.changed.C() }

// Pending counts the asynchronous events accepted and not yet ended: queued,
// running, or waiting for a retry.
func (e *Endpoint) Pending() int { e.mu.Lock(); defer e.mu.Unlock(); return e.pending }

// Failed returns the events sent to the on-failure list so far.
func (e *Endpoint) Failed() []Failure {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Failure(nil), e.failed...)
}

// Invocations counts the invocations of the named function, retries and
// synchronous calls included.
func (e *Endpoint) Invocations(name string) int {
	f, ok := e.fns[name]
	if !ok {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.invocations
}

// Accepted counts the asynchronous events accepted for the named function.
func (e *Endpoint) Accepted(name string) int {
	f, ok := e.fns[name]
	if !ok {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted
}

// Wait returns once no asynchronous event is pending, or when ctx ends.
func (e *Endpoint) Wait(ctx context.Context) error {
	for {
		ch := e.changed.C()
		if e.Pending() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lambdaapi: %d events still pending: %w", e.Pending(), ctx.Err())
		case <-ch:
		}
	}
}

// work runs f's queue, one event at a time.
func (e *Endpoint) work(f *function) {
	defer e.workers.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case ev := <-f.queue:
			e.attempt(f, ev)
		}
	}
}

// attempt invokes f with ev once, then ends the event, schedules its
// retry, or sends it to the on-failure list and destination.
func (e *Endpoint) attempt(f *function, ev *event) {
	ev.attempts++
	_, fnErr, err := e.invoke(e.ctx, f, ev.payload)
	if err != nil && e.ctx.Err() != nil {
		return // stopped: the event is dropped with the queue
	}
	if err != nil {
		fnErr = err // the invocation could not run: a failed attempt
	}
	if fnErr == nil {
		e.end(nil)
		return
	}
	if ev.attempts > f.cfg.Retries {
		failure := Failure{Function: f.name, Payload: ev.payload, Attempts: ev.attempts, Error: fnErr.Error(),
			ErrorPayload: lambdarecord.ErrorPayload(fnErr), RequestID: ev.requestID, At: time.Now()}
		if f.cfg.OnFailure != nil {
			if rec, err := failure.Record(); err == nil {
				_ = f.cfg.OnFailure(rec) // undelivered, it stays in Failed only
			}
		}
		e.end(&failure)
		return
	}
	// Lambda puts the event back in the queue: events queued meanwhile
	// run first.
	go func() {
		t := time.NewTimer(f.cfg.RetryDelay)
		defer t.Stop()
		select {
		case <-e.ctx.Done():
		case <-t.C:
			f.queue <- ev
		}
	}()
}

func (e *Endpoint) invoke(ctx context.Context, f *function, payload []byte) ([]byte, error, error) {
	f.mu.Lock()
	f.invocations++
	f.mu.Unlock()
	return f.cfg.Invoke(ctx, payload)
}

// end ends one pending event, keeping failure for the on-failure list.
func (e *Endpoint) end(failure *Failure) {
	e.mu.Lock()
	e.pending--
	if failure != nil {
		e.failed = append(e.failed, *failure)
	}
	e.mu.Unlock()
	e.changed.Notify()
}

// Payload limits of Invoke (API reference): 6 MB synchronous, 1 MB
// asynchronous.
const (
	maxSyncPayload  = 6 << 20
	maxAsyncPayload = 1 << 20
)

// ServeHTTP serves Invoke.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	if r.Method == http.MethodGet && strings.TrimSuffix(r.URL.Path, "/") == mappingsPath {
		e.listMappings(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	if ref, found := strings.CutSuffix(rest, configurationPath); ok && found && ref != "" && r.Method == http.MethodGet {
		e.getConfiguration(w, r, ref)
		return
	}
	ref, found := strings.CutSuffix(rest, "/invocations")
	if r.Method != http.MethodPost || !ok || !found || ref == "" {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "only Invoke (POST /2015-03-31/functions/{name}/invocations), GetFunctionConfiguration and ListEventSourceMappings are served here")
		return
	}
	name, qualifier := parseFunction(ref)
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	e.mu.Lock()
	denied := e.denied
	e.mu.Unlock()
	if denied {
		writeError(w, http.StatusForbidden, "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction on resource: "+arn(name, qualifier))
		return
	}
	f, ok := e.fns[name]
	if !ok || (qualifier != "" && qualifier != "$LATEST") {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn(name, qualifier))
		return
	}
	if f.cfg.Invoke == nil {
		// Function.Invoke says why: only its rule's service principal
		// invokes it.
		writeError(w, http.StatusForbidden, "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction on resource: "+
			arn(name, qualifier)+" (only its EventBridge rule invokes it)")
		return
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	limit := maxSyncPayload
	switch typ {
	case "", "RequestResponse":
	case "Event":
		limit = maxAsyncPayload
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException", "InvocationType must be RequestResponse, Event or DryRun")
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the request body: "+err.Error())
		return
	}
	if len(payload) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the %s invocation type", limit, orDefault(typ, "RequestResponse")))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}") // the SDK sends no body for a nil Payload
	}
	if !json.Valid(payload) {
		writeError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	if typ == "Event" {
		e.mu.Lock()
		e.pending++
		e.mu.Unlock()
		f.mu.Lock()
		f.accepted++
		f.mu.Unlock()
		id := lambdarecord.NewRequestID()
		f.queue <- &event{requestID: id, payload: payload}
		e.changed.Notify()
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	resp, fnErr, err := e.invoke(r.Context(), f, payload)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if fnErr != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		body, _ := json.Marshal(map[string]string{"errorMessage": fnErr.Error(), "errorType": "Error"})
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write(resp)
}

// localAccount and localRegion make the ARNs of the local functions.
const (
	localAccount = "000000000000"
	localRegion  = "us-east-1"
)

func arn(name, qualifier string) string {
	a := "arn:aws:lambda:" + localRegion + ":" + localAccount + ":function:" + name
	if qualifier != "" {
		a += ":" + qualifier
	}
	return a
}

// parseFunction reads the forms FunctionName takes: my-function,
// 123456789012:function:my-function or
// arn:aws:lambda:us-west-2:123456789012:function:my-function, each with
// an optional :qualifier.
func parseFunction(ref string) (name, qualifier string) {
	if i := strings.Index(ref, "function:"); i >= 0 {
		ref = ref[i+len("function:"):]
	}
	name, qualifier, _ = strings.Cut(ref, ":")
	return name, qualifier
}

// writeError answers in the REST-JSON protocol's error shape: the SDK
// takes the code from X-Amzn-ErrorType.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": msg})
	_, _ = w.Write(body)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
