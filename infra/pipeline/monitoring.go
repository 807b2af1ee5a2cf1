package pipeline

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

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

	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/objectkey"
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
	stackName := *awscdk.Stack_Of(scope).StackName()
	deploy := deployCommand(p, stackName, v.table, v.bucket)
	out("DatabricksBundleDeploy", "Deploy the Databricks side (change log, quarantine and current state per table) from the repository root, or what it still needs", jsii.String(deploy))
	out("DatabricksSchemaAndGrants", "Run in Databricks SQL before the bundle deploy: the bundle's schema and the reader's grant", jsii.String(schemaAndGrants(p)))
	if v.ucRole != nil {
		out("DatabricksRoleArn", "IAM role for the Unity Catalog storage credential", v.ucRole.RoleArn())
		credential, location := ucCommands(p, v.bucket, *v.ucRole.RoleArn())
		out("DatabricksStep1CreateStorageCredential", "Run with the Databricks CLI; its answer holds aws_iam_role.external_id", jsii.String(credential))
		out("DatabricksStep2ExternalId", "The role trusts this external ID",
			jsii.String("databricksExternalId is "+p.DatabricksExternalID+"; if step 1 answered another aws_iam_role.external_id, deploy again with -c databricksExternalId=<that ID> (it equals the Databricks account ID only for account admins)"))
		out("DatabricksStep3CreateExternalLocation", "Run with the Databricks CLI: the read-only external location on the prefix, file events off; then run DatabricksSchemaAndGrants", jsii.String(location))
		out("DatabricksStep4DeployBundle", "Then deploy the bundle", jsii.String(deploy))
	}
}

// The Databricks hand-over: what the stack prints so that the bundle in
// databricks/ deploys from an empty workspace (README.md, "Databricks").

// bundleTarget is the bundle target the printed commands deploy.
const bundleTarget = "prod"

// bundleCatalog and bundleSchema are the bundle's default catalog and
// schema (its catalog and schema variables), which the printed SQL creates.
const (
	bundleCatalog = "main"
	bundleSchema  = "ddbstream"
)

var (
	nonNameRE     = regexp.MustCompile(`[^a-z0-9_]`)
	compactSafeRE = regexp.MustCompile(`^[^\s:,"'{}\[\]]+$`)
)

// bundleDeployment is the bundle's deployment variable for a stack: its
// name in lower case, other characters than letters and digits made _, so
// that it can name the deployment's workspace folder and its Unity
// Catalog volume. Each stack is its own deployment: the bundle keeps its
// state per workspace root_path, which holds the deployment, so a second
// stack's deploy makes a second pipeline instead of updating the first's
// with other tables.
func bundleDeployment(stackName string) string {
	return nonNameRE.ReplaceAllString(strings.ToLower(stackName), "_")
}

// volumeSource splits the forwarder's DATABRICKS_VOLUME_PATH template
// into the bundle's source (the folders before the table's) and table_dir
// (the table's folder, such as {table} or table={table}): the bundle reads
// each table from one folder, recursively (Auto Loader lists the
// subfolders, https://docs.databricks.com/aws/en/ingestion/cloud-object-storage/auto-loader/directory-listing-mode).
//
// It expands the template as the forwarder would for objects of two
// tables, at two hours of two streams each, under the stack's prefix, and
// refuses a template that gives the tables no folder of their own, a
// table's objects more than one folder, a varying folder before the
// table's, or object names that do not end in .jsonl.gz.
func volumeSource(template, prefix string) (source, tableDir string, err error) {
	tpl, err := forwarder.ParseTemplate(template)
	if err != nil {
		return "", "", err
	}
	tables := []string{"Bundle_Check.A", "bundle-check-b"}
	var paths [][][]string // by table, by object: the path's folders
	for _, table := range tables {
		var objects [][]string
		for i, at := range []time.Time{time.Date(2001, 2, 3, 4, 0, 0, 0, time.UTC), time.Date(2002, 3, 4, 5, 0, 0, 0, time.UTC)} {
			key := objectkey.Data(objectkey.Batch{Prefix: prefix, Table: table, Stream: fmt.Sprintf("stream%d", i), FirstSequence: fmt.Sprint(100 + i), LastSequence: fmt.Sprint(200 + i), Created: at})
			path, err := tpl.Expand(forwarderVars("bundle-check-bucket", key), nil)
			if err != nil {
				return "", "", err
			}
			seg := strings.Split(path, "/")
			if len(seg) < 6 || seg[0] != "" || seg[1] != "Volumes" {
				return "", "", fmt.Errorf("%q is not a path under /Volumes/<catalog>/<schema>/<volume>/", template)
			}
			if !strings.HasSuffix(path, objectkey.Suffix) {
				return "", "", fmt.Errorf("%q names objects such as %q, not ending in %s, and the bundle reads only those", template, seg[len(seg)-1], objectkey.Suffix)
			}
			objects = append(objects, seg)
		}
		paths = append(paths, objects)
	}
	a, b := paths[0][0], paths[1][0]
	at := 0
	for at < len(a) && at < len(b) && a[at] == b[at] {
		at++
	}
	switch {
	case at == len(a) || at == len(b):
		return "", "", fmt.Errorf("%q gives the tables no folder of their own, and the bundle reads each table from its own", template)
	case at == len(a)-1:
		return "", "", fmt.Errorf("%q: the table is in the object's name, not in a folder of its own", template)
	}
	for t, objects := range paths {
		for _, seg := range objects {
			if len(seg) <= at+1 || strings.Join(seg[:at], "/") != strings.Join(a[:at], "/") || seg[at] != objects[0][at] {
				return "", "", fmt.Errorf("%q puts one table's objects in several folders (%s), or a folder that varies before the table's, so the bundle could not read a table from one folder", template, strings.Join(seg[:min(at+1, len(seg))], "/"))
			}
			if dir := strings.ReplaceAll(seg[at], tables[t], "{table}"); dir != strings.ReplaceAll(a[at], tables[0], "{table}") || !strings.Contains(dir, "{table}") {
				return "", "", fmt.Errorf("%q: the table's folder %q is not the table's name with fixed text around it", template, seg[at])
			}
		}
	}
	return strings.Join(a[:at], "/"), strings.ReplaceAll(a[at], tables[0], "{table}"), nil
}

