// Command streamer is the Lambda function that writes DynamoDB Streams
// batches to S3 as JSON Lines. It only wires; the logic is in
// internal/streamer and the plumbing in internal/function/bootstrap.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ddbstream/pipeline/internal/function/bootstrap"
	"github.com/ddbstream/pipeline/internal/streamer"
)

func main() {
	bootstrap.Start("streamer", streamer.ConfigFromEnv, func(s bootstrap.Setup, cfg streamer.Config) (lambda.Handler, error) {
		return streamer.New(streamer.NewS3Client(s.AWS, cfg), cfg, s.Telemetry(cfg.MetricsNamespace)...)
	})
}
