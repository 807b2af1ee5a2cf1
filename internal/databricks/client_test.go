package databricks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// rotatingCreds serves credentials from a list, moving to the next one on
// Invalidate, as a secret does when it has been rotated.
type rotatingCreds struct {
	mu            sync.Mutex
	list          []secret.Credentials
	i, gets, invs int
}

func (r *rotatingCreds) Get(context.Context) (secret.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets++
	return r.list[r.i], nil
}

func (r *rotatingCreds) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invs++
	r.i = min(r.i+1, len(r.list)-1)
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return nil
}

type setup struct {
	ws     *fakedatabricks.Workspace
	srv    *httptest.Server
	creds  *rotatingCreds
	sleeps *sleeps
	client *Client
}

func newSetup(t *testing.T, ws *fakedatabricks.Workspace, creds []secret.Credentials, opts ...Option) *setup {
	t.Helper()
	srv := httptest.NewTLSServer(ws)
	t.Cleanup(srv.Close)
	for i := range creds {
		creds[i].Host = srv.URL
	}
	s := &setup{ws: ws, srv: srv, creds: &rotatingCreds{list: creds}, sleeps: &sleeps{}}
	s.client = New(s.creds, append([]Option{WithHTTPClient(srv.Client()), WithSleep(s.sleeps.sleep)}, opts...)...)
	return s
}

func pat(token string) []secret.Credentials { return []secret.Credentials{{Token: token}} }

func opener(b []byte) Opener {
	return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestUploadFile(t *testing.T) {
	s := newSetup(t, fakedatabricks.New(fakedatabricks.WithToken("t1")), pat("t1"))
	content := bytes.Repeat([]byte("line\n"), 1000)
	path := "/Volumes/main/cdc/landing/table=Orders/a b+c.jsonl.gz"
	res, err := s.client.UploadFile(context.Background(), path, int64(len(content)), opener(content))
	if err != nil || res.Attempts != 1 {
		t.Fatalf("UploadFile = %+v, %v", res, err)
	}
	f, ok := s.ws.Files()[path]
	if !ok || !bytes.Equal(f.Data, content) {
		t.Fatalf("stored %+v; files %v", f, s.ws.Files())
	}
	if _, err := s.client.UploadFile(context.Background(), "relative/x", 1, opener([]byte("x"))); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := s.client.UploadFile(context.Background(), "/tmp/x", 1, opener([]byte("x"))); err == nil ||
		!strings.Contains(err.Error(), "HTTP 400 INVALID_PARAMETER_VALUE") {
		t.Errorf("non-volume path: %v", err)
	}
}

func TestRetriesTemporaryFailures(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws.Inject(fakedatabricks.Fault{Status: 503, Times: 2})
	ws.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: "7"})
	s := newSetup(t, ws, pat("t1"))
	res, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 3, opener([]byte("abc")))
	if err != nil || res.Attempts != 4 || res.Retries() != 3 {
		t.Fatalf("UploadFile = %+v, %v; want success on the 4th attempt", res, err)
	}
	if got := s.sleeps.d; len(got) != 3 || got[2] != 7*time.Second || got[0] > 500*time.Millisecond || got[1] > time.Second {
		t.Errorf("waits %v; want two jittered backoffs then Retry-After 7s", got)
	}
	if f := ws.Files()["/Volumes/c/s/v/f"]; string(f.Data) != "abc" || f.Writes != 1 {
		t.Errorf("file %+v", f)
	}
}

func TestGivesUpAndStopsOnPermanentErrors(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws.Inject(fakedatabricks.Fault{Status: 500, Times: 10})
	s := newSetup(t, ws, pat("t1"), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	res, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err == nil || res.Attempts != 3 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("= %+v, %v", res, err)
	}
	ws2 := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws2.Inject(fakedatabricks.Fault{Status: 404, ErrorCode: "RESOURCE_DOES_NOT_EXIST"})
	s2 := newSetup(t, ws2, pat("t1"))
	res, err = s2.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || res.Attempts != 1 {
		t.Fatalf("permanent error: %+v, %v", res, err)
	}
}

