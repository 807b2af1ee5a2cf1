package output

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Settings are how a function writes the lake's objects.
type Settings struct {
	// Bucket receives the objects (BUCKET_NAME, required).
	Bucket string
	// Prefix starts every key (S3_PREFIX, default "cdc"; trailing slashes
	// are dropped).
	Prefix string
	// ImageFormat selects plain or typed images (IMAGE_FORMAT: plain or
	// dynamodb).
	ImageFormat record.ImageFormat
	// GzipLevel is the compression level, 1 (fastest) to 9 (GZIP_LEVEL;
	// each function has its default).
	GzipLevel int
	// ContentType and ContentEncoding are set on data objects
	// (CONTENT_TYPE, CONTENT_ENCODING; an encoding of "none" sets none).
	ContentType, ContentEncoding string
	// KMSKeyID, when set, encrypts objects with SSE-KMS and an S3 Bucket
	// Key (KMS_KEY_ID: key ID, key ARN or alias ARN).
	KMSKeyID string
	// ConditionalWrites writes with If-None-Match: *, so that a retried or
	// repeated write never rewrites a durable object nor announces it
	// twice (CONDITIONAL_WRITES, default true).
	ConditionalWrites bool
	// S3MaxAttempts bounds the SDK's attempts per call (S3_MAX_ATTEMPTS,
	// 1 to 20, default 5).
	S3MaxAttempts int
	// S3PathStyle addresses the bucket in the path, for S3-compatible
	// servers (S3_FORCE_PATH_STYLE); the endpoint itself comes from the
	// SDK's standard AWS_ENDPOINT_URL_S3.
	S3PathStyle bool
}

// Defaults returns the shared defaults with gzipLevel, and no bucket.
func Defaults(gzipLevel int) Settings {
	return Settings{
		Prefix:            "cdc",
		ImageFormat:       record.Plain,
		GzipLevel:         gzipLevel,
		ContentType:       "application/x-ndjson",
		ContentEncoding:   "gzip",
		ConditionalWrites: true,
		S3MaxAttempts:     5,
	}
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	mediaType  = regexp.MustCompile(`^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+(;.*)?$`)
	kmsKey     = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias/[a-zA-Z0-9/_-]+)$`)
)

// FromEnv reads the settings through r, with d's values as defaults;
// every bad variable is recorded in r, whose Err names them all.
func FromEnv(r *envconfig.Reader, d Settings) Settings {
	s := Settings{
		Bucket:            r.Required("BUCKET_NAME", "an S3 bucket name"),
		Prefix:            strings.TrimRight(r.String("S3_PREFIX", d.Prefix), "/"),
		GzipLevel:         r.Int("GZIP_LEVEL", d.GzipLevel, 1, 9),
		ContentType:       r.String("CONTENT_TYPE", d.ContentType),
		ContentEncoding:   r.String("CONTENT_ENCODING", d.ContentEncoding),
		KMSKeyID:          r.String("KMS_KEY_ID", d.KMSKeyID),
		ConditionalWrites: r.Bool("CONDITIONAL_WRITES", d.ConditionalWrites),
		S3MaxAttempts:     r.Int("S3_MAX_ATTEMPTS", d.S3MaxAttempts, 1, 20),
		S3PathStyle:       r.Bool("S3_FORCE_PATH_STYLE", d.S3PathStyle),
	}
	if s.Bucket != "" && !bucketName.MatchString(s.Bucket) {
		r.Fail("BUCKET_NAME", s.Bucket, "an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)")
	}
	r.Check("S3_PREFIX", s.Prefix, objectkey.ValidatePrefix(s.Prefix))
	if !mediaType.MatchString(s.ContentType) {
		r.Fail("CONTENT_TYPE", s.ContentType, "a media type such as application/x-ndjson")
	}
	if s.ContentEncoding == "none" {
		s.ContentEncoding = ""
	}
	format := r.OneOf("IMAGE_FORMAT", d.ImageFormat.String(), record.Plain.String(), record.DynamoDB.String())
	s.ImageFormat, _ = record.ParseImageFormat(format)
	if s.KMSKeyID != "" && !kmsKey.MatchString(s.KMSKeyID) {
		r.Fail("KMS_KEY_ID", s.KMSKeyID, "a KMS key ID, key ARN or alias ARN")
	}
	return s
}

// Problems lists what is wrong with settings built in code rather than
// read from the environment; none when they are usable.
func (s Settings) Problems() []string {
	var bad []string
	if s.Bucket == "" {
		bad = append(bad, "bucket is required")
	}
	if s.GzipLevel < 1 || s.GzipLevel > 9 {
		bad = append(bad, "gzip level must be from 1 to 9")
	}
	if s.ContentType == "" {
		bad = append(bad, "content type is required")
	}
	if s.S3MaxAttempts < 0 {
		bad = append(bad, fmt.Sprintf("S3 attempts must not be negative, not %d", s.S3MaxAttempts))
	}
	if err := objectkey.ValidatePrefix(s.Prefix); err != nil {
		bad = append(bad, err.Error())
	}
	return bad
}
