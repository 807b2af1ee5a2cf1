package pipeline

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

type monitored struct {
	streamer      awslambda.Function
	streamerQueue awssqs.Queue
	delivery      *delivery // nil in delivery mode none
	backfill      backfill
}

// newMonitoring adds the alarms and the dashboard.
func newMonitoring(scope constructs.Construct, p *Props, m monitored) {
	c := constructs.NewConstruct(scope, jsii.String("Monitoring"))
	five := awscdk.Duration_Minutes(jsii.Number(5))
	var topic awssns.ITopic
	if p.AlarmTopicARN != "" {
		topic = awssns.Topic_FromTopicArn(c, jsii.String("AlarmTopic"), jsii.String(p.AlarmTopicARN))
	}
	alarm := func(id, description string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(c, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if topic != nil {
			a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		}
	}
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	maximum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}
	emfStat := func(fn awslambda.Function, name, stat string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(p.MetricsNamespace), MetricName: jsii.String(name), Period: five, Statistic: jsii.String(stat),
			DimensionsMap: &map[string]*string{"FunctionName": fn.FunctionName()},
		})
	}
	emf := func(fn awslambda.Function, name string) awscloudwatch.Metric { return emfStat(fn, name, "Sum") }
	iteratorAge := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("IteratorAge"), Period: five, Statistic: jsii.String("Maximum"),
		DimensionsMap: &map[string]*string{"FunctionName": m.streamer.FunctionName()},
	})
	type function struct {
		id      string
		fn      awslambda.Function
		timeout int
	}
	fns := []function{{"Streamer", m.streamer, p.StreamerTimeoutSec}}
	if m.delivery != nil {
		fns = append(fns, function{"Forwarder", m.delivery.fn, p.ForwarderTimeoutSec})
	}
	for _, f := range fns {
		alarm(f.id+"Errors", f.id+" invocations failed", f.fn.MetricErrors(sum), 1)
		alarm(f.id+"Throttles", f.id+" invocations were throttled", f.fn.MetricThrottles(sum), 1)
		alarm(f.id+"DurationNearTimeout", f.id+" ran for over 80% of its timeout", f.fn.MetricDuration(maximum), float64(f.timeout)*1000*0.8)
	}
	alarm("StreamIteratorAge", "The stream is falling behind: records wait longer than the threshold", iteratorAge, float64(p.IteratorAgeAlarmSec)*1000)
	alarm("StreamerFailureQueueDepth", "Batches the streamer gave up on are waiting in its on-failure queue",
		m.streamerQueue.MetricApproximateNumberOfMessagesVisible(maximum), 1)
	if m.delivery != nil {
		alarm("ForwarderFailureQueueDepth", "Events the forwarder gave up on are waiting in its on-failure queue",
			m.delivery.queue.MetricApproximateNumberOfMessagesVisible(maximum), 1)
		alarm("ForwarderTriggerDeadLetters", "EventBridge could not deliver new-object events to the forwarder; they wait in the trigger's dead-letter queue",
			m.delivery.triggerQueue.MetricApproximateNumberOfMessagesVisible(maximum), 1)
	}
	for _, f := range []struct {
		id string
		fn awslambda.Function
	}{{"ExportPlanner", m.backfill.planner}, {"ExportConverter", m.backfill.converter}} {
		alarm(f.id+"Errors", f.id+" invocations failed (Lambda retries them, then keeps them in the on-failure queue)", f.fn.MetricErrors(sum), 1)
	}
	alarm("ExportFailureQueueDepth", "Export files or manifests the backfill gave up on are waiting in an on-failure queue",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("p + c + t"), Period: five,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"p": m.backfill.plannerQueue.MetricApproximateNumberOfMessagesVisible(maximum),
				"c": m.backfill.converterQueue.MetricApproximateNumberOfMessagesVisible(maximum),
				"t": m.backfill.triggerQueue.MetricApproximateNumberOfMessagesVisible(maximum),
			},
		}), 1)
	alarm("ConversionErrors", "Stream records could not be converted; they are kept under _errors/", emf(m.streamer, "ConversionErrors"), 1)

	graph := func(title string, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &metrics, Width: jsii.Number(8)})
	}
	rows := [][]awscloudwatch.IWidget{{
		graph("Stream records and objects", emf(m.streamer, "Records"), emf(m.streamer, "Objects"), emf(m.streamer, "FailedRecords")),
		graph("Stream lag (ms)", iteratorAge, emfStat(m.streamer, "RecordAge", "Maximum")), // an age adds up to nothing
		graph("Streamer bytes", emf(m.streamer, "BytesIn"), emf(m.streamer, "BytesOut")),
	}}
	bfQueues := []awscloudwatch.IMetric{
		m.backfill.plannerQueue.MetricApproximateNumberOfMessagesVisible(maximum),
		m.backfill.converterQueue.MetricApproximateNumberOfMessagesVisible(maximum),
		m.backfill.triggerQueue.MetricApproximateNumberOfMessagesVisible(maximum),
	}
	queues := []awscloudwatch.IMetric{m.streamerQueue.MetricApproximateNumberOfMessagesVisible(maximum)}
	if d := m.delivery; d != nil {
		f := d.fn
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Errors", m.streamer.MetricErrors(sum), f.MetricErrors(sum), emf(m.streamer, "ConversionErrors"), emf(f, "Failures")),
			graph("Throttles", m.streamer.MetricThrottles(sum), f.MetricThrottles(sum)),
			graph("Duration (max ms)", m.streamer.MetricDuration(maximum), f.MetricDuration(maximum)),
		}, []awscloudwatch.IWidget{
			graph("Delivered to Databricks", emf(f, "Objects"), emf(f, "Skipped"), emf(f, "Retries")),
			graph("Delivered bytes", emf(f, "Bytes")),
			graph("On-failure queues", append(queues, d.queue.MetricApproximateNumberOfMessagesVisible(maximum),
				d.triggerQueue.MetricApproximateNumberOfMessagesVisible(maximum))...),
		})
	} else {
		rows = append(rows, []awscloudwatch.IWidget{
			graph("Errors", m.streamer.MetricErrors(sum), emf(m.streamer, "ConversionErrors")),
			graph("Throttles", m.streamer.MetricThrottles(sum)),
			graph("On-failure queues", queues...),
		})
	}
	rows = append(rows, []awscloudwatch.IWidget{
		graph("Backfill errors", m.backfill.planner.MetricErrors(sum), m.backfill.converter.MetricErrors(sum)),
		graph("Backfill queues", bfQueues...),
	})
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{Widgets: &widgets})
}

