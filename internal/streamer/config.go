package streamer

import (
	"errors"
	"regexp"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Config is the streamer's configuration.
type Config struct {
	// Bucket receives the objects (BUCKET_NAME, required).
	Bucket string
	// Prefix starts every key (S3_PREFIX, default "cdc").
	Prefix string
	// GzipLevel is the compression level, 1 (fastest) to 9 (GZIP_LEVEL).
	GzipLevel int
	// ContentType and ContentEncoding are set on data objects
	// (CONTENT_TYPE, CONTENT_ENCODING; an encoding of "none" sets none).
	ContentType, ContentEncoding string
	// KMSKeyID, when set, encrypts objects with SSE-KMS and an S3 Bucket
	// Key (KMS_KEY_ID: key ID, key ARN or alias ARN).
	KMSKeyID string
	// ImageFormat selects plain or typed images (IMAGE_FORMAT).
	ImageFormat record.ImageFormat
	// DeadlineMargin is kept free before the Lambda deadline to report the
	// unwritten records (DEADLINE_MARGIN, default 3s).
	DeadlineMargin time.Duration
	// ReportBatchItemFailures must match the event source mapping's
	// FunctionResponseTypes. When false, any failure fails the invocation,
	// because Lambda would read a partial-failure response as success
	// (REPORT_BATCH_ITEM_FAILURES, default true).
	ReportBatchItemFailures bool
	// ConditionalWrites writes with If-None-Match: * so retries never
	// rewrite a durable object (CONDITIONAL_WRITES, default true).
	ConditionalWrites bool
	// S3MaxAttempts bounds the SDK's attempts per write (S3_MAX_ATTEMPTS).
	S3MaxAttempts int
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
	// S3PathStyle addresses the bucket in the path, for S3-compatible
	// servers on localhost (S3_FORCE_PATH_STYLE). The endpoint itself comes
	// from the SDK's standard AWS_ENDPOINT_URL_S3.
	S3PathStyle bool
}

// DefaultConfig returns the defaults, with no bucket.
func DefaultConfig() Config {
	return Config{
		Prefix:                  "cdc",
		GzipLevel:               DefaultGzipLevel,
		ContentType:             "application/x-ndjson",
		ContentEncoding:         "gzip",
		DeadlineMargin:          3 * time.Second,
		ReportBatchItemFailures: true,
		ConditionalWrites:       true,
		S3MaxAttempts:           5,
		MetricsNamespace:        emf.DefaultNamespace,
	}
}

// DefaultGzipLevel trades a few percent of size for the throughput that
// keeps a full 6 MB batch well inside its latency budget.
const DefaultGzipLevel = 3

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	mediaType  = regexp.MustCompile(`^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+(;.*)?$`)
)

// ConfigFromEnv reads and validates the configuration; lookup is usually
// os.LookupEnv. The error names every bad variable and its expected form.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	d := DefaultConfig()
	r := envconfig.New(lookup)
	c := Config{
		Bucket:                  r.Required("BUCKET_NAME", "an S3 bucket name"),
		Prefix:                  r.String("S3_PREFIX", d.Prefix),
		GzipLevel:               r.Int("GZIP_LEVEL", d.GzipLevel, 1, 9),
		ContentType:             r.String("CONTENT_TYPE", d.ContentType),
		ContentEncoding:         r.String("CONTENT_ENCODING", d.ContentEncoding),
		KMSKeyID:                r.String("KMS_KEY_ID", ""),
		DeadlineMargin:          r.Duration("DEADLINE_MARGIN", d.DeadlineMargin, 100*time.Millisecond, 5*time.Minute),
		ReportBatchItemFailures: r.Bool("REPORT_BATCH_ITEM_FAILURES", d.ReportBatchItemFailures),
		ConditionalWrites:       r.Bool("CONDITIONAL_WRITES", d.ConditionalWrites),
		S3MaxAttempts:           r.Int("S3_MAX_ATTEMPTS", d.S3MaxAttempts, 1, 20),
		MetricsNamespace:        r.String("METRICS_NAMESPACE", d.MetricsNamespace),
		S3PathStyle:             r.Bool("S3_FORCE_PATH_STYLE", false),
	}
	if c.Bucket != "" && !bucketName.MatchString(c.Bucket) {
		r.Fail("BUCKET_NAME", c.Bucket, "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)")
	}
	c.Prefix = trimSlashes(c.Prefix)
	r.Check("S3_PREFIX", c.Prefix, objectkey.ValidatePrefix(c.Prefix))
	if !mediaType.MatchString(c.ContentType) {
		r.Fail("CONTENT_TYPE", c.ContentType, "a media type such as application/x-ndjson")
	}
	if c.ContentEncoding == "none" {
		c.ContentEncoding = ""
	}
	format := r.OneOf("IMAGE_FORMAT", "plain", "plain", "dynamodb")
	c.ImageFormat, _ = record.ParseImageFormat(format)
	if c.KMSKeyID != "" && !kmsKey.MatchString(c.KMSKeyID) {
		r.Fail("KMS_KEY_ID", c.KMSKeyID, "a KMS key ID, key ARN or alias ARN")
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

var kmsKey = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+)$`)

func trimSlashes(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Validate checks a Config built in code rather than from the environment.
func (c Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("bucket is required")
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		return errors.New("gzip level must be from 1 to 9")
	}
	return objectkey.ValidatePrefix(c.Prefix)
}
