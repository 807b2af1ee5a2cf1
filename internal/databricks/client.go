package databricks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/internal/secret"
)

// Credentials supplies the workspace credentials; *secret.Cache is one.
type Credentials interface {
	Get(ctx context.Context) (secret.Credentials, error)
	Invalidate()
}

// RetryPolicy bounds the retry loop.
type RetryPolicy struct {
	// MaxAttempts counts every try of one operation, the first included.
	MaxAttempts int
	// BaseDelay is the backoff ceiling after the first failure; it doubles
	// per attempt up to MaxDelay, and the actual wait is uniform below it.
	BaseDelay, MaxDelay time.Duration
}

// DefaultRetryPolicy retries for roughly a minute at most.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 6, BaseDelay: 500 * time.Millisecond, MaxDelay: 20 * time.Second}
}

// Client calls one Databricks workspace.
type Client struct {
	http   *http.Client
	creds  Credentials
	retry  RetryPolicy
	poll   time.Duration
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func(n int64) int64

	mu  sync.Mutex
	tok oauthToken

	// ran holds the statements ExecuteStatementOnce has run to success,
	// keyed by warehouse and text.
	ranMu sync.Mutex
	ran   map[string]bool
}

type oauthToken struct {
	host, clientID, value string
	refreshAt             time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client, for its transport and timeouts. Its
// redirect policy is replaced by the client's own (see noWriteRedirects),
// so no caller can make writes follow redirects again.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetryPolicy sets the retry policy.
func WithRetryPolicy(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithPollInterval sets how often a running SQL statement is polled.
func WithPollInterval(d time.Duration) Option { return func(c *Client) { c.poll = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithSleep replaces the wait between attempts, for tests.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = f }
}

// New returns a client authenticating with creds.
func New(creds Credentials, opts ...Option) *Client {
	c := &Client{
		http:   &http.Client{},
		creds:  creds,
		retry:  DefaultRetryPolicy(),
		poll:   time.Second,
		sleep:  sleepCtx,
		now:    time.Now,
		jitter: rand.Int64N,
	}
	for _, o := range opts {
		o(c)
	}
	h := *c.http
	h.CheckRedirect = noWriteRedirects
	c.http = &h
	return c
}

// noWriteRedirects is the redirect policy. net/http follows a 301, 302 or
// 303 answer to a PUT or POST as a GET without the body, and a 307 or 308
// by sending the body again, to wherever Location points: either way the
// answer that comes back is not the workspace's answer to the write, and a
// 2xx from it would report a delivery that never happened. So a write
// never follows a redirect: the 3xx itself comes back (ErrUseLastResponse)
// and exchange turns it into a permanent error naming the Location. None
// of the Databricks endpoints used here documents a redirect.
//
// A GET (statement polling) may follow redirects within the workspace, with
// its Authorization; one leaving the workspace's scheme and host is not
// followed either, as an answer from another host could claim that a
// statement succeeded, and the token must never reach it.
func noWriteRedirects(req *http.Request, via []*http.Request) error {
	first := via[0]
	if first.Method != http.MethodGet && first.Method != http.MethodHead {
		return http.ErrUseLastResponse
	}
	if req.URL.Host != first.URL.Host || req.URL.Scheme != first.URL.Scheme {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// APIError is an answer from Databricks that is not the documented success
// of the call: a 4xx or 5xx, a redirect that was not followed, or a 2xx
// with another status or without the field that proves the call worked.
// Only Temporary ones are retried.
type APIError struct {
	Op         string
	StatusCode int
	ErrorCode  string
	Message    string
	// Location is where a redirect that was not followed pointed, without
	// its query, fragment or user information.
	Location string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("databricks %s: HTTP %d", e.Op, e.StatusCode)
	if e.StatusCode >= 300 && e.StatusCode <= 399 {
		return s + " redirect to " + e.Location + " refused: " + e.Message
	}
	if e.ErrorCode != "" {
		s += " " + e.ErrorCode
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Temporary reports whether the request may succeed if repeated.
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

func (e *APIError) authFailed() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden ||
		e.Op == opToken && e.ErrorCode == "invalid_client"
}

// TransportError is a request that got no HTTP answer.
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return fmt.Sprintf("databricks %s: %v", e.Op, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// Result describes how an operation went.
type Result struct {
	// Attempts counts tries, the first included.
	Attempts int
	// Refreshed is set when a 401/403 made the client fetch credentials
	// again.
	Refreshed bool
}

// Retries is the number of tries after the first.
func (r Result) Retries() int { return max(r.Attempts-1, 0) }

// Add combines the results of two operations made for one delivery, so
// that its log line and metrics count every try.
func (r Result) Add(o Result) Result {
	return Result{Attempts: r.Attempts + o.Attempts, Refreshed: r.Refreshed || o.Refreshed}
}

// attemptFunc makes one try with the current host and bearer token.
type attemptFunc func(ctx context.Context, host, token string) error

// do runs attempt under the retry policy.
func (c *Client) do(ctx context.Context, attempt attemptFunc) (Result, error) {
	var res Result
	for {
		res.Attempts++
		err := c.try(ctx, attempt)
		if err == nil {
			return res, nil
		}
		var apiErr *APIError
		isAPI := errors.As(err, &apiErr)
		if isAPI && apiErr.authFailed() && !res.Refreshed {
			// Maybe the secret was rotated: fetch it again, once.
			res.Refreshed = true
			c.creds.Invalidate()
			c.dropToken()
			continue
		}
		var tErr *TransportError
		retryable := isAPI && apiErr.Temporary() || errors.As(err, &tErr)
		if !retryable || ctx.Err() != nil {
			return res, err
		}
		used := res.Attempts
		if res.Refreshed {
			used-- // the retry after a refresh is not charged to the policy
		}
		if used >= c.retry.MaxAttempts {
			return res, fmt.Errorf("gave up after %d attempts: %w", res.Attempts, err)
		}
		delay := c.backoff(res.Attempts)
		if isAPI && apiErr.RetryAfter > 0 {
			delay = apiErr.RetryAfter
		}
		// The caller's deadline already keeps whatever margin it needs (the
		// forwarder's handler keeps DEADLINE_MARGIN): a wait is refused only
		// when it would outlast that deadline, so the margin is kept once.
		if d, ok := ctx.Deadline(); ok && c.now().Add(delay).After(d) {
			return res, fmt.Errorf("no time left for attempt %d (next in %s) before the deadline: %w", res.Attempts+1, delay, err)
		}
		if err := c.sleep(ctx, delay); err != nil {
			return res, err
		}
	}
}

func (c *Client) try(ctx context.Context, attempt attemptFunc) error {
	creds, err := c.creds.Get(ctx)
	if err != nil {
		return fmt.Errorf("databricks credentials: %w", err)
	}
	token, err := c.bearer(ctx, creds)
	if err != nil {
		return err
	}
	return attempt(ctx, creds.Host, token)
}

func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.retry.BaseDelay << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > c.retry.MaxDelay {
		ceiling = c.retry.MaxDelay
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(c.jitter(int64(ceiling)) + 1)
}

const opToken = "oauth token"

// bearer returns the token to send: the personal access token, or a cached
// OAuth token refreshed shortly before it expires.
func (c *Client) bearer(ctx context.Context, creds secret.Credentials) (string, error) {
	if !creds.OAuth() {
		return creds.Token, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.host == creds.Host && c.tok.clientID == creds.ClientID && c.now().Before(c.tok.refreshAt) {
		return c.tok.value, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.Host+"/oidc/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("databricks %s: %w", opToken, err)
	}
	req.SetBasicAuth(url.QueryEscape(creds.ClientID), url.QueryEscape(creds.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.exchange(req, opToken, okJSON, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return "", &APIError{Op: opToken, StatusCode: http.StatusOK, Message: "response lacks access_token or expires_in"}
	}
	life := time.Duration(out.ExpiresIn) * time.Second
	early := min(5*time.Minute, life/4)
	c.tok = oauthToken{host: creds.Host, clientID: creds.ClientID, value: out.AccessToken, refreshAt: c.now().Add(life - early)}
	return out.AccessToken, nil
}

func (c *Client) dropToken() {
	c.mu.Lock()
	c.tok = oauthToken{}
	c.mu.Unlock()
}

// success is the set of statuses a call documents as success; any other
// answer, 2xx included, is an error.
type success []int

// okJSON is the documented success of the JSON endpoints used here (Jobs,
// SQL statements, DBFS, OAuth token): 200 with a JSON body.
var okJSON = success{http.StatusOK}

func (s success) String() string {
	parts := make([]string, len(s))
	for i, code := range s {
		parts[i] = strconv.Itoa(code)
	}
	return strings.Join(parts, " or ")
}

// call sends one authenticated request and, when the answer is one of ok,
// decodes its JSON into out.
func (c *Client) call(ctx context.Context, op, method, rawURL, token string, body io.Reader, size int64, contentType string, ok success, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return fmt.Errorf("databricks %s: %w", op, err)
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return c.exchange(req, op, ok, out)
}

func (c *Client) exchange(req *http.Request, op string, ok success, out any) error {
	req.Header.Set("User-Agent", "ddbstream-pipeline-forwarder/1.0")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return fmt.Errorf("databricks %s: %w", op, ctxErr)
		}
		return &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return redirectError(op, req, resp)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return readAPIError(op, resp)
	case !slices.Contains(ok, resp.StatusCode):
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &APIError{Op: op, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("not the documented success (HTTP %s) of this call, so it is not counted as done", ok)}
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
			return &TransportError{Op: op, Err: fmt.Errorf("read response: %w", err)}
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// redirectError describes a redirect that was not followed (see
// noWriteRedirects). The Location is shown without query, fragment or user
// information, which may carry someone's credentials.
func redirectError(op string, req *http.Request, resp *http.Response) *APIError {
	loc := "(no Location)"
	if u, err := resp.Location(); err == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		loc = u.String()
	}
	why := "writes are not redirected; check the workspace host in the secret"
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		why = "reads are redirected only within the workspace host; check the workspace host in the secret"
	}
	return &APIError{Op: op, StatusCode: resp.StatusCode, Location: loc, Message: why}
}

func readAPIError(op string, resp *http.Response) *APIError {
	e := &APIError{Op: op, StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body struct {
		ErrorCode        string `json:"error_code"`
		Message          string `json:"message"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if json.Unmarshal(raw, &body) == nil {
		e.ErrorCode, e.Message = body.ErrorCode, body.Message
		if e.ErrorCode == "" {
			e.ErrorCode, e.Message = body.Error, body.ErrorDescription
		}
	} else {
		e.Message = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
	}
	return e
}

// retryAfter reads delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
