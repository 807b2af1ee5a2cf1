// Command streamer is the Lambda function that writes DynamoDB Streams
// batches to S3 as JSON Lines. It only wires; the logic is in
// internal/streamer and the plumbing in internal/function/bootstrap.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ddbstream/pipeline/internal/function/bootstrap"
	"github.com/ddbstream/pipeline/internal/output"
	"github.com/ddbstream/pipeline/internal/streamer"
)

func main() {
	bootstrap.Start("streamer", streamer.ConfigFromEnv, func(s bootstrap.Setup, cfg streamer.Config) (lambda.Handler, error) {
		return streamer.New(output.NewS3Client(s.AWS, cfg.Settings), cfg, s.Telemetry(cfg.MetricsNamespace)...)
	})
}
