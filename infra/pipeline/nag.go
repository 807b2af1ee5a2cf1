package pipeline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func suppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		var a []any
		for _, r := range appliesTo {
			a = append(a, &cdknag.RegexAppliesTo{Regex: jsii.String(r)})
		}
		s.AppliesTo = &a
	}
	return s
}

// suppressFindings records, with reasons, the cdk-nag findings this design
// accepts. Each names the exact resources it covers.
func suppressFindings(scope constructs.Construct, streamer awslambda.Function, dl *delivery, bf backfill, queues ...any) {
	objects := `/^Resource::arn:<AWS::Partition>:s3:::.*\/\*$/g`
	// The data keys (<prefix>/table=*) and the converted snapshot keys
	// (iam.Resources.SnapshotObjectsARNs).
	dataObjects := `/^Resource::arn:<AWS::Partition>:s3:::.*\/table=\*$/g`
	snapshotObjects := `/^Resource::arn:<AWS::Partition>:s3:::.*\/table=\*\/dt=\*\/hour=\*\/snapshot-\*$/g`
	logStreams := `/^Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:.*:\*$/g`
	cdknag.NagSuppressions_AddResourceSuppressions(streamer.Role(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", "Writes only the data keys (<prefix>/table=*) and, below <prefix>/_errors/, the records set aside; "+
			"log streams of the function's one log group; "+
			"dynamodb:ListStreams, alone in its statement, on * because it supports no resource-level permissions (iam.WildcardResources).",
			dataObjects, objects, logStreams, `/^Resource::\*$/g`),
	}, jsii.Bool(true))
	if dl != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(dl.fn.Role(), &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-IAM5", "Reads only the data keys (<prefix>/table=*), the keys it delivers; log streams of the function's one log group; "+
				"a secret named without its ARN ends in six random characters (-??????).",
				dataObjects, logStreams, `/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\?\?\?\?\?\?$/g`),
		}, jsii.Bool(true))
		queues = append(queues, dl.queue, dl.triggerQueue)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(bf.planner.Role(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", "Object ARNs end in /* only below the export prefix; the table's exports, whose IDs are unknown before "+
			"they exist (table/<t>/export/*); log streams of the function's one log group.",
			objects, logStreams, `/^Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table\/.*\/export\/\*$/g`),
	}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(bf.converter.Role(), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM5", "Reads objects below the export prefix (/*); writes only snapshot objects and their errors objects "+
			"(<prefix>/table=*/dt=*/hour=*/snapshot-* and its _errors/ twin); log streams of the function's one log group.",
			objects, snapshotObjects, logStreams),
	}, jsii.Bool(true))
	for _, q := range queues {
		switch q := q.(type) {
		case awssqs.Queue:
			cdknag.NagSuppressions_AddResourceSuppressions(q, &[]*cdknag.NagPackSuppression{
				suppression("AwsSolutions-SQS3", "This queue is itself a dead-letter queue: the on-failure destination of a function or of the forwarder's EventBridge rule."),
			}, jsii.Bool(true))
		case awsiam.Role:
			if q != nil {
				cdknag.NagSuppressions_AddResourceSuppressions(q, &[]*cdknag.NagPackSuppression{
					suppression("AwsSolutions-IAM5", "Databricks reads objects only below the pipeline prefix.", objects),
				}, jsii.Bool(true))
			}
		}
	}
	if logs := scope.Node().TryFindChild(jsii.String("AccessLogs")); logs != nil {
		cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-S1", "This bucket receives the output bucket's server access logs; logging it would loop."),
		}, jsii.Bool(true))
	}
}
