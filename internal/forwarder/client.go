package forwarder

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/databricks"
)

// NewS3Client returns the S3 client the forwarder reads with.
func NewS3Client(awsCfg aws.Config, cfg Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle })
}

// DatabricksOptions turns the configuration into client options. It sets
// no deadline margin: DEADLINE_MARGIN is kept once, by the Handler's
// per-object context, and the client stops at that context's deadline.
func DatabricksOptions(cfg Config) []databricks.Option {
	return []databricks.Option{
		databricks.WithHTTPClient(databricks.NewHTTPClient()),
		databricks.WithRetryPolicy(cfg.Retry),
		databricks.WithPollInterval(cfg.PollInterval),
	}
}
