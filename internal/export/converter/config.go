package converter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Config is the converter's configuration. The output settings have the
// streamer's names, meanings and defaults, so that snapshot rows land
// beside the stream's rows in the same form.
type Config struct {
	// Bucket receives the objects (BUCKET_NAME, required).
	Bucket string
	// Prefix starts every key (S3_PREFIX, default "cdc"): the streamer's.
	Prefix string
	// ImageFormat selects plain or typed images (IMAGE_FORMAT).
	ImageFormat record.ImageFormat
	// GzipLevel is the compression level, 1 (fastest) to 9 (GZIP_LEVEL,
	// default 1; see DefaultGzipLevel).
	GzipLevel int
	// ContentType and ContentEncoding are set on data objects
	// (CONTENT_TYPE, CONTENT_ENCODING; an encoding of "none" sets none).
	ContentType, ContentEncoding string
	// KMSKeyID, when set, encrypts objects with SSE-KMS and an S3 Bucket
	// Key (KMS_KEY_ID: key ID, key ARN or alias).
	KMSKeyID string
	// ConditionalWrites completes objects with If-None-Match: *, so that
	// a repeated conversion never rewrites an object or announces it
	// twice (CONDITIONAL_WRITES, default true).
	ConditionalWrites bool
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
	// S3MaxAttempts bounds the SDK's attempts per call (S3_MAX_ATTEMPTS).
	S3MaxAttempts int
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
	// S3PathStyle addresses the bucket in the path, for S3-compatible
	// servers (S3_FORCE_PATH_STYLE); the endpoint comes from the SDK's
	// AWS_ENDPOINT_URL_S3.
	S3PathStyle bool
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
		Prefix:            "cdc",
		ImageFormat:       record.Plain,
		GzipLevel:         DefaultGzipLevel,
		ContentType:       "application/x-ndjson",
		ContentEncoding:   "gzip",
		ConditionalWrites: true,
		PartSize:          DefaultPartSize,
		PartsInFlight:     2,
		VerifyMD5:         true,
		DeadlineMargin:    10 * time.Second,
		S3MaxAttempts:     5,
		MetricsNamespace:  emf.DefaultNamespace,
	}
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	mediaType  = regexp.MustCompile(`^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+(;.*)?$`)
	// kmsKey accepts the forms the streamer accepts.
	kmsKey = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+)$`)
)

// ConfigFromEnv reads and validates the configuration; lookup is usually
// os.LookupEnv. The error names every bad variable and its expected form.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	d := DefaultConfig()
	r := envconfig.New(lookup)
	c := Config{
		Bucket:            r.Required("BUCKET_NAME", "an S3 bucket name"),
		Prefix:            strings.TrimRight(r.String("S3_PREFIX", d.Prefix), "/"),
		GzipLevel:         r.Int("GZIP_LEVEL", d.GzipLevel, 1, 9),
		ContentType:       r.String("CONTENT_TYPE", d.ContentType),
		ContentEncoding:   r.String("CONTENT_ENCODING", d.ContentEncoding),
		KMSKeyID:          r.String("KMS_KEY_ID", ""),
		ConditionalWrites: r.Bool("CONDITIONAL_WRITES", d.ConditionalWrites),
		PartSize:          r.Int("PART_SIZE", d.PartSize, MinPartSize, MaxPartSize),
		PartsInFlight:     r.Int("PARTS_IN_FLIGHT", d.PartsInFlight, 1, 8),
		VerifyMD5:         r.Bool("VERIFY_MD5", d.VerifyMD5),
		DeadlineMargin:    r.Duration("DEADLINE_MARGIN", d.DeadlineMargin, time.Second, 5*time.Minute),
		S3MaxAttempts:     r.Int("S3_MAX_ATTEMPTS", d.S3MaxAttempts, 1, 20),
		MetricsNamespace:  r.String("METRICS_NAMESPACE", d.MetricsNamespace),
		S3PathStyle:       r.Bool("S3_FORCE_PATH_STYLE", false),
	}
	if c.Bucket != "" && !bucketName.MatchString(c.Bucket) {
		r.Fail("BUCKET_NAME", c.Bucket, "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)")
	}
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

// Validate checks a Config built in code rather than from the environment.
func (c Config) Validate() error {
	var bad []string
	if c.Bucket == "" {
		bad = append(bad, "bucket is required")
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		bad = append(bad, "gzip level must be from 1 to 9")
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		bad = append(bad, fmt.Sprintf("part size must be from %d to %d bytes", MinPartSize, MaxPartSize))
	}
	if c.PartsInFlight < 1 {
		bad = append(bad, "parts in flight must be 1 or more")
	}
	if c.ContentType == "" {
		bad = append(bad, "content type is required")
	}
	if err := objectkey.ValidatePrefix(c.Prefix); err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