func TestRetryAfterBeyondDeadlineGivesUpAtOnce(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: "120"})
	s := newSetup(t, ws, pat("t1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.client.UploadFile(ctx, "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err == nil || !strings.Contains(err.Error(), "no time left") || len(s.sleeps.d) != 0 {
		t.Fatalf("err = %v, waits %v", err, s.sleeps.d)
	}
}

func TestRotatedTokenIsRefetchedOnce(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("new"))
	s := newSetup(t, ws, []secret.Credentials{{Token: "old-revoked"}, {Token: "new"}})
	res, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err != nil || !res.Refreshed || s.creds.invs != 1 {
		t.Fatalf("= %+v, %v after %d invalidations", res, err, s.creds.invs)
	}
	// Both tokens bad: one refresh, then a clear permanent error.
	ws.RevokeToken("new")
	s.creds.i = 0
	res, err = s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 UNAUTHENTICATED") || res.Attempts != 2 {
		t.Fatalf("= %+v, %v", res, err)
	}
	if strings.Contains(err.Error(), "old-revoked") || strings.Contains(err.Error(), "new") && strings.Contains(err.Error(), "Bearer") {
		t.Errorf("error shows a token: %v", err)
	}
}

func TestOAuthTokenIsCachedAndRenewed(t *testing.T) {
	// The client's clock starts at the workspace's (the real one), so both
	// agree when the token expires; the test then moves the client's alone.
	now := time.Now()
	ws := fakedatabricks.New(fakedatabricks.WithClient("sp-1", "s3cr3t"), fakedatabricks.WithTokenLifetime(time.Hour))
	s := newSetup(t, ws, []secret.Credentials{{ClientID: "sp-1", ClientSecret: "s3cr3t"}}, WithClock(func() time.Time { return now }))
	for range 3 {
		if _, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if ws.TokensIssued() != 1 {
		t.Fatalf("%d tokens issued for 3 calls within the hour; want 1", ws.TokensIssued())
	}
	now = now.Add(56 * time.Minute) // within 5 minutes of expiry
	if _, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if ws.TokensIssued() != 2 {
		t.Fatalf("token not renewed shortly before expiry: %d issued", ws.TokensIssued())
	}
	for _, r := range ws.Requests() {
		if r.Path == "/oidc/v1/token" && r.Bearer != "" {
			t.Error("the token endpoint was sent a bearer token")
		}
	}
}

func TestOAuthRotatedClientSecret(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithClient("sp-1", "rotated"))
	s := newSetup(t, ws, []secret.Credentials{{ClientID: "sp-1", ClientSecret: "stale"}, {ClientID: "sp-1", ClientSecret: "rotated"}})
	res, err := s.client.UploadFile(context.Background(), "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err != nil || !res.Refreshed {
		t.Fatalf("= %+v, %v", res, err)
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	var aborted atomic.Int32
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if aborted.Add(1) <= 2 {
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}
		ws.ServeHTTP(w, r)
	})
	srv := httptest.NewTLSServer(flaky)
	defer srv.Close()
	sl := &sleeps{}
	c := New(&rotatingCreds{list: []secret.Credentials{{Host: srv.URL, Token: "t1"}}}, WithHTTPClient(srv.Client()), WithSleep(sl.sleep))
	res, err := c.UploadFile(context.Background(), "/Volumes/c/s/v/f", 2, opener([]byte("ok")))
	if err != nil || res.Attempts != 3 {
		t.Fatalf("= %+v, %v", res, err)
	}
}

// TestAuthorizationIsNotSentToAnotherHost: a redirect to another host,
// here a 307 that net/http would follow with the body, reaches nobody.
func TestAuthorizationIsNotSentToAnotherHost(t *testing.T) {
	var calls atomic.Int32
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, `{"run_id": 77}`)
	}))
	defer other.Close()
	ws := fakedatabricks.New(fakedatabricks.WithToken("secret-token"))
	ws.Inject(fakedatabricks.Fault{Status: http.StatusTemporaryRedirect, Location: other.URL + "/api/2.1/jobs/run-now?token=abc"})
	s := newSetup(t, ws, pat("secret-token"))
	s.client.http.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(other.Certificate())
	runID, _, err := s.client.RunNow(context.Background(), 5, nil, "tok")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || runID != 0 {
		t.Fatalf("RunNow = %d, %v; expect an *APIError", runID, err)
	}
	if got, expect := apiErr.Location, other.URL+"/api/2.1/jobs/run-now"; got != expect {
		t.Errorf("Location: got %q, expect %q (no query)", got, expect)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("the other host received %d requests, expect 0", got)
	}
}

