// Command smoke checks a deployed pipeline (make smoke STACK=name): it
// writes a canary item, waits for its object in S3 and its delivery to
// Databricks, and reports recent errors. Without AWS credentials it says
// so and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/integration/smoke"
)

func main() {
	stack := flag.String("stack", "DdbStreamPipeline", "the pipeline's stack name")
	pk := flag.String("partition-key", "pk", "the table's partition key (a string attribute)")
	sk := flag.String("sort-key", "sk", "the table's sort key, or empty")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long to wait for each step")
	flag.Parse()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err == nil {
		_, err = cfg.Credentials.Retrieve(ctx)
	}
	if err != nil {
		fmt.Println("smoke: skipped:", smoke.ErrNoCredentials, "-", err)
		return
	}
	c := &smoke.Checker{
		Stacks: cloudformation.NewFromConfig(cfg), Items: dynamodb.NewFromConfig(cfg), Objects: s3.NewFromConfig(cfg),
		Logs: cloudwatchlogs.NewFromConfig(cfg), PartitionKey: *pk, SortKey: *sk, Timeout: *timeout, Out: os.Stdout,
	}
	if _, err := c.Run(ctx, *stack); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
	fmt.Println("smoke: passed")
}
