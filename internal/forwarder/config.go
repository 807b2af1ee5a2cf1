package forwarder

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
)

// Mode is how objects are delivered.
type Mode string

// Delivery modes.
const (
	// Volume uploads each object to a Unity Catalog volume (Files API).
	Volume Mode = "volume"
	// Job starts a job run with the object as parameters.
	Job Mode = "job"
	// CopyInto loads each object into a table on a SQL warehouse. The
	// name is what deployments set; the statement is a MERGE from
	// read_files, not COPY INTO (see copyinto.go).
	CopyInto Mode = "copy-into"
	// DBFS streams each object to DBFS, for legacy workspaces.
	DBFS Mode = "dbfs"
)

// Config is the forwarder's configuration.
type Config struct {
	// SecretID names the Secrets Manager secret (DATABRICKS_SECRET_ID).
	SecretID string
	// SecretTTL is how long the secret is cached (SECRET_TTL).
	SecretTTL time.Duration
	// Mode is the delivery mode (DELIVERY_MODE, default volume).
	Mode Mode
	// Path is the destination template: DATABRICKS_VOLUME_PATH in volume
	// mode, DBFS_PATH in dbfs mode.
	Path *Template
	// JobID is the job to run (DATABRICKS_JOB_ID, job mode).
	JobID int64
	// WarehouseID runs the load statements (DATABRICKS_WAREHOUSE_ID,
	// copy-into mode).
	WarehouseID string
	// Table is the load target template (DATABRICKS_TABLE).
	Table *Template
	// KeyPrefix and KeySuffix, when set, skip other objects (KEY_PREFIX,
	// KEY_SUFFIX).
	KeyPrefix, KeySuffix string
	// Retry is the Databricks retry policy (DATABRICKS_MAX_ATTEMPTS,
	// RETRY_BASE_DELAY, RETRY_MAX_DELAY).
	Retry databricks.RetryPolicy
	// DeadlineMargin is kept before the Lambda deadline (DEADLINE_MARGIN).
	DeadlineMargin time.Duration
	// PollInterval paces statement polling (STATEMENT_POLL_INTERVAL).
	PollInterval time.Duration
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
	// S3PathStyle uses path-style S3 addressing (S3_FORCE_PATH_STYLE).
	S3PathStyle bool
}

var (
	tableName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$`)
	secretID   = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$`)
	volumeRoot = regexp.MustCompile(`^/Volumes/[^/{}]+/[^/{}]+/[^/{}]+/.`)
)

