// Command exportconverter is the Lambda function that converts one data
// file of a DynamoDB table export into a snapshot object. It only wires;
// the logic is in internal/export/converter and the plumbing in
// internal/function/bootstrap.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ddbstream/pipeline/internal/export/converter"
	"github.com/ddbstream/pipeline/internal/function/bootstrap"
	"github.com/ddbstream/pipeline/internal/output"
)

func main() {
	bootstrap.Start("exportconverter", converter.ConfigFromEnv, func(s bootstrap.Setup, cfg converter.Config) (lambda.Handler, error) {
		return converter.New(output.NewS3Client(s.AWS, cfg.Settings), cfg, s.Telemetry(cfg.MetricsNamespace)...)
	})
}
