package fakedatabricks

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/internal/testing/responsestatus"
)

// Request is one request the workspace received, kept so that tests can
// count attempts and statuses the way a workspace's audit log would.
type Request struct {
	Method, Path string
	// Status is the status answered; 0 when the client went away before
	// any answer (during a Fault's Delay), as no answer was delivered.
	Status int
	// Bearer is the token presented, if any.
	Bearer string
}

// Fault makes matching requests fail, so that retry, backoff and
// credential-refresh paths can be proven without a misbehaving real
// workspace. Faults are used in the order added. A faulted request is not
// applied: its body is discarded and nothing is stored, started or loaded.
type Fault struct {
	// Method and PathPrefix select requests; empty matches all, including
	// the OAuth token endpoint.
	Method, PathPrefix string
	// Status is the status to answer; 0 answers normally after Delay.
	Status int
	// ErrorCode goes into the JSON error body; empty uses the status text.
	ErrorCode string
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Location is sent with redirect statuses.
	Location string
	// Delay holds the answer back, as a slow or hung server would. A client
	// that gives up during the delay gets no answer and its request is not
	// applied. The request body is read into memory before the delay, so
	// delayed uploads should be small.
	Delay time.Duration
	// Times is how many requests the fault affects; 0 means once.
	Times int
}

// Workspace is the fake. Create it with New and serve it with any HTTP
// server (httptest.NewTLSServer in tests). All its state is guarded by one
// mutex, so it may be served concurrently and inspected while it serves.
type Workspace struct {
	mu  sync.Mutex
	now func() time.Time // replaced by tests that check token expiry

	// tokens holds the accepted bearer tokens and when each expires; the
	// zero time never expires (personal access tokens).
	tokens    map[string]time.Time
	keepLimit int64
	requests  []Request
	faults    []Fault

	oauth oauthState
	files filesState
	jobs  jobsState
	sql   sqlState
	dbfs  dbfsState
}

// Option configures a Workspace.
type Option func(*Workspace)

// WithToken accepts a personal access token, which never expires.
func WithToken(token string) Option { return func(w *Workspace) { w.tokens[token] = time.Time{} } }

// New returns a workspace that accepts no credentials until options (or
// AddToken) add some.
func New(opts ...Option) *Workspace {
	w := &Workspace{
		now:       time.Now,
		tokens:    map[string]time.Time{},
		keepLimit: 64 << 20,
		oauth:     oauthState{clients: map[string]string{}, tokenLifetime: time.Hour},
		files:     filesState{files: map[string]*File{}},
		jobs:      jobsState{byToken: map[string]int64{}},
		sql:       sqlState{statementPolls: 1, statements: map[string]*statement{}, loaded: map[Load]bool{}, merged: map[Load]bool{}, tables: map[string][]string{}},
		dbfs:      dbfsState{files: map[string]*File{}, handles: map[int64]*dbfsUpload{}},
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Inject adds a fault.
func (w *Workspace) Inject(f Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	w.faults = append(w.faults, f)
}

// RevokeToken stops accepting a token, as when a secret is rotated.
func (w *Workspace) RevokeToken(token string) {
	w.mu.Lock()
	delete(w.tokens, token)
	w.mu.Unlock()
}

// AddToken starts accepting a personal access token, as when a new one is
// created before the old one is revoked.
func (w *Workspace) AddToken(token string) {
	w.mu.Lock()
	w.tokens[token] = time.Time{}
	w.mu.Unlock()
}

// Requests returns every request received, in order.
func (w *Workspace) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.requests...)
}

// authorized reports whether token is accepted now. Expired OAuth tokens
// are refused as a workspace refuses them, so a client that does not
// renew its token fails here too.
func (w *Workspace) authorized(token string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	exp, ok := w.tokens[token]
	return token != "" && ok && (exp.IsZero() || w.now().Before(exp))
}

// API paths, as the client (internal/databricks) calls them.
const (
	tokenPath      = "/oidc/v1/token"
	filesPrefix    = "/api/2.0/fs/files"
	runNowPath     = "/api/2.1/jobs/run-now"
	statementsPath = "/api/2.0/sql/statements"
	dbfsPrefix     = "/api/2.0/dbfs/"
)

// ServeHTTP implements http.Handler: it records the request, applies the
// first matching fault, authenticates, and routes by API.
func (w *Workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rec := &responsestatus.Writer{ResponseWriter: rw}
	bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !isBearer {
		bearer = ""
	}
	defer func() {
		w.mu.Lock()
		w.requests = append(w.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.Status, Bearer: bearer})
		w.mu.Unlock()
	}()
	if f, ok := w.takeFault(r); ok {
		if f.Delay > 0 {
			// net/http notices a client going away only once the request
			// body has been read, so read it first: a client that gives up
			// during the delay then always finds its request not applied.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				noAnswer()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				noAnswer()
			}
		}
		if f.Status != 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			if f.RetryAfter != "" {
				rec.Header().Set("Retry-After", f.RetryAfter)
			}
			if f.Location != "" {
				rec.Header().Set("Location", f.Location)
			}
			code := f.ErrorCode
			if code == "" {
				code = http.StatusText(f.Status)
			}
			apiError(rec, f.Status, code, "injected fault")
			return
		}
	}
	if r.URL.Path == tokenPath {
		w.token(rec, r)
		return
	}
	if !w.authorized(bearer) {
		apiError(rec, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
		return
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, filesPrefix+"/") && r.Method == http.MethodPut:
		w.putFile(rec, r, strings.TrimPrefix(p, filesPrefix))
	case p == runNowPath && r.Method == http.MethodPost:
		w.runNow(rec, r)
	case p == statementsPath && r.Method == http.MethodPost:
		w.submit(rec, r)
	case strings.HasPrefix(p, statementsPath+"/") && r.Method == http.MethodGet:
		w.poll(rec, strings.TrimPrefix(p, statementsPath+"/"))
	case strings.HasPrefix(p, dbfsPrefix) && r.Method == http.MethodPost:
		w.dbfsCall(rec, r, strings.TrimPrefix(p, dbfsPrefix))
	default:
		apiError(rec, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+p+"'")
	}
}

// noAnswer drops the connection without answering. A handler that just
// returned would make net/http send an empty 200, which a client still
// reading could take for success of a request that was never applied.
func noAnswer() { panic(http.ErrAbortHandler) }

func (w *Workspace) takeFault(r *http.Request) (Fault, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.faults {
		if f.Times > 0 && (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			w.faults[i].Times--
			return f, true
		}
	}
	return Fault{}, false
}

// apiError answers in the error shape every Databricks REST API uses
// (https://docs.databricks.com/api/account/errors).
func apiError(rw http.ResponseWriter, status int, code, msg string) {
	writeJSON(rw, status, map[string]string{"error_code": code, "message": msg})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
