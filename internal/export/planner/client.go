package planner

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewClients returns the SDK clients the planner calls, with the SDK's
// standard retryer; endpoints may be overridden with the SDK's
// AWS_ENDPOINT_URL_S3, _DYNAMODB and _LAMBDA variables.
func NewClients(awsCfg aws.Config, cfg Config) Clients {
	db := dynamodb.NewFromConfig(awsCfg)
	return Clients{
		S3:      s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle }),
		Exports: db,
		Tables:  db,
		Lambda:  lambda.NewFromConfig(awsCfg),
	}
}
