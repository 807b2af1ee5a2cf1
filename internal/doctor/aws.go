package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/eventrule"
)

// requiredOutputs are the outputs every pipeline stack has
// (infra/pipeline/monitoring.go); the forwarder's exist unless the
// delivery mode is none.
var requiredOutputs = []string{"TableName", "StreamArn", "BucketName", "Prefix", "StreamerFunctionName",
	"StreamerLogGroupName", "StreamerFailureQueueUrl"}

var forwarderOutputs = []string{"ForwarderFunctionName", "ForwarderLogGroupName", "ForwarderFailureQueueUrl", "ForwarderTriggerDeadLetterQueueUrl"}

// stack checks the stack's state and outputs; the other checks need them.
func (d *doctor) stack(ctx context.Context) bool {
	const id, title = "stack", "stack"
	out, err := d.c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(d.cfg.Stack)})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist"):
		d.fail(id, title, fmt.Sprintf("stack %s not found", d.cfg.Stack),
			"check --stack and the region (--region or AWS_REGION); deploy the pipeline with make deploy")
		return false
	case err != nil:
		d.fail(id, title, short(fmt.Sprintf("describe stack %s: %v", d.cfg.Stack, err)), remedyFor(err, "cloudformation:DescribeStacks"))
		return false
	case len(out.Stacks) != 1:
		d.fail(id, title, fmt.Sprintf("stack %s not found", d.cfg.Stack), "check --stack and the region")
		return false
	}
	s := out.Stacks[0]
	d.outputs = map[string]string{}
	for _, o := range s.Outputs {
		d.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	var missing []string
	need := requiredOutputs
	if d.outputs["ForwarderFunctionName"] != "" {
		need = append(append([]string{}, need...), forwarderOutputs...)
	}
	for _, k := range need {
		if d.outputs[k] == "" {
			missing = append(missing, k)
		}
	}
	status := string(s.StackStatus)
	switch {
	case len(missing) > 0:
		d.fail(id, title, fmt.Sprintf("stack %s (%s) lacks the outputs %s", d.cfg.Stack, status, strings.Join(missing, ", ")),
			"name the pipeline's stack with --stack, or deploy this version of the pipeline (make deploy), which adds them")
		return false
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		d.fail(id, title, fmt.Sprintf("stack %s is %s", d.cfg.Stack, status), "wait for the deployment to end, then run ddbstream doctor again")
	case status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" || status == "IMPORT_COMPLETE":
		d.pass(id, title, fmt.Sprintf("%s: %s, %d outputs", d.cfg.Stack, status, len(d.outputs)))
	default:
		d.fail(id, title, fmt.Sprintf("stack %s is %s: %s", d.cfg.Stack, status, short(aws.ToString(s.StackStatusReason))),
			"the last deployment did not complete: read the stack's events (aws cloudformation describe-stack-events --stack-name "+d.cfg.Stack+"), fix the cause and run make deploy again")
	}
	return true
}

// stream checks the table's stream: enabled, the expected view type, and
// the stream the mapping reads.
func (d *doctor) stream(ctx context.Context) {
	const id, title = "stream", "table stream"
	table, want := d.outputs["TableName"], d.outputs["StreamArn"]
	out, err := d.c.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		d.fail(id, title, short(fmt.Sprintf("describe table %s: %v", table, err)), remedyFor(err, "dynamodb:DescribeTable"))
		return
	}
	t := out.Table
	spec := t.StreamSpecification
	latest := aws.ToString(t.LatestStreamArn)
	enable := fmt.Sprintf("aws dynamodb update-table --table-name %s --stream-specification StreamEnabled=true,StreamViewType=%s", table, d.cfg.ViewType)
	switch {
	case spec == nil || !aws.ToBool(spec.StreamEnabled):
		d.fail(id, title, fmt.Sprintf("table %s has no stream enabled: no change reaches the pipeline", table),
			"enable it ("+enable+"), deploy with existingStreamArn set to the new stream's ARN (make deploy), then run ddbstream backfill for the changes made meanwhile")
	case string(spec.StreamViewType) != d.cfg.ViewType:
		d.fail(id, title, fmt.Sprintf("table %s's stream has view type %s, expected %s", table, spec.StreamViewType, d.cfg.ViewType),
			"a view type cannot be changed in place: disable the stream, enable it again ("+enable+"), deploy with the new existingStreamArn, then run ddbstream backfill")
	case latest != want:
		d.fail(id, title, fmt.Sprintf("the pipeline reads %s but table %s's current stream is %s", want, table, latest),
			"deploy with existingStreamArn="+latest+" (make deploy), then run ddbstream backfill for the changes the old stream did not carry")
	default:
		d.pass(id, title, fmt.Sprintf("%s: enabled, %s, the stream the pipeline reads", table, spec.StreamViewType))
	}
}