func TestRunNowIsIdempotent(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws.Inject(fakedatabricks.Fault{Status: 503})
	s := newSetup(t, ws, pat("t1"))
	params := map[string]string{"s3_uri": "s3://b/k"}
	a, _, err := s.client.RunNow(context.Background(), 42, params, "token-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.client.RunNow(context.Background(), 42, params, "token-1")
	if err != nil || a != b || len(ws.Runs()) != 1 {
		t.Fatalf("runs %d and %d, %d started; want one run", a, b, len(ws.Runs()))
	}
	if _, _, err := s.client.RunNow(context.Background(), 42, params, strings.Repeat("x", 65)); err == nil {
		t.Error("65-character token accepted")
	}
}

func TestExecuteStatement(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"), fakedatabricks.WithStatementPolls(3), fakedatabricks.WithFailingStatements("bad_table"),
		fakedatabricks.WithTable("main.cdc.orders"))
	s := newSetup(t, ws, pat("t1"))
	stmt := "COPY INTO main.cdc.orders FROM 's3://b/k.jsonl.gz' FILEFORMAT = JSON"
	for range 2 {
		if _, _, err := s.client.ExecuteStatement(context.Background(), "wh-1", stmt); err != nil {
			t.Fatal(err)
		}
	}
	if loads := ws.Loads(); len(loads) != 1 || loads[0].Table != "main.cdc.orders" {
		t.Errorf("loads %+v; want the file loaded once", loads)
	}
	if len(s.sleeps.d) != 6 {
		t.Errorf("%d polls; want 3 per statement", len(s.sleeps.d))
	}
	_, _, err := s.client.ExecuteStatement(context.Background(), "wh-1", "COPY INTO bad_table FROM 's3://b/k'")
	var se *StatementError
	if !errors.As(err, &se) || se.State != "FAILED" || !strings.Contains(err.Error(), "PARSE_SYNTAX_ERROR") {
		t.Fatalf("err = %v", err)
	}
}

// TestExecuteStatementOnce: a setup statement is sent once per client and
// warehouse after it succeeded, again after it failed or was forgotten,
// and every call made at once is safe.
func TestExecuteStatementOnce(t *testing.T) {
	const (
		create = "CREATE TABLE IF NOT EXISTS main.cdc.t (`a` STRING)"
		bad    = "CREATE TABLE IF NOT EXISTS main.cdc.bad_table (`a` STRING)"
	)
	type step struct {
		warehouse, statement string
		forget               bool // ForgetStatement before the call
		expectRan, expectErr bool
	}
	tests := []struct {
		name             string
		steps            []step
		expectStatements []string
	}{
		{"once after success", []step{{"wh-1", create, false, true, false}, {"wh-1", create, false, false, false}, {"wh-1", create, false, false, false}},
			[]string{create}},
		{"again on another warehouse", []step{{"wh-1", create, false, true, false}, {"wh-2", create, false, true, false}, {"wh-2", create, false, false, false}},
			[]string{create, create}},
		{"again after a failure", []step{{"wh-1", bad, false, true, true}, {"wh-1", bad, false, true, true}},
			[]string{bad, bad}},
		{"again once forgotten", []step{{"wh-1", create, false, true, false}, {"wh-1", create, true, true, false}, {"wh-1", create, false, false, false}},
			[]string{create, create}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := fakedatabricks.New(fakedatabricks.WithToken("t1"), fakedatabricks.WithFailingStatements("bad_table"))
			s := newSetup(t, ws, pat("t1"))
			for i, st := range tc.steps {
				if st.forget {
					s.client.ForgetStatement(st.warehouse, st.statement)
				}
				_, ran, res, err := s.client.ExecuteStatementOnce(context.Background(), st.warehouse, st.statement)
				if ran != st.expectRan || (err != nil) != st.expectErr {
					t.Errorf("call %d: got ran=%v err=%v, expect ran=%v error=%v", i, ran, err, st.expectRan, st.expectErr)
				}
				if ran != (res.Attempts > 0) {
					t.Errorf("call %d: ran=%v with %d attempts", i, ran, res.Attempts)
				}
			}
			if got := ws.Statements(); strings.Join(got, "\n") != strings.Join(tc.expectStatements, "\n") {
				t.Errorf("statements: got %q, expect %q", got, tc.expectStatements)
			}
		})
	}
	t.Run("concurrent calls", func(t *testing.T) {
		ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
		s := newSetup(t, ws, pat("t1"))
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, _, err := s.client.ExecuteStatementOnce(context.Background(), "wh-1", create); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := len(ws.Statements()); n < 1 || n > 8 {
			t.Errorf("statements: got %d, expect 1 to 8", n)
		}
		if _, ran, _, _ := s.client.ExecuteStatementOnce(context.Background(), "wh-1", create); ran {
			t.Error("sent again after the concurrent calls succeeded")
		}
	})
}

