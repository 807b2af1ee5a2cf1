// Command forwarder is the Lambda function that delivers new S3 objects to
// Databricks. It only wires; the logic is in internal/forwarder.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/secret"
)

func main() {
	level, levelErr := lambdalog.LevelFromEnv(os.LookupEnv)
	log := lambdalog.New(os.Stdout, level)
	if levelErr != nil {
		log.Warn("log level not understood", "error", levelErr.Error())
	}
	cfg, err := forwarder.ConfigFromEnv(os.LookupEnv)
	if err != nil {
		log.Error("forwarder not started", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("forwarder not started: load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	creds := secret.NewCache(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID, cfg.SecretTTL)
	db := databricks.New(creds, forwarder.DatabricksOptions(cfg)...)
	metrics := emf.New(os.Stdout, cfg.MetricsNamespace, emf.WithDimension("FunctionName", os.Getenv("AWS_LAMBDA_FUNCTION_NAME")))
	h := forwarder.New(forwarder.NewS3Client(awsCfg, cfg), db, cfg, forwarder.WithLogger(log), forwarder.WithMetrics(metrics))
	lambda.Start(h)
}