// mapping checks the streamer's event source mapping.
func (d *doctor) mapping(ctx context.Context) {
	const id, title = "mapping", "event source mapping"
	out, err := d.c.Mappings.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{
		FunctionName: aws.String(d.outputs["StreamerFunctionName"]), EventSourceArn: aws.String(d.outputs["StreamArn"]),
	})
	if err != nil {
		d.fail(id, title, short(fmt.Sprintf("list event source mappings: %v", err)), remedyFor(err, "lambda:ListEventSourceMappings"))
		return
	}
	if len(out.EventSourceMappings) == 0 {
		d.fail(id, title, "no event source mapping from "+d.outputs["StreamArn"]+" to the streamer: nothing reads the stream",
			"deploy the stack again (make deploy), which creates it")
		return
	}
	m := out.EventSourceMappings[0]
	uuid, state, result := aws.ToString(m.UUID), aws.ToString(m.State), aws.ToString(m.LastProcessingResult)
	detail := fmt.Sprintf("%s %s, last processing result %q", uuid, state, result)
	switch {
	case state != "Enabled":
		reason := aws.ToString(m.StateTransitionReason)
		d.fail(id, title, detail+", "+reason,
			"enable it: aws lambda update-event-source-mapping --uuid "+uuid+" --enabled (records not yet read stay in the stream for 24 hours; what it gave up on meanwhile is in the on-failure queue: ddbstream redrive)")
	case strings.HasPrefix(result, "PROBLEM"):
		d.fail(id, title, detail,
			"the mapping cannot read the stream or invoke the streamer: fix what the result names (often the streamer role's permissions: see the role check), then watch it return to OK")
	case m.DestinationConfig == nil || m.DestinationConfig.OnFailure == nil || aws.ToString(m.DestinationConfig.OnFailure.Destination) == "":
		d.fail(id, title, detail+", but no on-failure destination: batches it gives up on would leave no record",
			"deploy the stack again (make deploy), which sets the streamer's on-failure queue")
	default:
		d.pass(id, title, detail)
	}
}

// iteratorAge checks how far behind the stream the streamer is.
func (d *doctor) iteratorAge(ctx context.Context) {
	const id, title = "iterator-age", "stream lag"
	now := d.cfg.Now()
	out, err := d.c.Metrics.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("IteratorAge"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(d.outputs["StreamerFunctionName"])}},
		StartTime:  aws.Time(now.Add(-15 * time.Minute)), EndTime: aws.Time(now), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil {
		d.fail(id, title, short(fmt.Sprintf("read IteratorAge: %v", err)), remedyFor(err, "cloudwatch:GetMetricStatistics"))
		return
	}
	if len(out.Datapoints) == 0 {
		d.pass(id, title, "no IteratorAge in the last 15 minutes (no stream records to read)")
		return
	}
	sort.Slice(out.Datapoints, func(i, j int) bool {
		return aws.ToTime(out.Datapoints[i].Timestamp).Before(aws.ToTime(out.Datapoints[j].Timestamp))
	})
	latest := time.Duration(aws.ToFloat64(out.Datapoints[len(out.Datapoints)-1].Maximum)) * time.Millisecond
	peak := time.Duration(0)
	for _, p := range out.Datapoints {
		peak = max(peak, time.Duration(aws.ToFloat64(p.Maximum))*time.Millisecond)
	}
	detail := fmt.Sprintf("latest %s, highest %s in the last 15 minutes (limit %s)", latest.Round(time.Second), peak.Round(time.Second), d.cfg.MaxIteratorAge)
	if latest > d.cfg.MaxIteratorAge {
		d.fail(id, title, detail,
			"the streamer is falling behind: look at its errors, throttles and duration (the log check below, the dashboard); raise parallelizationFactor or batchSize (make deploy). Records older than 24 hours leave the stream: what the mapping gives up on must be redriven within the day (ddbstream redrive)")
		return
	}
	d.pass(id, title, detail)
}

