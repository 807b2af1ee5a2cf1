package converter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/output"
)

// Config is the converter's configuration. The output settings are the
// streamer's (package output: the same names, meanings and defaults but
// the gzip level), so that snapshot rows land beside the stream's rows in
// the same form.
type Config struct {
	output.Settings
	// PartSize is the size of each uploaded part and of each part buffer
	// (PART_SIZE in bytes, default 8 MiB, 5 MiB, S3's minimum, to 64 MiB).
	PartSize int
	// PartsInFlight bounds the parts of the data object uploading at once
	// (PARTS_IN_FLIGHT, default 2). Memory for parts is at most
	// (PartsInFlight+1) part buffers for the data object and two for the
	// errors object.
	PartsInFlight int
	// VerifyMD5 checks the data file's bytes against the manifest's
	// md5Checksum (VERIFY_MD5, default true).
	VerifyMD5 bool
	// DeadlineMargin is kept free before the Lambda deadline to abort the
	// upload and answer (DEADLINE_MARGIN, default 10s).
	DeadlineMargin time.Duration
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
}

// DefaultGzipLevel is 1, not the streamer's 3: converting a data file is
// gunzip, conversion and gzip in about equal thirds of the time on one
// core, and level 1 converts about 10% faster than level 3 for objects
// about 4% larger (cmd/exportbench).
const DefaultGzipLevel = 1

// Part sizes: S3's minimum for every part but the last, and a ceiling
// that keeps the function's memory small.
const (
	MinPartSize     = 5 << 20
	MaxPartSize     = 64 << 20
	DefaultPartSize = 8 << 20
)

// DefaultConfig returns the defaults, with no bucket.
func DefaultConfig() Config {
	return Config{
		Settings:         output.Defaults(DefaultGzipLevel),
		PartSize:         DefaultPartSize,
		PartsInFlight:    2,
		VerifyMD5:        true,
		DeadlineMargin:   10 * time.Second,
		MetricsNamespace: emf.DefaultNamespace,
	}
}

// ConfigFromEnv reads and validates the configuration; lookup is usually
// os.LookupEnv. The error names every bad variable and its expected form.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	d := DefaultConfig()
	r := envconfig.New(lookup)
	c := Config{
		Settings:         output.FromEnv(r, d.Settings),
		PartSize:         r.Int("PART_SIZE", d.PartSize, MinPartSize, MaxPartSize),
		PartsInFlight:    r.Int("PARTS_IN_FLIGHT", d.PartsInFlight, 1, 8),
		VerifyMD5:        r.Bool("VERIFY_MD5", d.VerifyMD5),
		DeadlineMargin:   r.Duration("DEADLINE_MARGIN", d.DeadlineMargin, time.Second, 5*time.Minute),
		MetricsNamespace: r.String("METRICS_NAMESPACE", d.MetricsNamespace),
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks a Config built in code rather than from the environment.
func (c Config) Validate() error {
	bad := c.Problems()
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		bad = append(bad, fmt.Sprintf("part size must be from %d to %d bytes", MinPartSize, MaxPartSize))
	}
	if c.PartsInFlight < 1 {
		bad = append(bad, "parts in flight must be 1 or more")
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
