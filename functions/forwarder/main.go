// Command forwarder is the Lambda function that delivers new S3 objects to
// Databricks. It only wires; the logic is in internal/forwarder and the
// plumbing in internal/function.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/function/bootstrap"
	"github.com/ddbstream/pipeline/internal/secret"
)

func main() {
	bootstrap.Start("forwarder", forwarder.ConfigFromEnv, func(s bootstrap.Setup, cfg forwarder.Config) (lambda.Handler, error) {
		creds := secret.NewCache(secretsmanager.NewFromConfig(s.AWS), cfg.SecretID, cfg.SecretTTL)
		db := databricks.New(creds, forwarder.DatabricksOptions(cfg)...)
		return forwarder.New(forwarder.NewS3Client(s.AWS, cfg), db, cfg, s.Telemetry(cfg.MetricsNamespace)...), nil
	})
}