// forwarderVars are a template's variables for an object, as the
// forwarder fills them (internal/forwarder, templateVars): the object's
// bucket, key, name and folder, and the parts of the pipeline's layout.
func forwarderVars(bucket, key string) map[string]string {
	vars := map[string]string{"bucket": bucket, "key": key, "name": path.Base(key), "dir": path.Dir(key)}
	if p, err := objectkey.Parse(key); err == nil {
		vars["prefix"], vars["table"], vars["date"], vars["hour"] = p.Prefix, p.Table, p.Date, p.Hour
		vars["stream"], vars["first"], vars["last"] = p.Stream, p.FirstSequence, p.LastSequence
	}
	return vars
}

// checkBundle checks, at synth, what the bundle needs of the stack's
// settings: a volume path it can read one folder per table from, key
// names that differ in more than case (Delta column names are
// case-insensitive, https://kb.databricks.com/sql/dupe-column-in-metadata),
// and a principal name the printed GRANT can quote.
func (p Props) checkBundle() []string {
	var errs []string
	if p.DeliveryMode == string(forwarder.Volume) && p.DatabricksVolumePath != "" {
		if _, _, err := volumeSource(p.DatabricksVolumePath, p.Prefix); err != nil {
			errs = append(errs, fmt.Sprintf("context databricksVolumePath: the Databricks bundle cannot read it: %v; want a path such as /Volumes/main/cdc/landing/{table}/{name}", err))
		}
	}
	if p.SortKey != "" && strings.EqualFold(p.PartitionKey, p.SortKey) {
		errs = append(errs, fmt.Sprintf("context sortKey=%q: want a name that differs from partitionKey %q in more than case (Delta column names are case-insensitive, so the Databricks bundle could not make both columns)", p.SortKey, p.PartitionKey))
	}
	if p.DatabricksReadPrincipal != "" && (strings.ContainsAny(p.DatabricksReadPrincipal, "`\n\r") || len(p.DatabricksReadPrincipal) > 255) {
		errs = append(errs, fmt.Sprintf("context databricksReadPrincipal=%q: want a Unity Catalog user, group or service principal name (no backquote, at most 255 characters)", p.DatabricksReadPrincipal))
	}
	return errs
}

// bundleSource is where the bundle reads the stack's objects: the volume
// the forwarder writes to in volume mode, else the prefix through the
// external location this stack's Unity Catalog role serves (it exists
// exactly when databricksExternalId is set). missing says what is
// missing when neither can be read.
func bundleSource(p *Props, bucket string) (source, tableDir, missing string) {
	if p.DeliveryMode == string(forwarder.Volume) {
		source, tableDir, err := volumeSource(p.DatabricksVolumePath, p.Prefix)
		if err != nil { // checkBundle refuses it at synth
			return "", "", err.Error()
		}
		return source, tableDir, ""
	}
	if p.DatabricksExternalID == "" {
		return "", "", fmt.Sprintf("not printed: with deliveryMode=%s the bundle reads s3://%s/%s, which Databricks can read only through a Unity Catalog external location. "+
			"Deploy again with -c databricksExternalId=pending to create the role for it, and follow the DatabricksStep outputs", p.DeliveryMode, bucket, p.Prefix)
	}
	return fmt.Sprintf("s3://%s/%s", bucket, p.Prefix), "table={table}", ""
}

