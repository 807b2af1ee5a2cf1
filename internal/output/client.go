package output

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewS3Client returns the S3 client the settings write through: path
// style when asked, and S3MaxAttempts attempts per call.
func NewS3Client(awsCfg aws.Config, s Settings) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = s.S3PathStyle
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = s.S3MaxAttempts
		})
	})
}
