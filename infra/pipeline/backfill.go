package pipeline

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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
		reserved:    p.ExportConverterReservedConcurrency,
		description: "Converts one DynamoDB export data file into a snapshot object",
	})
	res.ConverterFunctionARN = *b.converter.FunctionArn()
	b.planner = newFunction(c, "Planner", p, functionSettings{
		name: "exportplanner", statements: iam.ExportPlanner(*res), logs: plannerLogs,
		memory: 256, timeout: 300, env: p.plannerEnv(res.ConverterFunctionARN, res.BucketName, res.ExportPrefix, res.TableName),
		description: "Starts the conversion of a completed DynamoDB export, one converter run per data file",
	})
	asyncConfig(c, "ConverterAsyncConfig", b.converter, b.converterQueue, p)
	asyncConfig(c, "PlannerAsyncConfig", b.planner, b.plannerQueue, p)
	invokeOnObjectCreated(c, "Planner", b.planner, b.triggerQueue, eventrule.ExportManifest(res.BucketName, res.ExportPrefix),
		"Completed DynamoDB table exports to the export planner")
	// ddbstream backfill reads it to estimate the conversion's time: at
	// most this many data files convert at once (0: no reservation, the
	// account's unreserved concurrency bounds them).
	out := awscdk.NewCfnOutput(scope, jsii.String(ConverterReservedConcurrencyOutput), &awscdk.CfnOutputProps{
		Value:       jsii.String(strconv.Itoa(p.ExportConverterReservedConcurrency)),
		Description: jsii.String("Reserved concurrency of the export converter: data files converted at once (0: none reserved)"),
	})
	out.OverrideLogicalId(jsii.String(ConverterReservedConcurrencyOutput)) // outputs are read by name: keep them plain
	return b
}

// ConverterReservedConcurrencyOutput is the stack output giving the
// export converter's reserved concurrency.
const ConverterReservedConcurrencyOutput = "ExportConverterReservedConcurrency"

// DefaultConverterReservedConcurrency is the export converter's default
// reserved concurrency. Asynchronous invocations return at once, so a
// backfill starts one converter per data file, each running up to its
// timeout; without a cap they could take the account's whole concurrency
// and throttle the streamer, the forwarder and every other function.
// Reserved concurrency is both the cap and a guarantee
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html),
// and it can only be taken from the account's unreserved concurrency while
// at least 100 stay unreserved: 10 of the default quota of 1,000 leave
// 990. Ten converters of one vCPU at the measured 86–115 MB/s convert
// about 1 GB of export text a second. Data files waiting for a converter
// are throttled invocations: Lambda keeps them in the asynchronous queue
// and retries them for up to the maximum event age (six hours by default,
// maxEventAgeSeconds;
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html),
// then hands them to the converter's on-failure queue, from which
// ddbstream redrive --source export converts them.
const DefaultConverterReservedConcurrency = 10

// maxReservedConcurrency bounds the context value; Lambda itself refuses
// at deploy a value that leaves the account fewer than 100 unreserved.
const maxReservedConcurrency = 10000

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
