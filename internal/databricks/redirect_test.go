package databricks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// hits counts the requests a server received, by method and path.
type hits struct {
	mu   sync.Mutex
	list []string
}

func (h *hits) add(r *http.Request) {
	h.mu.Lock()
	h.list = append(h.list, r.Method+" "+r.URL.Path)
	h.mu.Unlock()
}

func (h *hits) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.list...)
}

// lookAlike answers every request with what a real workspace would
// answer on success, so a redirected write that reached it would be
// reported delivered.
func lookAlike(h *hits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.add(r)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"run_id": 77, "handle": 5, "statement_id": "s-1", "status": {"state": "SUCCEEDED"}}`)
	})
}

// writeCall is one write the client makes, run against a client whose
// workspace host is the given server.
type writeCall struct {
	name, op string
	run      func(c *Client) error
}

var writeCalls = []writeCall{
	{"files upload", "upload file", func(c *Client) error {
		_, err := c.UploadFile(context.Background(), "/Volumes/c/s/v/f", 3, opener([]byte("abc")))
		return err
	}},
	{"dbfs", "dbfs create", func(c *Client) error {
		_, err := c.DBFSUpload(context.Background(), "/mnt/cdc/f", opener([]byte("abc")))
		return err
	}},
	{"run-now", "run job", func(c *Client) error {
		_, _, err := c.RunNow(context.Background(), 5, map[string]string{"k": "v"}, "tok")
		return err
	}},
	{"statement", "execute statement", func(c *Client) error {
		_, _, err := c.ExecuteStatement(context.Background(), "wh-1", "COPY INTO t FROM 's3://b/k'")
		return err
	}},
}

func TestWritesAreNeverRedirected(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, call := range writeCalls {
			for _, where := range []string{"other host", "same host"} {
				t.Run(fmt.Sprintf("%d %s to %s", status, call.name, where), func(t *testing.T) {
					targetHits, originHits := &hits{}, &hits{}
					target := httptest.NewTLSServer(lookAlike(targetHits))
					defer target.Close()
					var origin *httptest.Server
					origin = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasPrefix(r.URL.Path, "/moved") {
							lookAlike(targetHits).ServeHTTP(w, r)
							return
						}
						originHits.add(r)
						_, _ = io.Copy(io.Discard, r.Body)
						loc := target.URL + "/moved" + r.URL.Path
						if where == "same host" {
							loc = origin.URL + "/moved" + r.URL.Path
						}
						w.Header().Set("Location", loc)
						w.WriteHeader(status)
					}))
					defer origin.Close()
					// One client that trusts both test certificates.
					hc := origin.Client()
					hc.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(target.Certificate())
					sl := &sleeps{}
					c := New(&rotatingCreds{list: []secret.Credentials{{Host: origin.URL, Token: "t1"}}}, WithHTTPClient(hc), WithSleep(sl.sleep))

					err := call.run(c)

					var apiErr *APIError
					if !errors.As(err, &apiErr) {
						t.Fatalf("err = %v; want an *APIError: a redirected write must not count as delivered", err)
					}
					got := struct {
						status      int
						op          string
						location    bool
						temporary   bool
						targetHits  []string
						originCalls int
					}{apiErr.StatusCode, apiErr.Op, strings.Contains(err.Error(), "redirect to "), apiErr.Temporary(), targetHits.get(), len(originHits.get())}
					if got.status != status {
						t.Errorf("status: got %d, expect %d", got.status, status)
					}
					if got.op != call.op {
						t.Errorf("op: got %q, expect %q", got.op, call.op)
					}
					if !got.location || !strings.Contains(err.Error(), "/moved/") || !strings.Contains(err.Error(), "writes are not redirected") {
						t.Errorf("message: got %q, expect it to name the Location and say writes are not redirected", err)
					}
					if got.temporary {
						t.Error("temporary: got true, expect false (a redirect does not go away by retrying)")
					}
					if len(got.targetHits) != 0 {
						t.Errorf("redirect target: got requests %v, expect none", got.targetHits)
					}
					if got.originCalls != 1 {
						t.Errorf("origin calls: got %d, expect 1 (no retry)", got.originCalls)
					}
				})
			}
		}
	}
}

// TestStatementPollingFollowsOnlySameHostRedirects: a GET may be moved
// within the workspace, but an answer from another host could claim a
// statement succeeded, so it is refused and never sent the token.
func TestStatementPollingFollowsOnlySameHostRedirects(t *testing.T) {
	for _, tc := range []struct {
		name        string
		otherHost   bool
		expectErr   bool
		expectOther int
	}{
		{"same host", false, false, 0},
		{"other host", true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			otherHits := &hits{}
			other := httptest.NewTLSServer(lookAlike(otherHits))
			defer other.Close()
			ws := fakedatabricks.New(fakedatabricks.WithToken("t1"), fakedatabricks.WithStatementPolls(2), fakedatabricks.WithTable("t"))
			var srv *httptest.Server
			srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Query().Get("moved") == "" {
					base := srv.URL
					if tc.otherHost {
						base = other.URL
					}
					http.Redirect(w, r, base+r.URL.Path+"?moved=1", http.StatusFound)
					return
				}
				ws.ServeHTTP(w, r)
			}))
			defer srv.Close()
			hc := srv.Client()
			hc.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(other.Certificate())
			c := New(&rotatingCreds{list: []secret.Credentials{{Host: srv.URL, Token: "t1"}}}, WithHTTPClient(hc), WithSleep((&sleeps{}).sleep))

			_, _, err := c.ExecuteStatement(context.Background(), "wh-1", "COPY INTO t FROM 's3://b/k'")

			if gotErr := err != nil; gotErr != tc.expectErr {
				t.Fatalf("error: got %v, expect error %v", err, tc.expectErr)
			}
			if tc.expectErr && !strings.Contains(err.Error(), "redirect to "+other.URL) {
				t.Errorf("message: got %q, expect it to name the other host", err)
			}
			if got := len(otherHits.get()); got != tc.expectOther {
				t.Errorf("other host: got %d requests, expect %d", got, tc.expectOther)
			}
		})
	}
}

// TestWritesNeedTheirDocumentedSuccess: a 2xx that is not the documented
// answer, or a documented status without the field that proves the write
// happened, is not a delivery.
func TestWritesNeedTheirDocumentedSuccess(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	tests := []struct {
		name      string
		call      writeCall
		answer    answer
		expectErr string // "" for success
	}{
		{"upload 204", writeCalls[0], answer{204, ""}, ""},
		{"upload 200 empty", writeCalls[0], answer{200, ""}, ""},
		{"upload 201", writeCalls[0], answer{201, ""}, "HTTP 201"},
		{"upload 202", writeCalls[0], answer{202, ""}, "HTTP 202"},
		{"upload 206", writeCalls[0], answer{206, ""}, "HTTP 206"},
		{"dbfs 200 without handle", writeCalls[1], answer{200, `{}`}, "handle"},
		{"dbfs 204", writeCalls[1], answer{204, ""}, "HTTP 204"},
		{"run-now 200 with run_id", writeCalls[2], answer{200, `{"run_id": 9}`}, ""},
		{"run-now 200 without run_id", writeCalls[2], answer{200, `{}`}, "run_id"},
		{"run-now 202", writeCalls[2], answer{202, `{"run_id": 9}`}, "HTTP 202"},
		{"run-now 204", writeCalls[2], answer{204, ""}, "HTTP 204"},
		{"statement 200 without statement_id", writeCalls[3], answer{200, `{"status": {"state": "SUCCEEDED"}}`}, "statement_id"},
		{"statement 201", writeCalls[3], answer{201, `{"statement_id": "s", "status": {"state": "SUCCEEDED"}}`}, "HTTP 201"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := &hits{}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.add(r)
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.answer.body != "" {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.answer.status)
				_, _ = io.WriteString(w, tc.answer.body)
			}))
			defer srv.Close()
			c := New(&rotatingCreds{list: []secret.Credentials{{Host: srv.URL, Token: "t1"}}}, WithHTTPClient(srv.Client()), WithSleep((&sleeps{}).sleep))

			err := tc.call.run(c)

			if tc.expectErr == "" {
				if err != nil {
					t.Fatalf("err: got %v, expect success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.expectErr) {
				t.Fatalf("err: got %v, expect it to mention %q", err, tc.expectErr)
			}
			if got := len(calls.get()); got != 1 {
				t.Errorf("calls: got %d, expect 1 (an unexpected success is not retried)", got)
			}
		})
	}
}
