package converter

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewS3Client returns the S3 client the converter reads and writes with:
// the SDK's standard retryer (throttling, 5xx, SlowDown, transport
// errors) with cfg.S3MaxAttempts attempts per call, and path-style
// addressing when configured.
func NewS3Client(awsCfg aws.Config, cfg Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.S3PathStyle
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = cfg.S3MaxAttempts
		})
	})
}
