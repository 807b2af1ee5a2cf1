package fakedatabricks

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// tokenRequest is the documented M2M token request
// (https://docs.databricks.com/en/dev-tools/auth/oauth-m2m.html): POST
// /oidc/v1/token, HTTP Basic client_id:client_secret, form
// grant_type=client_credentials&scope=all-apis.
type tokenRequest struct {
	method     string
	id, secret string // Basic credentials, sent as given; none when both empty
	form       url.Values
}

func (s *server) token(t *testing.T, tr tokenRequest) reply {
	t.Helper()
	req, err := http.NewRequest(tr.method, s.srv.URL+tokenPath, strings.NewReader(tr.form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tr.id != "" || tr.secret != "" {
		req.SetBasicAuth(tr.id, tr.secret)
	}
	return s.send(t, req)
}

// TestOAuthTokenEndpoint: the token endpoint checks the client's
// credentials and the grant, issues a Bearer token with its lifetime, and
// the token it issues is accepted by the APIs.
func TestOAuthTokenEndpoint(t *testing.T) {
	const secret = "dose+s/e=c%r"
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	escaped := url.QueryEscape(secret)
	tests := []struct {
		name         string
		req          tokenRequest
		expectStatus int
		expectError  string // OAuth error; "" on success
	}{
		{"valid client, form-encoded secret", tokenRequest{http.MethodPost, "sp-1", escaped, good}, 200, ""},
		{"valid client, plain secret", tokenRequest{http.MethodPost, "sp-2", "plainsecret", good}, 200, ""},
		{"secret not form-encoded", tokenRequest{http.MethodPost, "sp-1", secret, good}, 401, "invalid_client"},
		{"wrong secret", tokenRequest{http.MethodPost, "sp-1", "wrong", good}, 401, "invalid_client"},
		{"unknown client", tokenRequest{http.MethodPost, "sp-9", escaped, good}, 401, "invalid_client"},
		{"no client credentials", tokenRequest{http.MethodPost, "", "", good}, 401, "invalid_client"},
		{"wrong grant", tokenRequest{http.MethodPost, "sp-1", escaped, url.Values{"grant_type": {"password"}, "scope": {"all-apis"}}}, 400, "invalid_request"},
		{"no scope", tokenRequest{http.MethodPost, "sp-1", escaped, url.Values{"grant_type": {"client_credentials"}}}, 400, "invalid_request"},
		{"GET", tokenRequest{http.MethodGet, "sp-1", escaped, nil}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithClient("sp-1", secret), WithClient("sp-2", "plainsecret"), WithTokenLifetime(30*time.Minute))
			got := s.token(t, tc.req)
			if got.status != tc.expectStatus {
				t.Fatalf("status: got %d, expect %d (%s)", got.status, tc.expectStatus, got.body)
			}
			if code := got.errorCode(); code != tc.expectError {
				t.Errorf("error: got %q, expect %q", code, tc.expectError)
			}
			expectIssued := 0
			if tc.expectError == "" {
				expectIssued = 1
				a := decode[tokenAnswer](t, got)
				if a.AccessToken == "" {
					t.Error("access_token: got none")
				}
				if a.TokenType != "Bearer" {
					t.Errorf("token_type: got %q, expect Bearer", a.TokenType)
				}
				if a.ExpiresIn != 1800 {
					t.Errorf("expires_in: got %d, expect 1800", a.ExpiresIn)
				}
				if a.Scope != "all-apis" {
					t.Errorf("scope: got %q, expect all-apis", a.Scope)
				}
				if api := s.postJSON(t, runNowPath, a.AccessToken, map[string]any{"job_id": 1}); api.status != http.StatusOK {
					t.Errorf("API call with the issued token: got %d, expect 200", api.status)
				}
			}
			if got := s.ws.TokensIssued(); got != expectIssued {
				t.Errorf("tokens issued: got %d, expect %d", got, expectIssued)
			}
		})
	}
}

// TestOAuthTokensExpire: an issued token is refused once its lifetime has
// passed, so only a client that renews its token keeps working; personal
// access tokens do not expire.
func TestOAuthTokensExpire(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s := serve(t, WithClient("sp", "s"), WithToken("dapi"), WithTokenLifetime(time.Hour))
	s.ws.mu.Lock()
	s.ws.now = func() time.Time { return now }
	s.ws.mu.Unlock()
	setNow := func(t time.Time) { s.ws.mu.Lock(); now = t; s.ws.mu.Unlock() }

	a := decode[tokenAnswer](t, s.token(t, tokenRequest{http.MethodPost, "sp", "s", url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}}))
	start := now
	tests := []struct {
		name         string
		at           time.Time
		token        string
		expectStatus int
	}{
		{"oauth token when issued", start, a.AccessToken, 200},
		{"oauth token just before expiry", start.Add(time.Hour - time.Second), a.AccessToken, 200},
		{"oauth token at expiry", start.Add(time.Hour), a.AccessToken, 401},
		{"oauth token after expiry", start.Add(2 * time.Hour), a.AccessToken, 401},
		{"personal access token much later", start.Add(1000 * time.Hour), "dapi", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setNow(tc.at)
			got := s.postJSON(t, runNowPath, tc.token, map[string]any{"job_id": 1})
			if got.status != tc.expectStatus {
				t.Errorf("status: got %d, expect %d", got.status, tc.expectStatus)
			}
		})
	}
}