// queueDepth reads a queue's messages, visible and in flight, and keeps
// its ARN for the role checks.
func (d *doctor) queueDepth(ctx context.Context, url string) (visible, inFlight int, err error) {
	out, err := d.c.Queues.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return 0, 0, err
	}
	d.queueARNs[url] = out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// queues checks that no failure waits in the on-failure and dead-letter
// queues.
func (d *doctor) queues(ctx context.Context) {
	type queue struct{ id, title, output, what, remedy string }
	list := []queue{{"streamer-queue", "streamer on-failure queue", "StreamerFailureQueueUrl", "batches the event source mapping gave up on",
		"redrive them within 24 hours of the failure, while the stream still holds their records: ddbstream redrive --stack " + d.cfg.Stack + " --source streamer (--dry-run first to see them)"}}
	if d.hasForwarder() {
		list = append(list,
			queue{"forwarder-queue", "forwarder on-failure queue", "ForwarderFailureQueueUrl", "events the forwarder gave up on",
				"fix the destination (the Databricks checks below), then: ddbstream redrive --stack " + d.cfg.Stack + " --source forwarder"},
			queue{"forwarder-trigger-dlq", "forwarder trigger dead-letter queue", "ForwarderTriggerDeadLetterQueueUrl", "events EventBridge could not hand to the forwarder",
				"fix the trigger (the trigger check below), then: ddbstream redrive --stack " + d.cfg.Stack + " --source forwarder"})
	} else {
		d.skip("forwarder-queue", "forwarder on-failure queue", "no forwarder (delivery mode none)")
	}
	redriveExports := "fix the cause the function's error log lines give (often S3 or KMS permissions), then: ddbstream redrive --stack " + d.cfg.Stack +
		" --source export (--dry-run first); ddbstream backfill --stack " + d.cfg.Stack + " then finds the export converted"
	for _, q := range []queue{
		{"export-converter-queue", "export converter on-failure queue", "ExportConverterFailureQueueUrl", "export data files the converter gave up on: the backfill is incomplete", redriveExports},
		{"export-planner-queue", "export planner on-failure queue", "ExportPlannerFailureQueueUrl", "export summaries the planner gave up on: their exports are not converted", redriveExports},
		{"export-trigger-dlq", "export planner trigger dead-letter queue", "ExportTriggerDeadLetterQueueUrl", "export summary events EventBridge could not hand to the planner",
			"the planner never ran for these: each message's ERROR_CODE and ERROR_MESSAGE attributes say why (a missing permission or target: make deploy restores them), then: ddbstream redrive --stack " +
				d.cfg.Stack + " --source export"},
	} {
		if d.outputs[q.output] != "" { // a stack from before the backfill has none
			list = append(list, q)
		}
	}
	for _, q := range list {
		url := d.outputs[q.output]
		visible, inFlight, err := d.queueDepth(ctx, url)
		switch {
		case err != nil:
			d.fail(q.id, q.title, short(fmt.Sprintf("read %s: %v", url, err)), remedyFor(err, "sqs:GetQueueAttributes"))
		case visible+inFlight > 0:
			d.fail(q.id, q.title, fmt.Sprintf("%d messages (%d in flight): %s", visible+inFlight, inFlight, q.what), q.remedy)
		default:
			d.pass(q.id, q.title, "empty")
		}
	}
}

// triggerSpec is one of the stack's EventBridge triggers: a rule with
// eventrule's pattern for the bucket's "Object Created" events, targeting
// a function, with a dead-letter queue for the events EventBridge cannot
// deliver (infra/pipeline: invokeOnObjectCreated).
type triggerSpec struct {
	id, title string
	// fnOutput and dlqOutput name the stack outputs of the function and of
	// the dead-letter queue's URL.
	fnOutput, dlqOutput string
	pattern             eventrule.Pattern
	// patternName names the pattern for people.
	patternName string
	// meanwhile says what was lost while the trigger was broken and how
	// to recover it, after make deploy has restored the trigger.
	meanwhile string
}

// trigger checks the forwarder's trigger.
func (d *doctor) trigger(ctx context.Context) {
	if !d.hasForwarder() {
		d.skip("trigger", "forwarder trigger", "no forwarder (delivery mode none)")
		return
	}
	d.checkTrigger(ctx, triggerSpec{id: "trigger", title: "forwarder trigger", fnOutput: "ForwarderFunctionName",
		dlqOutput: "ForwarderTriggerDeadLetterQueueUrl", pattern: eventrule.Forwarder(d.outputs["BucketName"], d.outputs["Prefix"]),
		patternName: "eventrule.Forwarder",
		meanwhile:   "objects written meanwhile were not delivered: ddbstream replay --stack " + d.cfg.Stack + " --from <when it broke>"})
}

