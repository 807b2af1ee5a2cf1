package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
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
	} else if u, err := url.Parse(c.Host); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		problems = append(problems, `field "host" must be a workspace URL such as https://adb-123.4.azuredatabricks.net (https, no path)`)
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
