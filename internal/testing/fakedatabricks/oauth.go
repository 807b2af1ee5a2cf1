package fakedatabricks

import (
	"net/http"
	"net/url"
	"time"
)

// oauthState is the OAuth machine-to-machine token endpoint's state,
// guarded by Workspace.mu.
type oauthState struct {
	clients       map[string]string // client ID to secret
	tokenLifetime time.Duration
	issued        int
}

// WithClient accepts an OAuth service principal, so that the client's M2M
// token flow is exercised end to end.
func WithClient(id, secret string) Option { return func(w *Workspace) { w.oauth.clients[id] = secret } }

// WithTokenLifetime sets the lifetime of issued OAuth tokens (default 1h,
// as Databricks issues them). The workspace refuses a token once its
// lifetime has passed, so the client's renewal is what keeps it working.
func WithTokenLifetime(d time.Duration) Option {
	return func(w *Workspace) { w.oauth.tokenLifetime = d }
}

// TokensIssued counts OAuth tokens issued, so tests can prove that tokens
// are cached rather than fetched per call.
func (w *Workspace) TokensIssued() int { w.mu.Lock(); defer w.mu.Unlock(); return w.oauth.issued }

// token serves POST /oidc/v1/token as the OAuth M2M flow documents it
// (https://docs.databricks.com/en/dev-tools/auth/oauth-m2m.html): HTTP
// Basic client authentication, form grant_type=client_credentials and
// scope=all-apis, answered with a Bearer access_token and expires_in.
func (w *Workspace) token(rw http.ResponseWriter, r *http.Request) {
	rawID, rawSecret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	// The client ID and secret are form-encoded before Basic encoding
	// (RFC 6749 section 2.3.1,
	// https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1), as the
	// Databricks SDKs and internal/databricks send them.
	id, errID := url.QueryUnescape(rawID)
	secret, errSecret := url.QueryUnescape(rawSecret)
	w.mu.Lock()
	defer w.mu.Unlock()
	want, known := w.oauth.clients[id]
	if !ok || errID != nil || errSecret != nil || !known || want != secret {
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Client authentication failed"})
		return
	}
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "all-apis" {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type client_credentials and scope all-apis required"})
		return
	}
	tok := "oauth-" + randomID()
	w.tokens[tok] = w.now().Add(w.oauth.tokenLifetime)
	w.oauth.issued++
	writeJSON(rw, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(w.oauth.tokenLifetime.Seconds()), "scope": "all-apis"})
}
