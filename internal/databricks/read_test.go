package databricks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/secret"
)

// TestRead: an authenticated GET decodes its answer, a HEAD of a missing
// directory is a 404 APIError, a refused token is fetched again once, and
// only reads are allowed.
func TestRead(t *testing.T) {
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		switch {
		case r.Header.Get("Authorization") != "Bearer good":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":"UNAUTHENTICATED","message":"Invalid access token."}`))
		case r.URL.Path == "/api/2.0/preview/scim/v2/Me":
			w.Write([]byte(`{"userName":"svc@example.com"}`))
		case r.Method == http.MethodHead && r.URL.Path == "/api/2.0/fs/directories/Volumes/a/b/c":
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	creds := &rotatingCreds{list: []secret.Credentials{{Host: srv.URL, Token: "stale"}, {Host: srv.URL, Token: "good"}}}
	c := New(creds, WithHTTPClient(srv.Client()), WithSleep(func(context.Context, time.Duration) error { return nil }))

	var me struct {
		UserName string `json:"userName"`
	}
	res, err := c.Read(context.Background(), http.MethodGet, "/api/2.0/preview/scim/v2/Me", &me)
	if err != nil || me.UserName != "svc@example.com" || !res.Refreshed || creds.invs != 1 {
		t.Errorf("GET Me: %+v, %v, user %q, invalidations %d; expect the user after one refresh", res, err, me.UserName, creds.invs)
	}
	if _, err := c.Read(context.Background(), http.MethodHead, "/api/2.0/fs/directories/Volumes/a/b/c", nil); err != nil {
		t.Errorf("HEAD existing directory: %v", err)
	}
	_, err = c.Read(context.Background(), http.MethodHead, "/api/2.0/fs/directories/Volumes/a/b/missing", nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD missing directory: got %v, expect a 404 APIError", err)
	}
	for _, bad := range []struct{ method, path string }{{http.MethodPost, "/api/2.0/x"}, {http.MethodGet, "api/2.0/x"}} {
		if _, err := c.Read(context.Background(), bad.method, bad.path, nil); err == nil {
			t.Errorf("%s %s: no error", bad.method, bad.path)
		}
	}
	for _, s := range seen {
		if strings.Contains(s, "POST") {
			t.Errorf("a read sent %s", s)
		}
	}
}