type outputValues struct {
	table, stream, bucket string
	streamer              awslambda.Function
	streamerLogs          awslogs.LogGroup
	streamerQueue         awssqs.Queue
	delivery              *delivery   // nil in delivery mode none
	ucRole                awsiam.Role // nil without Unity Catalog access
	backfill              backfill
	exportPrefix, keyARN  string
}

func outputs(scope constructs.Construct, p *Props, v outputValues) {
	out := func(id, description string, value *string) {
		o := awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
		o.OverrideLogicalId(jsii.String(id)) // outputs are read by name: keep them plain
	}
	out("TableName", "Source DynamoDB table", jsii.String(v.table))
	out("StreamArn", "Source DynamoDB stream", jsii.String(v.stream))
	out("BucketName", "Output bucket", jsii.String(v.bucket))
	out("Prefix", "Key prefix of the pipeline's objects", jsii.String(p.Prefix))
	out("StreamerFunctionName", "Streamer function", v.streamer.FunctionName())
	out("StreamerLogGroupName", "Streamer logs", v.streamerLogs.LogGroupName())
	out("StreamerFailureQueueUrl", "Batches the streamer gave up on", v.streamerQueue.QueueUrl())
	if d := v.delivery; d != nil {
		out("ForwarderFunctionName", "Forwarder function", d.fn.FunctionName())
		out("ForwarderLogGroupName", "Forwarder logs", d.logs.LogGroupName())
		out("ForwarderFailureQueueUrl", "Events the forwarder gave up on", d.queue.QueueUrl())
		out("ForwarderTriggerDeadLetterQueueUrl", "New-object events EventBridge could not deliver to the forwarder", d.triggerQueue.QueueUrl())
	}
	out("ExportPrefix", "Key prefix of table exports (ddbstream backfill)", jsii.String(v.exportPrefix))
	out("ImageFormat", "Image format of the lines (ddbstream reconcile renders the table the same way)", jsii.String(p.ImageFormat))
	if v.keyARN != "" {
		out("BucketKeyArn", "KMS key of the output bucket (exports are written with it)", jsii.String(v.keyARN))
	}
	out("ExportPlannerFunctionName", "Export planner function", v.backfill.planner.FunctionName())
	out("ExportConverterFunctionName", "Export converter function", v.backfill.converter.FunctionName())
	out("ExportConverterFailureQueueUrl", "Export data files the converter gave up on", v.backfill.converterQueue.QueueUrl())
	out("ExportPlannerFailureQueueUrl", "Export manifests the planner gave up on", v.backfill.plannerQueue.QueueUrl())
	out("ExportTriggerDeadLetterQueueUrl", "Export summary events EventBridge could not deliver to the planner", v.backfill.triggerQueue.QueueUrl())
	out("DashboardName", "CloudWatch dashboard of the pipeline",
		scope.Node().FindChild(jsii.String("Monitoring")).Node().FindChild(jsii.String("Dashboard")).(awscloudwatch.Dashboard).DashboardName())
	deploy := bundleDeploy(p, v.table, v.bucket)
	out("DatabricksBundleDeploy", "Deploy the Databricks side (bronze change log and current state per table) from the repository root", jsii.String(deploy))
	if v.ucRole != nil {
		out("DatabricksRoleArn", "IAM role for the Unity Catalog storage credential", v.ucRole.RoleArn())
		cli, sql := ucStatements(p, v.bucket, v.ucRole)
		out("DatabricksStep1CreateStorageCredential", "Run with the Databricks CLI; its answer holds aws_iam_role.external_id", jsii.String(cli))
		out("DatabricksStep2ExternalId", "The role trusts this external ID",
			jsii.String("databricksExternalId is "+p.DatabricksExternalID+"; if step 1 answered another aws_iam_role.external_id, deploy again with -c databricksExternalId=<that ID> (it equals the Databricks account ID only for account admins)"))
		out("DatabricksStep3CreateExternalLocation", "Run in Databricks SQL: the external location, read access, and the bundle's schema", jsii.String(sql))
		out("DatabricksStep4DeployBundle", "Then deploy the bundle", jsii.String(deploy))
	}
}

// bundleDeploy is the databricks bundle deploy command with the values
// the bundle needs from this stack (databricks/README.md lists them).
// Imported tables' key names come from the partitionKey and sortKey
// context keys.
func bundleDeploy(p *Props, table, bucket string) string {
	keys := p.PartitionKey
	if p.SortKey != "" {
		keys += ":" + p.SortKey
	}
	return fmt.Sprintf(`cd databricks && databricks bundle deploy -t prod --var="source=s3://%s/%s" --var="tables=%s:%s" --var="image_format=%s" && databricks bundle run -t prod ddbstream`,
		bucket, p.Prefix, table, keys, p.ImageFormat)
}
