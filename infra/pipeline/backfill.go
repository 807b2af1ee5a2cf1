package pipeline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/eventrule"
)

// backfill is the serverless conversion of table exports into snapshot
// objects: the planner, the converter, their queues.
type backfill struct {
	planner, converter           awslambda.Function
	plannerQueue, converterQueue awssqs.Queue
	triggerQueue                 awssqs.Queue
}

// newBackfill converts each completed table export in AWS, in parallel
// per export data file. ddbstream backfill starts the export; S3 writes
// its manifest-summary.json, which EventBridge routes to the planner (AWS
// publishes no event for a completed export, and does not document that
// the summary is written last, so the planner checks DescribeExport
// itself); the planner invokes the converter asynchronously once per data
// file, so Lambda runs the files in parallel and retries each on its own,
// keeping what still fails in the converter's on-failure queue.
func newBackfill(scope constructs.Construct, p *Props, res *iam.Resources, keyARN string) backfill {
	c := constructs.NewConstruct(scope, jsii.String("Backfill"))
	var b backfill
	b.plannerQueue, b.converterQueue = failureQueue(c, "PlannerFailureQueue"), failureQueue(c, "ConverterFailureQueue")
	b.triggerQueue = failureQueue(c, "TriggerDeadLetterQueue")
	res.PlannerQueueARN, res.ConverterQueueARN = *b.plannerQueue.QueueArn(), *b.converterQueue.QueueArn()
	res.ExportTriggerQueueARN = *b.triggerQueue.QueueArn()
	plannerLogs, converterLogs := logGroup(c, "PlannerLogs", p), logGroup(c, "ConverterLogs", p)
	res.PlannerLogGroup, res.ConverterLogGroup = *plannerLogs.LogGroupName(), *converterLogs.LogGroupName()

	b.converter = newFunction(c, "Converter", p, functionSettings{
		name: "exportconverter", statements: iam.ExportConverter(*res), logs: converterLogs,
		memory: p.ExportConverterMemoryMB, timeout: p.ExportConverterTimeoutSec, env: p.converterEnv(res.BucketName, keyARN),
		description: "Converts one DynamoDB export data file into a snapshot object",
	})
	res.ConverterFunctionARN = *b.converter.FunctionArn()
	b.planner = newFunction(c, "Planner", p, functionSettings{
		name: "exportplanner", statements: iam.ExportPlanner(*res), logs: plannerLogs,
		memory: 256, timeout: 300, env: p.plannerEnv(res.ConverterFunctionARN),
		description: "Starts the conversion of a completed DynamoDB export, one converter run per data file",
	})
	asyncConfig(c, "ConverterAsyncConfig", b.converter, b.converterQueue, p)
	asyncConfig(c, "PlannerAsyncConfig", b.planner, b.plannerQueue, p)
	invokeOnObjectCreated(c, "Planner", b.planner, b.triggerQueue, eventrule.ExportManifest(res.BucketName, res.ExportPrefix),
		"Completed DynamoDB table exports to the export planner")
	return b
}

// asyncConfig bounds a function's asynchronous retries and keeps what
// still fails in queue.
func asyncConfig(scope constructs.Construct, id string, fn awslambda.Function, queue awssqs.Queue, p *Props) {
	awslambda.NewCfnEventInvokeConfig(scope, jsii.String(id), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.FunctionName(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(p.AsyncRetryAttempts),
		MaximumEventAgeInSeconds: jsii.Number(p.MaxEventAgeSeconds),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: queue.QueueArn()},
		},
	})
}
