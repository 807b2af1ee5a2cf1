package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Credentials authenticate to one Databricks workspace.
type Credentials struct {
	// Host is the workspace URL, https://, without a trailing slash.
	Host string
	// Token is a personal access token; empty for OAuth.
	Token string
	// ClientID and ClientSecret identify an OAuth service principal.
	ClientID, ClientSecret string
}

// OAuth reports whether the credentials are a service principal.
func (c Credentials) OAuth() bool { return c.Token == "" }

// String hides everything but the host, so credentials printed by mistake
// leak nothing.
func (c Credentials) String() string {
	kind := "token"
	if c.OAuth() {
		kind = "oauth"
	}
	return fmt.Sprintf("databricks credentials (%s) for %s", kind, c.Host)
}

// Parse validates a secret string.
func Parse(s string) (Credentials, error) {
	var raw struct {
		Host         *string `json:"host"`
		Token        *string `json:"token"`
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		// The decoder's message may quote the secret's text: drop it.
		return Credentials{}, errors.New(`secret is not a JSON object like {"host": "https://...", "token": "..."}`)
	}
	get := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	c := Credentials{Host: get(raw.Host), Token: get(raw.Token), ClientID: get(raw.ClientID), ClientSecret: get(raw.ClientSecret)}
	var problems []string
	if c.Host == "" {
		problems = append(problems, `field "host" is missing or empty`)
	} else if what := hostProblem(c.Host); what != "" {
		problems = append(problems, what+"; want a workspace URL such as https://adb-123.4.azuredatabricks.net")
	}
	c.Host = strings.TrimSuffix(c.Host, "/")
	switch {
	case c.Token != "" && (c.ClientID != "" || c.ClientSecret != ""):
		problems = append(problems, `give either "token" or "client_id" and "client_secret", not both`)
	case c.Token == "" && c.ClientID == "" && c.ClientSecret == "":
		problems = append(problems, `field "token" (or "client_id" and "client_secret") is missing or empty`)
	case c.Token == "" && c.ClientID == "":
		problems = append(problems, `field "client_id" is missing or empty`)
	case c.Token == "" && c.ClientSecret == "":
		problems = append(problems, `field "client_secret" is missing or empty`)
	}
	if len(problems) > 0 {
		return Credentials{}, fmt.Errorf("invalid Databricks secret: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// hostProblem says what is wrong with a workspace URL, or "" when it is
// https://<host>[:port] with at most a trailing "/". The client appends API
// paths to it and sends the token there, so a query, fragment, path or
// user name would silently change where (or as whom) requests go. The
// message never repeats the value: a mistyped secret may hold a token in
// the host field.
func hostProblem(host string) string {
	rest, ok := strings.CutPrefix(host, "https://")
	if !ok {
		return `field "host" must start with https://`
	}
	// url.Parse keeps no trace of an empty "#" and rejects some ports with
	// a message quoting the whole value, so these are checked on the text.
	if strings.Contains(rest, "#") {
		return `field "host" must not have a fragment ("#...")`
	}
	if strings.Contains(rest, "?") {
		return `field "host" must not have a query ("?...")`
	}
	authority, path, _ := strings.Cut(rest, "/")
	if strings.Contains(authority, "@") {
		return `field "host" must not have a user name or password`
	}
	if path != "" {
		return `field "host" must not have a path (only https://<workspace host>)`
	}
	if what := portProblem(authority); what != "" {
		return what
	}
	u, err := url.Parse(host)
	if err != nil {
		return `field "host" is not a valid URL`
	}
	if u.Hostname() == "" {
		return `field "host" has no host name`
	}
	return ""
}

// portProblem checks the port of host[:port] or [ipv6][:port].
func portProblem(authority string) string {
	after := authority
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return `field "host" has an IPv6 address without ']'`
		}
		after = authority[end+1:]
	}
	i := strings.LastIndexByte(after, ':')
	if i < 0 {
		return ""
	}
	port := after[i+1:]
	if port == "" {
		return `field "host" has an empty port after ':'`
	}
	n, err := strconv.Atoi(port)
	if err != nil || strings.ContainsAny(port, "+-") {
		return `field "host" has a port that is not a number`
	}
	if n < 1 || n > 65535 {
		return `field "host" has a port outside 1-65535`
	}
	return ""
}

// Getter is the one Secrets Manager call the cache makes.
type Getter interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Cache keeps the credentials for a TTL. It is safe for concurrent use.
type Cache struct {
	client  Getter
	id      string
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	creds   Credentials
	fetched time.Time
	valid   bool
}

// Option configures a Cache.
type Option func(*Cache)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *Cache) { c.now = now } }

// NewCache returns a cache of the secret named by id (a name or ARN).
func NewCache(client Getter, id string, ttl time.Duration, opts ...Option) *Cache {
	c := &Cache{client: client, id: id, ttl: ttl, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Get returns the cached credentials, fetching them when the TTL has run
// out or after Invalidate.
func (c *Cache) Get(ctx context.Context) (Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.now().Sub(c.fetched) < c.ttl {
		return c.creds, nil
	}
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(c.id)})
	if err != nil {
		return Credentials{}, fmt.Errorf("get secret %s: %w", c.id, err)
	}
	if out.SecretString == nil {
		return Credentials{}, fmt.Errorf("secret %s has no string value (binary secrets are not supported)", c.id)
	}
	creds, err := Parse(*out.SecretString)
	if err != nil {
		return Credentials{}, fmt.Errorf("secret %s: %w", c.id, err)
	}
	c.creds, c.fetched, c.valid = creds, c.now(), true
	return creds, nil
}

// Invalidate makes the next Get fetch the secret again, as after a 401
// when the secret may have been rotated.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.valid = false
	c.mu.Unlock()
}
