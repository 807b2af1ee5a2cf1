package streamer

import (
	"errors"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/output"
)

// Config is the streamer's configuration: how it writes objects (the
// settings it shares with the export converter), and its own.
type Config struct {
	output.Settings
	// DeadlineMargin is kept free before the Lambda deadline to report the
	// unwritten records (DEADLINE_MARGIN, default 3s).
	DeadlineMargin time.Duration
	// ReportBatchItemFailures must match the event source mapping's
	// FunctionResponseTypes. When false, any failure fails the invocation,
	// because Lambda would read a partial-failure response as success
	// (REPORT_BATCH_ITEM_FAILURES, default true).
	ReportBatchItemFailures bool
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
}

// DefaultConfig returns the defaults, with no bucket.
func DefaultConfig() Config {
	return Config{
		Settings:                output.Defaults(DefaultGzipLevel),
		DeadlineMargin:          3 * time.Second,
		ReportBatchItemFailures: true,
		MetricsNamespace:        emf.DefaultNamespace,
	}
}

// DefaultGzipLevel trades a few percent of size for the throughput that
// keeps a full 6 MB batch well inside its latency budget.
const DefaultGzipLevel = 3

// ConfigFromEnv reads and validates the configuration; lookup is usually
// os.LookupEnv. The error names every bad variable and its expected form.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	d := DefaultConfig()
	r := envconfig.New(lookup)
	c := Config{
		Settings:                output.FromEnv(r, d.Settings),
		DeadlineMargin:          r.Duration("DEADLINE_MARGIN", d.DeadlineMargin, 100*time.Millisecond, 5*time.Minute),
		ReportBatchItemFailures: r.Bool("REPORT_BATCH_ITEM_FAILURES", d.ReportBatchItemFailures),
		MetricsNamespace:        r.String("METRICS_NAMESPACE", d.MetricsNamespace),
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks a Config built in code rather than from the environment.
func (c Config) Validate() error {
	if bad := c.Problems(); len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
