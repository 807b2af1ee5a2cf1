// Command streamer is the Lambda function that writes DynamoDB Streams
// batches to S3 as JSON Lines. It only wires; the logic is in
// internal/streamer.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/streamer"
)

func main() {
	level, levelErr := lambdalog.LevelFromEnv(os.LookupEnv)
	log := lambdalog.New(os.Stdout, level)
	if levelErr != nil {
		log.Warn("log level not understood", "error", levelErr.Error())
	}
	cfg, err := streamer.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		log.Error("streamer not started", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("streamer not started: load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	client := streamer.NewS3Client(awsCfg, cfg)
	metrics := emf.New(os.Stdout, cfg.MetricsNamespace, emf.WithDimension("FunctionName", os.Getenv("AWS_LAMBDA_FUNCTION_NAME")))
	h, err := streamer.New(client, cfg, streamer.WithLogger(log), streamer.WithMetrics(metrics))
	if err != nil {
		log.Error("streamer not started", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h)
}
