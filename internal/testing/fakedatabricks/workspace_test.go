package fakedatabricks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The tests speak to the workspace over real HTTPS (httptest's TLS server,
// as the forwarder's tests and the end-to-end tests serve it) with plain
// net/http requests shaped as the Databricks REST reference documents
// them, not through internal/databricks: the fake is what proves that
// client, so it must be proven independently of it.

// server is a workspace served over TLS, with a client that reports
// redirects instead of following them.
type server struct {
	ws  *Workspace
	srv *httptest.Server
	hc  *http.Client
}

func serve(t *testing.T, opts ...Option) *server {
	t.Helper()
	ws := New(opts...)
	srv := httptest.NewTLSServer(ws)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &server{ws: ws, srv: srv, hc: hc}
}

// reply is one answer, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorCode is the error_code of a Databricks error body, or the error of
// an OAuth one.
func (r reply) errorCode() string {
	var e struct {
		ErrorCode string `json:"error_code"`
		Error     string `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.Error
}

func (s *server) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	r, err := s.try(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is send for goroutines, which must not call t.Fatal.
func (s *server) try(req *http.Request) (reply, error) {
	resp, err := s.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// request sends method path with a Bearer token (none when empty).
func (s *server) request(t *testing.T, method, path, token string, body []byte, contentType string) reply {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return s.send(t, req)
}

func (s *server) postJSON(t *testing.T, path, token string, v any) reply {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.request(t, http.MethodPost, path, token, b, "application/json")
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

// TestPersonalAccessTokens: every API call needs an accepted Bearer token;
// anything else is refused before it has any effect.
func TestPersonalAccessTokens(t *testing.T) {
	tests := []struct {
		name         string
		header       string // Authorization
		prepare      func(*Workspace)
		expectStatus int
		expectCode   string
		expectRuns   int
	}{
		{"accepted token", "Bearer dapi-good", nil, 200, "", 1},
		{"wrong token", "Bearer dapi-wrong", nil, 401, "UNAUTHENTICATED", 0},
		{"no credentials", "", nil, 401, "UNAUTHENTICATED", 0},
		{"empty bearer", "Bearer ", nil, 401, "UNAUTHENTICATED", 0},
		{"basic instead of bearer", "Basic ZGFwaS1nb29kOg==", nil, 401, "UNAUTHENTICATED", 0},
		{"lower-case scheme", "bearer dapi-good", nil, 401, "UNAUTHENTICATED", 0},
		{"revoked token", "Bearer dapi-good", func(w *Workspace) { w.RevokeToken("dapi-good") }, 401, "UNAUTHENTICATED", 0},
		{"added token", "Bearer dapi-new", func(w *Workspace) { w.AddToken("dapi-new") }, 200, "", 1},
		{"added then revoked", "Bearer dapi-new", func(w *Workspace) { w.AddToken("dapi-new"); w.RevokeToken("dapi-new") }, 401, "UNAUTHENTICATED", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("dapi-good"))
			if tc.prepare != nil {
				tc.prepare(s.ws)
			}
			req, err := http.NewRequest(http.MethodPost, s.srv.URL+runNowPath, bytes.NewReader([]byte(`{"job_id":42}`)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			got := s.send(t, req)
			if got.status != tc.expectStatus {
				t.Errorf("status: got %d, expect %d (%s)", got.status, tc.expectStatus, got.body)
			}
			if code := got.errorCode(); code != tc.expectCode {
				t.Errorf("error_code: got %q, expect %q", code, tc.expectCode)
			}
			if runs := len(s.ws.Runs()); runs != tc.expectRuns {
				t.Errorf("runs: got %d, expect %d", runs, tc.expectRuns)
			}
			reqs := s.ws.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests: got %d, expect 1", len(reqs))
			}
			if reqs[0].Status != tc.expectStatus || reqs[0].Method != http.MethodPost || reqs[0].Path != runNowPath {
				t.Errorf("recorded: got %+v, expect POST %s answered %d", reqs[0], runNowPath, tc.expectStatus)
			}
		})
	}
}

// TestUnknownEndpoints: calls the fake does not model are refused, not
// silently accepted.
func TestUnknownEndpoints(t *testing.T) {
	tests := []struct{ method, path string }{
		{http.MethodGet, filesPrefix + "/Volumes/c/s/v/f"},
		{http.MethodPost, "/api/2.0/dbfs/read"},
		{http.MethodGet, runNowPath},
		{http.MethodPost, "/api/2.1/jobs/runs/submit"},
		{http.MethodDelete, statementsPath + "/x"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			got := s.request(t, tc.method, tc.path, "t", []byte(`{}`), "application/json")
			if got.status != http.StatusNotFound || got.errorCode() != "ENDPOINT_NOT_FOUND" {
				t.Errorf("got %d %s, expect 404 ENDPOINT_NOT_FOUND", got.status, got.errorCode())
			}
		})
	}
}

// TestFaults: each Fault field does what it says, and a faulted request
// has no effect.
func TestFaults(t *testing.T) {
	const file = filesPrefix + "/Volumes/c/s/v/f"
	type call struct {
		method, path, token string
	}
	put := call{http.MethodPut, file, "t"}
	runNow := call{http.MethodPost, runNowPath, "t"}
	type expect struct {
		status     int
		code       string // error_code; "" for none
		retryAfter string
		location   string
	}
	ok204 := expect{status: 204}
	tests := []struct {
		name        string
		faults      []Fault
		calls       []call
		expect      []expect
		expectFiles int // volume files stored at the end
		expectRuns  int
	}{
		{"status and error code", []Fault{{Status: 503, ErrorCode: "TEMPORARILY_UNAVAILABLE"}},
			[]call{put, put}, []expect{{status: 503, code: "TEMPORARILY_UNAVAILABLE"}, ok204}, 1, 0},
		{"error code defaults to the status text", []Fault{{Status: 429}},
			[]call{put}, []expect{{status: 429, code: "Too Many Requests"}}, 0, 0},
		{"retry-after", []Fault{{Status: 429, RetryAfter: "7"}},
			[]call{put, put}, []expect{{status: 429, code: "Too Many Requests", retryAfter: "7"}, ok204}, 1, 0},
		{"times", []Fault{{Status: 500, Times: 3}},
			[]call{put, put, put, put}, []expect{{status: 500, code: "Internal Server Error"}, {status: 500, code: "Internal Server Error"}, {status: 500, code: "Internal Server Error"}, ok204}, 1, 0},
		{"times 0 means once", []Fault{{Status: 500}},
			[]call{put, put}, []expect{{status: 500, code: "Internal Server Error"}, ok204}, 1, 0},
		{"in the order added", []Fault{{Status: 503}, {Status: 429}},
			[]call{put, put, put}, []expect{{status: 503, code: "Service Unavailable"}, {status: 429, code: "Too Many Requests"}, ok204}, 1, 0},
		{"method selects", []Fault{{Method: http.MethodPost, Status: 503}},
			[]call{put, runNow, runNow}, []expect{ok204, {status: 503, code: "Service Unavailable"}, {status: 200}}, 1, 1},
		{"path prefix selects", []Fault{{PathPrefix: runNowPath, Status: 502}},
			[]call{put, runNow, runNow}, []expect{ok204, {status: 502, code: "Bad Gateway"}, {status: 200}}, 1, 1},
		{"redirect is answered, not applied", []Fault{{Status: 307, Location: "https://elsewhere.example/api"}},
			[]call{put, put}, []expect{{status: 307, code: "Temporary Redirect", location: "https://elsewhere.example/api"}, ok204}, 1, 0},
		{"faults come before authentication", []Fault{{Status: 503}},
			[]call{{http.MethodPut, file, ""}, {http.MethodPut, file, ""}}, []expect{{status: 503, code: "Service Unavailable"}, {status: 401, code: "UNAUTHENTICATED"}}, 0, 0},
		{"faulted run-now starts no run", []Fault{{Status: 503, Times: 2}},
			[]call{runNow, runNow}, []expect{{status: 503, code: "Service Unavailable"}, {status: 503, code: "Service Unavailable"}}, 0, 0},
		{"delay then a normal answer", []Fault{{Delay: time.Millisecond}},
			[]call{put}, []expect{ok204}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			for _, f := range tc.faults {
				s.ws.Inject(f)
			}
			for i, c := range tc.calls {
				body := []byte("content")
				if c.path == runNowPath {
					body = []byte(`{"job_id":42,"idempotency_token":"tok-` + string(rune('a'+i)) + `"}`)
				}
				got := s.request(t, c.method, c.path, c.token, body, "")
				want := tc.expect[i]
				if got.status != want.status {
					t.Errorf("call %d status: got %d, expect %d", i, got.status, want.status)
				}
				if code := got.errorCode(); code != want.code {
					t.Errorf("call %d error_code: got %q, expect %q", i, code, want.code)
				}
				if v := got.header.Get("Retry-After"); v != want.retryAfter {
					t.Errorf("call %d Retry-After: got %q, expect %q", i, v, want.retryAfter)
				}
				if v := got.header.Get("Location"); v != want.location {
					t.Errorf("call %d Location: got %q, expect %q", i, v, want.location)
				}
			}
			if got := len(s.ws.Files()); got != tc.expectFiles {
				t.Errorf("files: got %d, expect %d", got, tc.expectFiles)
			}
			if got := len(s.ws.Runs()); got != tc.expectRuns {
				t.Errorf("runs: got %d, expect %d", got, tc.expectRuns)
			}
			reqs := s.ws.Requests()
			if len(reqs) != len(tc.calls) {
				t.Fatalf("requests recorded: got %d, expect %d", len(reqs), len(tc.calls))
			}
			for i, r := range reqs {
				if r.Status != tc.expect[i].status {
					t.Errorf("request %d recorded status: got %d, expect %d", i, r.Status, tc.expect[i].status)
				}
			}
		})
	}
}

// TestFaultDelayHoldsTheAnswer: a delayed request is answered only after
// its delay; a client that gives up gets no answer, its request is recorded
// as unanswered and not applied, and the fault is used up.
func TestFaultDelayHoldsTheAnswer(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		body         string
	}{
		{"request without a body", http.MethodGet, statementsPath + "/s1", ""},
		{"run-now", http.MethodPost, runNowPath, `{"job_id":42,"idempotency_token":"tok-a"}`},
		{"upload", http.MethodPut, filesPrefix + "/Volumes/c/s/v/f", "content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := New(WithToken("t"))
			ws.Inject(Fault{Delay: time.Hour})
			arrived := make(chan struct{}, 1)
			srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				ws.ServeHTTP(rw, r)
			}))
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer t")
			done := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			<-arrived
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("client: got %v, expect no answer before it gave up", err)
			}
			srv.Close() // waits for the handler to return

			reqs := ws.Requests()
			if len(reqs) != 1 || reqs[0].Status != 0 {
				t.Fatalf("recorded: got %+v, expect one unanswered request (status 0)", reqs)
			}
			if runs, files := len(ws.Runs()), len(ws.Files()); runs != 0 || files != 0 {
				t.Errorf("effects: got %d runs and %d files, expect none", runs, files)
			}
			ws.mu.Lock()
			left := ws.faults[0].Times
			ws.mu.Unlock()
			if left != 0 {
				t.Errorf("fault: got %d uses left, expect it used up by the abandoned request", left)
			}
		})
	}
}
