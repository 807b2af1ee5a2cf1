// Command exportplanner is the Lambda function that starts a backfill
// when a DynamoDB table export completes: one converter invocation per
// data file. It only wires; the logic is in internal/export/planner and
// the plumbing in internal/function/bootstrap.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ddbstream/pipeline/internal/export/planner"
	"github.com/ddbstream/pipeline/internal/function/bootstrap"
)

func main() {
	bootstrap.Start("exportplanner", planner.ConfigFromEnv, func(s bootstrap.Setup, cfg planner.Config) (lambda.Handler, error) {
		return planner.New(planner.NewClients(s.AWS, cfg), cfg, s.Telemetry(cfg.MetricsNamespace)...)
	})
}