// exportTrigger checks the export planner's trigger: without it, an
// export completes and nothing converts it.
func (d *doctor) exportTrigger(ctx context.Context) {
	const id, title = "export-trigger", "export planner trigger"
	if d.outputs["ExportPlannerFunctionName"] == "" {
		d.skip(id, title, "no export planner (a stack deployed before the backfill)")
		return
	}
	if d.outputs["ExportPrefix"] == "" {
		d.fail(id, title, "the stack has no ExportPrefix output, so the planner's pattern cannot be checked",
			"deploy this version of the pipeline (make deploy), which adds it")
		return
	}
	d.checkTrigger(ctx, triggerSpec{id: id, title: title, fnOutput: "ExportPlannerFunctionName",
		dlqOutput: "ExportTriggerDeadLetterQueueUrl", pattern: eventrule.ExportManifest(d.outputs["BucketName"], d.outputs["ExportPrefix"]),
		patternName: "eventrule.ExportManifest",
		meanwhile:   "exports that completed meanwhile were not converted: run ddbstream backfill --stack " + d.cfg.Stack + " again, which follows this hour's export and has it converted"})
}

// checkTrigger checks a trigger: the bucket sends its events to
// EventBridge, and a rule, enabled with eventrule's pattern, targets the
// function with the stack's dead-letter queue, and the function allows
// the rule to invoke it.
func (d *doctor) checkTrigger(ctx context.Context, spec triggerSpec) {
	id, title := spec.id, spec.title
	redeploy := "deploy the stack again (make deploy), which restores the trigger; " + spec.meanwhile
	bucket := d.outputs["BucketName"]
	on, err := d.bucketEvents(ctx, bucket)
	if err != nil {
		d.fail(id, title, short(fmt.Sprintf("read the notification settings of %s: %v", bucket, err)), remedyFor(err, "s3:GetBucketNotification"))
		return
	}
	switch {
	case !on && d.bucketEventsOffReported:
		d.skip(id, title, "bucket "+bucket+" does not send its events to EventBridge (see the failed check above, whose remedy restores both triggers)")
		return
	case !on:
		detail := "bucket " + bucket + " does not send its events to EventBridge: no new object reaches the " + strings.TrimSuffix(title, " trigger")
		if spec.id == "trigger" && d.outputs["ExportPlannerFunctionName"] != "" {
			detail += ", and no export summary the export planner"
			redeploy += "; exports that completed meanwhile were not converted: run ddbstream backfill --stack " + d.cfg.Stack + " again"
		}
		d.bucketEventsOffReported = true
		d.fail(id, title, detail, redeploy)
		return
	}
	f, err := d.function(ctx, spec.fnOutput)
	if err != nil {
		d.fail(id, title, short(err.Error()), remedyFor(err, "lambda:GetFunctionConfiguration"))
		return
	}
	rules, err := d.invokingRules(ctx, f.ARN)
	if err != nil {
		d.fail(id, title, short(err.Error()), remedyFor(err, "lambda:GetPolicy"))
		return
	}
	if len(rules) == 0 {
		d.fail(id, title, "no EventBridge rule may invoke "+f.Name+" (its resource policy names none)", redeploy)
		return
	}
	want := spec.pattern.Document()
	wantDLQ := d.queueARNs[d.outputs[spec.dlqOutput]] // read by the queue checks; "" if they could not
	var problems []string
	for _, ruleARN := range rules {
		name, bus := ruleName(ruleARN)
		r, err := d.c.Rules.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: bus})
		if err != nil {
			problems = append(problems, fmt.Sprintf("rule %s: %v", name, err))
			continue
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &got); err != nil || !samePattern(got, want) {
			problems = append(problems, fmt.Sprintf("rule %s's pattern is not iam's %s pattern: %s", name, spec.patternName, short(aws.ToString(r.EventPattern))))
			continue
		}
		if string(r.State) != "ENABLED" {
			problems = append(problems, fmt.Sprintf("rule %s is %s: enable it with aws events enable-rule --name %s", name, r.State, name))
			continue
		}
		targets, err := d.c.Rules.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name), EventBusName: bus})
		if err != nil {
			problems = append(problems, fmt.Sprintf("rule %s: %v", name, err))
			continue
		}
		var target *ebtypes.Target
		for i, t := range targets.Targets {
			if strings.TrimSuffix(aws.ToString(t.Arn), ":$LATEST") == f.ARN {
				target = &targets.Targets[i]
			}
		}
		if target == nil {
			problems = append(problems, fmt.Sprintf("rule %s does not target %s", name, f.Name))
			continue
		}
		// Without a dead-letter queue, an event EventBridge could not
		// deliver (throttled, no permission) is dropped once its retries
		// are spent
		// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
		dlq := ""
		if target.DeadLetterConfig != nil {
			dlq = aws.ToString(target.DeadLetterConfig.Arn)
		}
		switch {
		case dlq == "":
			problems = append(problems, fmt.Sprintf("rule %s's target %s has no dead-letter queue: events EventBridge cannot deliver would be dropped", name, f.Name))
			continue
		case wantDLQ != "" && dlq != wantDLQ:
			problems = append(problems, fmt.Sprintf("rule %s's target %s sends undelivered events to %s, not to the stack's %s", name, f.Name, dlq, wantDLQ))
			continue
		}
		d.pass(id, title, fmt.Sprintf("bucket events on EventBridge; rule %s enabled, iam's pattern, targets %s with its dead-letter queue", name, f.Name))
		return
	}
	remedy := redeploy
	if len(problems) == 1 && strings.Contains(problems[0], "enable-rule") {
		remedy = problems[0][strings.Index(problems[0], "enable it"):] + "; " + strings.Replace(spec.meanwhile, "broke", "was disabled", 1)
	}
	d.fail(id, title, short(strings.Join(problems, "; ")), remedy, problems...)
}