func TestResultAdd(t *testing.T) {
	tests := []struct {
		a, b, expect Result
	}{
		{Result{}, Result{}, Result{}},
		{Result{Attempts: 2}, Result{Attempts: 3}, Result{Attempts: 5}},
		{Result{Attempts: 1, Refreshed: true}, Result{Attempts: 1}, Result{Attempts: 2, Refreshed: true}},
		{Result{Attempts: 1}, Result{Attempts: 1, Refreshed: true}, Result{Attempts: 2, Refreshed: true}},
	}
	for _, tc := range tests {
		if got := tc.a.Add(tc.b); got != tc.expect {
			t.Errorf("%+v.Add(%+v): got %+v, expect %+v", tc.a, tc.b, got, tc.expect)
		}
	}
}

func TestDBFSUploadStreamsBlocksAndRestarts(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	content := make([]byte, 3*DBFSBlockSize+123)
	for i := range content {
		content[i] = byte(i * 7)
	}
	ws.Inject(fakedatabricks.Fault{Method: "POST", PathPrefix: "/api/2.0/dbfs/add-block", Status: 503})
	s := newSetup(t, ws, pat("t1"))
	opens := 0
	open := func(context.Context) (io.ReadCloser, error) {
		opens++
		return io.NopCloser(bytes.NewReader(content)), nil
	}
	res, err := s.client.DBFSUpload(context.Background(), "/mnt/cdc/big.jsonl.gz", open)
	if err != nil || res.Attempts != 2 || opens != 2 {
		t.Fatalf("= %+v, %v, %d opens", res, err, opens)
	}
	f := ws.DBFSFiles()["/mnt/cdc/big.jsonl.gz"]
	if f.Size != int64(len(content)) || f.SHA256 != sum(content) {
		t.Fatalf("stored %d bytes (sha %s)", f.Size, f.SHA256)
	}
	if ws.DBFSPuts() != 0 {
		t.Error("used the 1 MB-limited dbfs/put")
	}
	blocks := 0
	for _, r := range ws.Requests() {
		if r.Path == "/api/2.0/dbfs/add-block" && r.Status == 200 {
			blocks++
		}
	}
	if blocks != 4 {
		t.Errorf("%d blocks stored; want 4", blocks)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, " 0 ": 0, "-1": 0, "soon": 0,
		"Sun, 22 Nov 2026 12:00:30 GMT": 30 * time.Second, "Sun, 22 Nov 2026 11:00:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestHungWorkspaceEndsAtTheDeadline(t *testing.T) {
	ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
	ws.Inject(fakedatabricks.Fault{Delay: 3 * time.Second})
	s := newSetup(t, ws, pat("t1"))
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	// The deadline's error proves the call ended there, not when the
	// workspace answered.
	_, err := s.client.UploadFile(ctx, "/Volumes/c/s/v/f", 1, opener([]byte("x")))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the deadline", err)
	}
}

func TestDBFSPathsMustBeClean(t *testing.T) {
	tests := []struct{ name, path, expect string }{
		{"relative", "mnt/x", `DBFS path "mnt/x" is not absolute`},
		{"parent", "/mnt/cdc/../secrets/x", `DBFS path "/mnt/cdc/../secrets/x" has an empty, . or .. segment`},
		{"dot", "/mnt/./x", `DBFS path "/mnt/./x" has an empty, . or .. segment`},
		{"empty segment", "/mnt//x", `DBFS path "/mnt//x" has an empty, . or .. segment`},
		{"trailing slash", "/mnt/x/", `DBFS path "/mnt/x/" has an empty, . or .. segment`},
		{"root", "/", `DBFS path "/" has an empty, . or .. segment`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := fakedatabricks.New(fakedatabricks.WithToken("t1"))
			s := newSetup(t, ws, pat("t1"))
			res, err := s.client.DBFSUpload(context.Background(), tc.path, opener([]byte("x")))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.expect {
				t.Errorf("err: got %q, expect %q", got, tc.expect)
			}
			if res.Attempts != 0 || len(ws.Requests()) != 0 {
				t.Errorf("requests: got %d attempts, %d requests, expect none", res.Attempts, len(ws.Requests()))
			}
		})
	}
}