// deployCommand is the command that deploys the bundle for this stack's
// table and runs it once, with every value the bundle needs from the
// stack (databricks/README.md), or what is missing for one that could
// work. The values are BUNDLE_VAR_ environment variables, which hold
// any value (--var splits at commas), set in a subshell with the
// deployment's own local state folder: the CLI takes the local state of
// the target when the workspace folder has none yet, which would carry
// another stack's deployment over (databricks/cli,
// bundle/statemgmt/state_pull.go; DATABRICKS_BUNDLE_TMP, bundle/env/temp_dir.go).
func deployCommand(p *Props, stackName, table, bucket string) string {
	source, tableDir, missing := bundleSource(p, bucket)
	if missing != "" {
		return missing
	}
	deployment := bundleDeployment(stackName)
	vars := []struct{ name, value string }{
		{"deployment", deployment}, {"source", source}, {"table_dir", tableDir},
		{"tables", bundleTables(table, p.PartitionKey, p.SortKey)}, {"image_format", p.ImageFormat},
	}
	env := []string{"DATABRICKS_BUNDLE_TMP=" + shellQuote(".databricks/deployments/"+deployment)}
	for _, v := range vars {
		env = append(env, "BUNDLE_VAR_"+v.name+"="+shellQuote(v.value))
	}
	return fmt.Sprintf("(cd databricks && export %s && databricks bundle deploy -t %s && databricks bundle run -t %s ddbstream)",
		strings.Join(env, " "), bundleTarget, bundleTarget)
}

// bundleTables is the bundle's tables variable for one table: the compact
// form <table>:<partition key>[:<sort key>], or JSON where a key name
// holds what the compact form cannot (spaces, colons, commas, quotes).
// Imported tables' key names come from the partitionKey and sortKey
// context keys.
func bundleTables(table, partitionKey, sortKey string) string {
	keys := []string{partitionKey}
	if sortKey != "" {
		keys = append(keys, sortKey)
	}
	compact := true
	for _, k := range keys {
		compact = compact && compactSafeRE.MatchString(k)
	}
	if compact {
		return table + ":" + strings.Join(keys, ":")
	}
	b, _ := json.Marshal(keys) // strings always marshal
	return `[{"name": "` + table + `", "keys": ` + string(b) + `}]`
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteName quotes a Unity Catalog name for SQL with backquotes.
func quoteName(s string) string {
	return "`" + s + "`"
}

// externalLocationName is the external location the printed steps create.
func externalLocationName(p *Props) string {
	return p.DatabricksStorageCredentialName + "_location"
}

// schemaAndGrants is the SQL to run before the bundle's first deploy: the
// schema of its tables (the bundle creates its own volume in it), and, if
// databricksReadPrincipal names one, READ VOLUME on the forwarder's volume
// or READ FILES on the external location for that principal: whoever
// deploys and runs the bundle, when not the owner (an owner has every
// privilege). Never to all account users.
// https://docs.databricks.com/aws/en/connect/unity-catalog/cloud-storage/manage-external-locations
func schemaAndGrants(p *Props) string {
	stmts := []string{fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s.%s", bundleCatalog, bundleSchema)}
	if p.DatabricksReadPrincipal != "" {
		switch {
		case p.DeliveryMode == string(forwarder.Volume):
			if source, _, err := volumeSource(p.DatabricksVolumePath, p.Prefix); err == nil {
				v := strings.Split(source, "/")[2:5]
				stmts = append(stmts, fmt.Sprintf("GRANT READ VOLUME ON VOLUME %s.%s.%s TO %s", quoteName(v[0]), quoteName(v[1]), quoteName(v[2]), quoteName(p.DatabricksReadPrincipal)))
			}
		case p.DatabricksExternalID != "":
			stmts = append(stmts, fmt.Sprintf("GRANT READ FILES ON EXTERNAL LOCATION %s TO %s", quoteName(externalLocationName(p)), quoteName(p.DatabricksReadPrincipal)))
		}
	}
	return strings.Join(stmts, "; ")
}

// ucCommands are the Databricks CLI commands that create the storage
// credential on the stack's Unity Catalog role and the external location
// on the prefix. Both read-only; the location has file events off: with
// them on, Databricks would write the bucket's notification configuration
// (and create SNS and SQS resources), which this stack's CloudFormation
// owns and which sends every event to EventBridge for the forwarder and
// the export planner, and the role may not change it
// (https://docs.databricks.com/api/workspace/externallocations/create,
// enable_file_events: "Default to true. Set to false to disable file
// events"; https://docs.databricks.com/aws/en/connect/unity-catalog/cloud-storage/file-events-faq).
func ucCommands(p *Props, bucket, roleARN string) (credential, location string) {
	credential = fmt.Sprintf(`databricks storage-credentials create --json '{"name": "%s", "aws_iam_role": {"role_arn": "%s"}, "read_only": true}'`,
		p.DatabricksStorageCredentialName, roleARN)
	location = fmt.Sprintf(`databricks external-locations create --json '{"name": "%s", "url": "s3://%s/%s", "credential_name": "%s", "read_only": true, "enable_file_events": false, "comment": "DynamoDB stream pipeline output"}'`,
		externalLocationName(p), bucket, strings.TrimSuffix(p.Prefix, "/"), p.DatabricksStorageCredentialName)
	return credential, location
}