// bucketEvents reports whether the bucket sends its events to
// EventBridge; it asks once per run.
func (d *doctor) bucketEvents(ctx context.Context, bucket string) (bool, error) {
	if d.eventBridge != nil {
		return *d.eventBridge, nil
	}
	n, err := d.c.Buckets.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return false, err
	}
	on := n.EventBridgeConfiguration != nil
	d.eventBridge = &on
	return on, nil
}

// invokingRules reads the function's resource policy for the EventBridge
// rules allowed to invoke it (Principal events.amazonaws.com, an
// AWS:SourceArn condition).
func (d *doctor) invokingRules(ctx context.Context, functionARN string) ([]string, error) {
	out, err := d.c.Policies.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(functionARN)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException" {
		return nil, nil // no resource policy at all
	}
	if err != nil {
		return nil, fmt.Errorf("read the resource policy of %s: %w", functionARN, err)
	}
	var doc struct {
		Statement []struct {
			Principal any                       `json:"Principal"`
			Condition map[string]map[string]any `json:"Condition"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		return nil, fmt.Errorf("the resource policy of %s is not JSON: %w", functionARN, err)
	}
	var rules []string
	for _, s := range doc.Statement {
		p, _ := json.Marshal(s.Principal)
		if !strings.Contains(string(p), "events.amazonaws.com") {
			continue
		}
		for _, cond := range s.Condition {
			for k, v := range cond {
				if strings.EqualFold(k, "AWS:SourceArn") {
					for _, arn := range strings.Fields(fmt.Sprint(v)) {
						arn = strings.Trim(arn, "[]")
						if strings.Contains(arn, ":rule/") {
							rules = append(rules, arn)
						}
					}
				}
			}
		}
	}
	return rules, nil
}

// ruleName splits a rule ARN (…:rule/<name> on the default bus,
// …:rule/<bus>/<name> on another) into its name and bus.
func ruleName(arn string) (string, *string) {
	_, rest, _ := strings.Cut(arn, ":rule/")
	if bus, name, ok := strings.Cut(rest, "/"); ok {
		return name, aws.String(bus)
	}
	return rest, nil
}

// samePattern compares event patterns as JSON values.
func samePattern(got, want map[string]any) bool {
	b, err := json.Marshal(want)
	if err != nil {
		return false
	}
	var w map[string]any
	if json.Unmarshal(b, &w) != nil {
		return false
	}
	return reflect.DeepEqual(got, w)
}

// logs shows the recent error lines of the four functions, each with
// what to do about them. The streamer's and the forwarder's log groups are
// stack outputs; the export functions' come from their logging
// configuration when the stack has no output for them.
func (d *doctor) logs(ctx context.Context) {
	type group struct{ id, title, output, fnOutput, remedy string }
	s := d.cfg.Stack
	list := []group{{"streamer-logs", "streamer error log lines", "StreamerLogGroupName", "StreamerFunctionName",
		"records set aside are listed by ddbstream errors --stack " + s + "; batches the mapping gave up on by ddbstream redrive --stack " + s +
			" --source streamer --dry-run (within 24 hours)"}}
	if d.hasForwarder() {
		list = append(list, group{"forwarder-logs", "forwarder error log lines", "ForwarderLogGroupName", "ForwarderFunctionName",
			"the Databricks checks above say whether the destination answers; events given up on are listed by ddbstream redrive --stack " + s +
				" --source forwarder --dry-run"})
	}
	if d.outputs["ExportPlannerFunctionName"] != "" {
		list = append(list,
			group{"export-planner-logs", "export planner error log lines", "ExportPlannerLogGroupName", "ExportPlannerFunctionName",
				"an export not planned is retried by Lambda (twice by default), then kept in the planner's on-failure queue: fix the cause the lines name (often S3, KMS or DescribeExport permissions), then ddbstream redrive --stack " +
					s + " --source export, and ddbstream backfill --stack " + s + " follows the conversion"},
			group{"export-converter-logs", "export converter error log lines", "ExportConverterLogGroupName", "ExportConverterFunctionName",
				"a data file not converted is retried by Lambda (twice by default), then kept in the converter's on-failure queue: fix the cause the lines name (often S3 or KMS permissions), then ddbstream redrive --stack " +
					s + " --source export; lines set aside are listed by ddbstream errors --stack " + s})
	}
	for _, g := range list {
		name := d.outputs[g.output]
		if name == "" {
			f, err := d.function(ctx, g.fnOutput)
			if err != nil {
				d.fail(g.id, g.title, short(err.Error()), remedyFor(err, "lambda:GetFunctionConfiguration"))
				continue
			}
			name = f.LogGroup
		}
		lines, more, err := d.errorLines(ctx, name)
		switch {
		case err != nil:
			d.fail(g.id, g.title, short(fmt.Sprintf("search %s: %v", name, err)), remedyFor(err, "logs:FilterLogEvents"))
		case len(lines) > 0:
			n := fmt.Sprint(len(lines))
			if more {
				n = "more than " + n
			}
			d.fail(g.id, g.title, fmt.Sprintf("%s ERROR lines in %s in the last %s", n, name, d.cfg.Since),
				"read them (aws logs filter-log-events --log-group-name "+name+" --filter-pattern '{ $.level = \"ERROR\" }'); "+g.remedy, lines...)
		default:
			d.pass(g.id, g.title, fmt.Sprintf("none in %s in the last %s", name, d.cfg.Since))
		}
	}
}

func (d *doctor) errorLines(ctx context.Context, group string) ([]string, bool, error) {
	out, err := d.c.Logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(group), FilterPattern: aws.String(`{ $.level = "ERROR" }`),
		StartTime: aws.Int64(d.cfg.Now().Add(-d.cfg.Since).UnixMilli()), Limit: aws.Int32(int32(d.cfg.MaxLogLines)),
	})
	if err != nil {
		return nil, false, err
	}
	var lines []string
	for _, e := range out.Events {
		at := time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC().Format(time.RFC3339)
		lines = append(lines, at+" "+short(aws.ToString(e.Message)))
	}
	return lines, out.NextToken != nil && len(lines) >= d.cfg.MaxLogLines, nil
}

// remedyFor says what to do about an AWS error.
func remedyFor(err error, action string) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch code := apiErr.ErrorCode(); {
		case strings.HasPrefix(code, "AccessDenied"), code == "UnauthorizedOperation", code == "Forbidden":
			return "the AWS identity lacks " + action + ": use a role with the ddbstream-doctor policy (iam/testdata/operator-policies.json)"
		case code == "ExpiredToken", code == "ExpiredTokenException", code == "InvalidClientTokenId", code == "UnrecognizedClientException":
			return "the AWS credentials are expired or invalid: sign in again (aws sso login) or refresh them"
		case strings.Contains(code, "Throttl"):
			return "AWS throttled the call: run ddbstream doctor again in a minute"
		case strings.Contains(code, "NotFound") || strings.Contains(code, "NoSuch") || code == "QueueDoesNotExist" || strings.Contains(code, "NonExistent"):
			return "a resource the stack created is gone: deploy the stack again (make deploy)"
		}
	}
	return "run ddbstream doctor again; if it persists, check the AWS service health and " + action
}