// ConfigFromEnv reads and validates the configuration.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	r := envconfig.New(lookup)
	d := databricks.DefaultRetryPolicy()
	c := Config{
		SecretID:         r.Required("DATABRICKS_SECRET_ID", "a Secrets Manager secret name or ARN"),
		SecretTTL:        r.Duration("SECRET_TTL", 5*time.Minute, 0, 24*time.Hour),
		Mode:             Mode(r.OneOf("DELIVERY_MODE", string(Volume), string(Volume), string(Job), string(CopyInto), string(DBFS))),
		KeyPrefix:        r.String("KEY_PREFIX", ""),
		KeySuffix:        r.String("KEY_SUFFIX", ""),
		DeadlineMargin:   r.Duration("DEADLINE_MARGIN", 5*time.Second, 100*time.Millisecond, 5*time.Minute),
		PollInterval:     r.Duration("STATEMENT_POLL_INTERVAL", time.Second, 10*time.Millisecond, time.Minute),
		MetricsNamespace: r.String("METRICS_NAMESPACE", emf.DefaultNamespace),
		S3PathStyle:      r.Bool("S3_FORCE_PATH_STYLE", false),
		Retry: databricks.RetryPolicy{
			MaxAttempts: r.Int("DATABRICKS_MAX_ATTEMPTS", d.MaxAttempts, 1, 20),
			BaseDelay:   r.Duration("RETRY_BASE_DELAY", d.BaseDelay, time.Millisecond, time.Minute),
			MaxDelay:    r.Duration("RETRY_MAX_DELAY", d.MaxDelay, time.Millisecond, 5*time.Minute),
		},
	}
	if c.SecretID != "" && !secretID.MatchString(c.SecretID) {
		r.Fail("DATABRICKS_SECRET_ID", c.SecretID, "a Secrets Manager secret name or ARN")
	}
	template := func(name, want string) *Template {
		v := r.Required(name, want)
		if v == "" {
			return nil
		}
		t, err := ParseTemplate(v)
		r.Check(name, v, err)
		return t
	}
	switch c.Mode {
	case Volume:
		c.Path = template("DATABRICKS_VOLUME_PATH", "a path template such as /Volumes/main/cdc/landing/{table}/{name}")
		if c.Path != nil && !volumeRoot.MatchString(c.Path.String()) {
			r.Fail("DATABRICKS_VOLUME_PATH", c.Path.String(), "a path under /Volumes/<catalog>/<schema>/<volume>/")
		} else if c.Path != nil && !cleanSegments(c.Path) {
			r.Fail("DATABRICKS_VOLUME_PATH", c.Path.String(), "a path without empty, . or .. segments")
		}
	case DBFS:
		c.Path = template("DBFS_PATH", "an absolute DBFS path template such as /mnt/cdc/{key}")
		if c.Path != nil && !strings.HasPrefix(c.Path.String(), "/") {
			r.Fail("DBFS_PATH", c.Path.String(), "an absolute path")
		} else if c.Path != nil && !cleanSegments(c.Path) {
			r.Fail("DBFS_PATH", c.Path.String(), "an absolute path without empty, . or .. segments")
		}
	case Job:
		v := r.Required("DATABRICKS_JOB_ID", "a job ID")
		if id, err := strconv.ParseInt(v, 10, 64); v != "" && (err != nil || id <= 0) {
			r.Fail("DATABRICKS_JOB_ID", v, "a positive whole number")
		} else {
			c.JobID = id
		}
	case CopyInto:
		c.WarehouseID = r.Required("DATABRICKS_WAREHOUSE_ID", "a SQL warehouse ID")
		c.Table = template("DATABRICKS_TABLE", "a table name template such as main.cdc.{table}_changes")
		if c.Table != nil {
			sample, _ := c.Table.Expand(sampleVars(), sqlName)
			if !tableName.MatchString(sample) {
				r.Fail("DATABRICKS_TABLE", c.Table.String(), "[catalog.][schema.]table of letters, digits and _")
			}
		}
		// COPY_INTO_OPTIONS followed COPY INTO's FILEFORMAT. The load is
		// now a MERGE whose per-line match is what makes it idempotent, and
		// no option of COPY INTO has a counterpart there: 'force' would
		// load an object twice, mergeSchema and FORMAT_OPTIONS would change
		// the record format's columns or how a line is read. A value left
		// in a deployment is refused, not silently ignored.
		if o, ok := lookup("COPY_INTO_OPTIONS"); ok && strings.TrimSpace(o) != "" {
			r.Fail("COPY_INTO_OPTIONS", o, "nothing: copy-into mode now runs MERGE INTO ... USING read_files(...), "+
				"which takes no COPY INTO options (idempotency is the MERGE's own); unset it")
		}
		if _, err := CopyIntoColumns(); err != nil {
			r.Check("DELIVERY_MODE", string(c.Mode), fmt.Errorf("copy-into table columns: %w", err))
		}
	}
	if c.Retry.MaxDelay < c.Retry.BaseDelay {
		r.Fail("RETRY_MAX_DELAY", c.Retry.MaxDelay.String(), fmt.Sprintf("at least RETRY_BASE_DELAY (%s)", c.Retry.BaseDelay))
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// cleanSegments reports whether a path template, with every variable
// filled, has no empty, "." or ".." segment: such a template would write
// outside the directory it names (or nowhere) for every object, so it is
// refused at start rather than on each delivery.
func cleanSegments(t *Template) bool {
	p, err := t.Expand(sampleVars(), nil)
	if err != nil || !strings.HasPrefix(p, "/") {
		return false
	}
	for _, s := range strings.Split(p[1:], "/") {
		if s == "" || s == "." || s == ".." {
			return false
		}
	}
	return true
}

func sampleVars() map[string]string {
	m := map[string]string{}
	for _, v := range append(append([]string{}, objectVars...), layoutVars...) {
		m[v] = "x"
	}
	return m
}

// sqlName makes a value safe inside an unquoted SQL identifier: DynamoDB
// table names may hold '-' and '.', which identifiers may not.
func sqlName(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, v)
}
