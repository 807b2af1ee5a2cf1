package secret

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const sensitive = "dapi-SENSITIVE-123"

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
		oauth          bool
	}{
		{"token", `{"host":"https://adb-1.2.azuredatabricks.net/","token":"` + sensitive + `"}`, "", true, false},
		{"oauth", `{"host":"https://dbc-1.cloud.databricks.com","client_id":"id","client_secret":"` + sensitive + `"}`, "", true, true},
		{"not json", `{"host": "` + sensitive, "not a JSON object", false, false},
		{"missing host", `{"token":"` + sensitive + `"}`, `"host" is missing`, false, false},
		{"http host", `{"host":"http://x.cloud.databricks.com","token":"` + sensitive + `"}`, `"host" must start with https://; want a workspace URL`, false, false},
		{"host with path", `{"host":"https://x.com/api","token":"` + sensitive + `"}`, `"host" must not have a path`, false, false},
		{"host with credentials", `{"host":"https://u:` + sensitive + `@x.com","token":"t"}`, `"host" must not have a user name or password`, false, false},
		{"no auth", `{"host":"https://x.com"}`, `"token" (or "client_id" and "client_secret") is missing`, false, false},
		{"no client secret", `{"host":"https://x.com","client_id":"id"}`, `"client_secret" is missing`, false, false},
		{"no client id", `{"host":"https://x.com","client_secret":"` + sensitive + `"}`, `"client_id" is missing`, false, false},
		{"both", `{"host":"https://x.com","token":"` + sensitive + `","client_id":"a","client_secret":"b"}`, "not both", false, false},
		{"wrong type", `{"host":"https://x.com","token":12345}`, "not a JSON object", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(c.Host, "/") || c.OAuth() != tc.oauth || strings.Contains(c.String(), sensitive) {
					t.Errorf("credentials %v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), sensitive) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

type fakeSM struct {
	values []string
	calls  int
	err    error
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	v := f.values[min(f.calls-1, len(f.values)-1)]
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v), Name: in.SecretId}, nil
}

func TestCacheTTLAndInvalidate(t *testing.T) {
	now := time.Unix(0, 0)
	sm := &fakeSM{values: []string{`{"host":"https://x.com","token":"one"}`, `{"host":"https://x.com","token":"two"}`}}
	c := NewCache(sm, "databricks", time.Minute, WithClock(func() time.Time { return now }))
	ctx := context.Background()
	for range 3 {
		if got, err := c.Get(ctx); err != nil || got.Token != "one" {
			t.Fatalf("Get = %v, %v", got.Token, err)
		}
	}
	if sm.calls != 1 {
		t.Fatalf("%d fetches within the TTL; want 1", sm.calls)
	}
	now = now.Add(61 * time.Second)
	if got, _ := c.Get(ctx); got.Token != "two" || sm.calls != 2 {
		t.Fatalf("after the TTL: token %q, %d fetches", got.Token, sm.calls)
	}
	c.Invalidate()
	if _, err := c.Get(ctx); err != nil || sm.calls != 3 {
		t.Fatalf("after Invalidate: %v, %d fetches", err, sm.calls)
	}
}

func TestCacheErrors(t *testing.T) {
	sm := &fakeSM{err: errors.New("AccessDeniedException")}
	if _, err := NewCache(sm, "arn:aws:secretsmanager:eu-west-1:1:secret:db", time.Minute).Get(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "arn:aws:secretsmanager:eu-west-1:1:secret:db") {
		t.Errorf("err = %v; want the secret's name", err)
	}
	sm = &fakeSM{values: []string{`{"host":"ftp://x","token":"` + sensitive + `"}`}}
	_, err := NewCache(sm, "db", time.Minute).Get(context.Background())
	if err == nil || strings.Contains(err.Error(), sensitive) || !strings.Contains(err.Error(), "secret db") {
		t.Errorf("err = %v", err)
	}
}

// TestParseRejectsBadHosts: the host is where every token is sent, so
// anything beyond https://<host>[:port][/] is refused, each with a
// message naming the field and what is wrong, and never a secret.
func TestParseRejectsBadHosts(t *testing.T) {
	tests := []struct {
		name, host, expect string
	}{
		{"fragment", "https://x.cloud.databricks.com#f", `field "host" must not have a fragment ("#...")`},
		{"empty fragment", "https://x.cloud.databricks.com#", `field "host" must not have a fragment ("#...")`},
		{"empty query", "https://x.cloud.databricks.com?", `field "host" must not have a query ("?...")`},
		{"query", "https://x.cloud.databricks.com?o=123", `field "host" must not have a query ("?...")`},
		{"query after slash", "https://x.cloud.databricks.com/?o=123", `field "host" must not have a query ("?...")`},
		{"user", "https://" + sensitive + "@x.cloud.databricks.com", `field "host" must not have a user name or password`},
		{"user and password", "https://token:" + sensitive + "@x.cloud.databricks.com", `field "host" must not have a user name or password`},
		{"path", "https://x.cloud.databricks.com/api", `field "host" must not have a path`},
		{"double slash", "https://x.cloud.databricks.com//", `field "host" must not have a path`},
		{"http", "http://x.cloud.databricks.com", `field "host" must start with https://`},
		{"no scheme", "x.cloud.databricks.com", `field "host" must start with https://`},
		{"token as host", sensitive, `field "host" must start with https://`},
		{"no host name", "https://", `field "host" has no host name`},
		{"port not a number", "https://x.cloud.databricks.com:https", `field "host" has a port that is not a number`},
		{"port zero", "https://x.cloud.databricks.com:0", `field "host" has a port outside 1-65535`},
		{"port too big", "https://x.cloud.databricks.com:65536", `field "host" has a port outside 1-65535`},
		{"empty port", "https://x.cloud.databricks.com:", `field "host" has an empty port after ':'`},
		{"space", "https://x .cloud.databricks.com", `field "host" is not a valid URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(`{"host":"` + tc.host + `","token":"` + sensitive + `"}`)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.expect) {
				t.Errorf("err: got %q, expect it to contain %q", got, tc.expect)
			}
			if strings.Contains(got, sensitive) {
				t.Errorf("err: got %q, which shows the secret", got)
			}
		})
	}
}

func TestParseAcceptsGoodHosts(t *testing.T) {
	tests := []struct{ host, expect string }{
		{"https://adb-1.2.azuredatabricks.net", "https://adb-1.2.azuredatabricks.net"},
		{"https://adb-1.2.azuredatabricks.net/", "https://adb-1.2.azuredatabricks.net"},
		{"https://dbc-1.cloud.databricks.com:443", "https://dbc-1.cloud.databricks.com:443"},
		{"https://127.0.0.1:65535", "https://127.0.0.1:65535"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{" https://x.gcp.databricks.com ", "https://x.gcp.databricks.com"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			c, err := Parse(`{"host":"` + tc.host + `","token":"t"}`)
			if err != nil {
				t.Fatalf("err: got %v, expect none", err)
			}
			if c.Host != tc.expect {
				t.Errorf("Host: got %q, expect %q", c.Host, tc.expect)
			}
		})
	}
}
