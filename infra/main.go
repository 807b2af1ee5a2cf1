// Command infra is the CDK app that deploys the pipeline (cdk.json runs
// it). It reads CDK context into pipeline.Props, stops with a message
// naming every bad value, and applies the cdk-nag AwsSolutions checks.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ddbstream/pipeline/infra/pipeline"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	dir, err := os.Getwd()
	var props pipeline.Props
	if err == nil {
		props, err = pipeline.PropsFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synthesis stopped:", err)
		jsii.Close()
		os.Exit(1)
	}
	stackName := "DdbStreamPipeline"
	if v, ok := app.Node().TryGetContext(jsii.String("stackName")).(string); ok && v != "" {
		stackName = v
	}
	var env *awscdk.Environment
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	pipeline.NewPipelineStack(app, stackName, &pipeline.StackProps{
		StackProps: awscdk.StackProps{Env: env, Description: jsii.String("DynamoDB Streams to S3 to Databricks pipeline")},
		Pipeline:   props,
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}
