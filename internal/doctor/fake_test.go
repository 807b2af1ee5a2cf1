package doctor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/eventrule"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const (
	account   = "123456789012"
	region    = "eu-west-1"
	stackName = "DdbStreamPipeline"
	bucket    = "ddbstream-123456789012-eu-west-1-a1b2c3d4"
	table     = "Orders"
	streamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"
	keyARN    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	ruleARN   = "arn:aws:events:eu-west-1:123456789012:rule/DdbStreamPipeline-PipelineForwarderTrigger-1A2B3C"
	// plannerRuleARN is the export planner's trigger.
	plannerRuleARN = "arn:aws:events:eu-west-1:123456789012:rule/DdbStreamPipeline-PipelineBackfillPlannerTrigger-4D5E6F"
	token          = "dapi-doctor-test"
	sqsBase        = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
)

func fnARN(name string) string { return "arn:aws:lambda:eu-west-1:123456789012:function:" + name }

// world is a healthy deployed pipeline; tests break one part of it.
type world struct {
	stackStatus cftypes.StackStatus
	outputs     map[string]string // nil: no stack
	tableErr    error
	streamSpec  *ddbtypes.StreamSpecification
	latest      string
	mappings    []lambdatypes.EventSourceMappingConfiguration
	// policies are the functions' resource policies, by function ARN.
	policies map[string]string
	ageMs    float64
	queues   opsfake.Queues
	// rules are the EventBridge rules, by name.
	rules       map[string]*rule
	eventBridge bool
	functions   opsfake.Functions
	// inline policies by role name and policy name; attached by role.
	inline   map[string]map[string]string
	attached map[string][]string
	secret   *opsfake.Secret
	// secretJSON is the secret's value for a workspace at host.
	secretJSON func(host string) string
	logLines   map[string][]string

	ws *workspace
}

func newWorld() *world {
	w := &world{
		stackStatus: cftypes.StackStatusUpdateComplete,
		outputs: map[string]string{
			"TableName": table, "StreamArn": streamARN, "BucketName": bucket, "Prefix": "cdc", "BucketKeyArn": keyARN,
			"StreamerFunctionName": "DdbStreamPipeline-Streamer", "StreamerLogGroupName": "DdbStreamPipeline-StreamerLogs",
			"StreamerFailureQueueUrl":            sqsBase + "streamer-failures",
			"ForwarderFunctionName":              "DdbStreamPipeline-Forwarder",
			"ForwarderLogGroupName":              "DdbStreamPipeline-ForwarderLogs",
			"ForwarderFailureQueueUrl":           sqsBase + "forwarder-failures",
			"ForwarderTriggerDeadLetterQueueUrl": sqsBase + "forwarder-trigger-dlq",
			"ExportPrefix":                       "cdc-exports", "ImageFormat": "plain",
			"ExportPlannerFunctionName": "DdbStreamPipeline-Planner", "ExportConverterFunctionName": "DdbStreamPipeline-Converter",
			"ExportPlannerFailureQueueUrl": sqsBase + "planner-failures", "ExportConverterFailureQueueUrl": sqsBase + "converter-failures",
			"ExportTriggerDeadLetterQueueUrl": sqsBase + "export-trigger-dlq",
		},
		streamSpec:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
		latest:      streamARN,
		ageMs:       1200,
		eventBridge: true,
		secret:      opsfake.NewSecret(""),
		secretJSON:  func(host string) string { return `{"host":"` + host + `","token":"` + token + `"}` },
		logLines:    map[string][]string{},
		queues:      opsfake.Queues{},
		inline:      map[string]map[string]string{},
		attached:    map[string][]string{},
	}
	for _, q := range []string{"streamer-failures", "forwarder-failures", "forwarder-trigger-dlq", "planner-failures", "converter-failures", "export-trigger-dlq"} {
		w.queues[sqsBase+q] = opsfake.NewQueue(sqsBase + q)
	}
	pattern, _ := json.Marshal(eventrule.Forwarder(bucket, "cdc").Document())
	plannerPattern, _ := json.Marshal(eventrule.ExportManifest(bucket, "cdc-exports").Document())
	w.rules = map[string]*rule{
		nameOf(ruleARN): {state: ebtypes.RuleStateEnabled, pattern: string(pattern), targets: []ebtypes.Target{{Id: aws.String("Forwarder"),
			Arn: aws.String(fnARN("DdbStreamPipeline-Forwarder")), DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String(sqsARN("forwarder-trigger-dlq"))}}}},
		nameOf(plannerRuleARN): {state: ebtypes.RuleStateEnabled, pattern: string(plannerPattern), targets: []ebtypes.Target{{Id: aws.String("Planner"),
			Arn: aws.String(fnARN("DdbStreamPipeline-Planner")), DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String(sqsARN("export-trigger-dlq"))}}}},
	}
	w.mappings = []lambdatypes.EventSourceMappingConfiguration{{UUID: aws.String("a1b2c3d4-5678-90ab-cdef-11111EXAMPLE"), State: aws.String("Enabled"),
		LastProcessingResult: aws.String("OK"), StateTransitionReason: aws.String("USER_INITIATED"),
		DestinationConfig: &lambdatypes.DestinationConfig{OnFailure: &lambdatypes.OnFailure{Destination: aws.String("arn:aws:sqs:eu-west-1:123456789012:streamer-failures")}}}}
	invokeBy := func(fn, rule string) string {
		return `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"DdbStreamPipeline-AllowTriggerToInvoke","Effect":"Allow",` +
			`"Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN(fn) + `",` +
			`"Condition":{"ArnLike":{"AWS:SourceArn":"` + rule + `"}}}]}`
	}
	w.policies = map[string]string{
		fnARN("DdbStreamPipeline-Forwarder"): invokeBy("DdbStreamPipeline-Forwarder", ruleARN),
		fnARN("DdbStreamPipeline-Planner"):   invokeBy("DdbStreamPipeline-Planner", plannerRuleARN),
	}
	w.functions = opsfake.Functions{}
	for _, f := range []struct{ name, role, group string }{
		{"DdbStreamPipeline-Streamer", "DdbStreamPipeline-StreamerRole-AAA", "DdbStreamPipeline-StreamerLogs"},
		{"DdbStreamPipeline-Forwarder", "DdbStreamPipeline-ForwarderRole-BBB", "DdbStreamPipeline-ForwarderLogs"},
		{"DdbStreamPipeline-Planner", "DdbStreamPipeline-PlannerRole-CCC", "DdbStreamPipeline-PlannerLogs"},
		{"DdbStreamPipeline-Converter", "DdbStreamPipeline-ConverterRole-DDD", "DdbStreamPipeline-ConverterLogs"},
	} {
		w.functions[f.name] = opsfake.Function{ARN: fnARN(f.name), Role: "arn:aws:iam::123456789012:role/" + f.role, LogGroup: f.group, Env: map[string]string{}}
	}
	w.functions["DdbStreamPipeline-Forwarder"].Env["DATABRICKS_SECRET_ID"] = "databricks/pipeline"
	w.functions["DdbStreamPipeline-Forwarder"].Env["DATABRICKS_VOLUME_PATH"] = "/Volumes/main/cdc/landing/{table}/{name}"
	// The roles hold exactly what infra puts on them.
	res := w.resources()
	for role, p := range map[string]struct {
		name       string
		statements []iam.Statement
	}{
		"DdbStreamPipeline-StreamerRole-AAA":  {"streamer", iam.Streamer(res)},
		"DdbStreamPipeline-ForwarderRole-BBB": {"forwarder", iam.Forwarder(res)},
		"DdbStreamPipeline-PlannerRole-CCC":   {"exportplanner", iam.ExportPlanner(res)},
		"DdbStreamPipeline-ConverterRole-DDD": {"exportconverter", iam.ExportConverter(res)},
	} {
		w.setPolicy(role, p.name, iam.Policy(p.statements))
	}
	w.ws = &workspace{token: token, dirs: map[string]bool{"/Volumes/main/cdc/landing": true}, jobs: map[string]string{"42": "ingest"},
		warehouses: map[string]string{"abc123": "STOPPED"}}
	return w
}

// resources is what infra gave package iam for this stack.
func (w *world) resources() iam.Resources {
	return iam.Resources{
		Partition: "aws", Region: region, Account: account, BucketName: bucket, Prefix: "cdc", KeyARN: keyARN,
		TableName: table, StreamARN: streamARN,
		StreamerQueueARN: "arn:aws:sqs:eu-west-1:123456789012:streamer-failures", ForwarderQueueARN: "arn:aws:sqs:eu-west-1:123456789012:forwarder-failures",
		SecretARN:        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:databricks/pipeline-??????",
		StreamerLogGroup: "DdbStreamPipeline-StreamerLogs", ForwarderLogGroup: "DdbStreamPipeline-ForwarderLogs",
		ExportPrefix: "cdc-exports", ConverterFunctionARN: fnARN("DdbStreamPipeline-Converter"),
		PlannerQueueARN: "arn:aws:sqs:eu-west-1:123456789012:planner-failures", ConverterQueueARN: "arn:aws:sqs:eu-west-1:123456789012:converter-failures",
		PlannerLogGroup: "DdbStreamPipeline-PlannerLogs", ConverterLogGroup: "DdbStreamPipeline-ConverterLogs",
	}
}

// setPolicy stores an inline policy as IAM returns it: URL-encoded.
func (w *world) setPolicy(role, name string, doc any) {
	b, _ := json.Marshal(doc)
	if w.inline[role] == nil {
		w.inline[role] = map[string]string{}
	}
	w.inline[role][name] = strings.ReplaceAll(url.QueryEscape(string(b)), "+", "%20")
}

func (w *world) clients() Clients {
	return Clients{Stacks: w, Tables: w, Functions: w.functions, Mappings: w, Policies: w, Metrics: w, Queues: w.queues,
		Rules: w, Buckets: w, Roles: w, Secrets: w.secret, Logs: w}
}

func (w *world) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if w.outputs == nil {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + aws.ToString(in.StackName) + " does not exist"}
	}
	var outs []cftypes.Output
	for k, v := range w.outputs {
		outs = append(outs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackName: in.StackName, StackStatus: w.stackStatus,
		StackStatusReason: aws.String("Resource update cancelled"), Outputs: outs}}}, nil
}

func (w *world) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if w.tableErr != nil {
		return nil, w.tableErr
	}
	return &dynamodb.DescribeTableOutput{Table: &ddbtypes.TableDescription{TableName: in.TableName, StreamSpecification: w.streamSpec,
		LatestStreamArn: aws.String(w.latest)}}, nil
}

func (w *world) ListEventSourceMappings(_ context.Context, in *lambda.ListEventSourceMappingsInput, _ ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	if aws.ToString(in.EventSourceArn) != streamARN {
		return &lambda.ListEventSourceMappingsOutput{}, nil
	}
	return &lambda.ListEventSourceMappingsOutput{EventSourceMappings: w.mappings}, nil
}

func (w *world) GetPolicy(_ context.Context, in *lambda.GetPolicyInput, _ ...func(*lambda.Options)) (*lambda.GetPolicyOutput, error) {
	p, ok := w.policies[aws.ToString(in.FunctionName)]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("The resource you requested does not exist.")}
	}
	return &lambda.GetPolicyOutput{Policy: aws.String(p)}, nil
}

func (w *world) GetMetricStatistics(_ context.Context, in *cloudwatch.GetMetricStatisticsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error) {
	if aws.ToString(in.MetricName) != "IteratorAge" || aws.ToString(in.Dimensions[0].Value) != w.outputs["StreamerFunctionName"] {
		return &cloudwatch.GetMetricStatisticsOutput{}, nil
	}
	end := aws.ToTime(in.EndTime)
	return &cloudwatch.GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []cwtypes.Datapoint{
		{Timestamp: aws.Time(end.Add(-time.Minute)), Maximum: aws.Float64(w.ageMs), Unit: cwtypes.StandardUnitMilliseconds},
		{Timestamp: aws.Time(end.Add(-5 * time.Minute)), Maximum: aws.Float64(900), Unit: cwtypes.StandardUnitMilliseconds},
	}}, nil
}

// rule is an EventBridge rule on the default bus.
type rule struct {
	state   ebtypes.RuleState
	pattern string
	targets []ebtypes.Target
}

// nameOf is the name in a rule's ARN on the default bus.
func nameOf(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func sqsARN(queue string) string { return "arn:aws:sqs:eu-west-1:123456789012:" + queue }

func (w *world) DescribeRule(_ context.Context, in *eventbridge.DescribeRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error) {
	r, ok := w.rules[aws.ToString(in.Name)]
	if !ok || in.EventBusName != nil {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("Rule does not exist.")}
	}
	return &eventbridge.DescribeRuleOutput{Name: in.Name, Arn: aws.String("arn:aws:events:eu-west-1:123456789012:rule/" + aws.ToString(in.Name)),
		State: r.state, EventPattern: aws.String(r.pattern)}, nil
}

func (w *world) ListTargetsByRule(_ context.Context, in *eventbridge.ListTargetsByRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error) {
	r, ok := w.rules[aws.ToString(in.Rule)]
	if !ok {
		return nil, &ebtypes.ResourceNotFoundException{Message: aws.String("Rule does not exist.")}
	}
	return &eventbridge.ListTargetsByRuleOutput{Targets: r.targets}, nil
}

func (w *world) GetBucketNotificationConfiguration(_ context.Context, _ *s3.GetBucketNotificationConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	out := &s3.GetBucketNotificationConfigurationOutput{}
	if w.eventBridge {
		out.EventBridgeConfiguration = &s3types.EventBridgeConfiguration{}
	}
	return out, nil
}

func (w *world) ListRolePolicies(_ context.Context, in *awsiam.ListRolePoliciesInput, _ ...func(*awsiam.Options)) (*awsiam.ListRolePoliciesOutput, error) {
	out := &awsiam.ListRolePoliciesOutput{}
	for name := range w.inline[aws.ToString(in.RoleName)] {
		out.PolicyNames = append(out.PolicyNames, name)
	}
	return out, nil
}

func (w *world) GetRolePolicy(_ context.Context, in *awsiam.GetRolePolicyInput, _ ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error) {
	doc, ok := w.inline[aws.ToString(in.RoleName)][aws.ToString(in.PolicyName)]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("The role policy cannot be found.")}
	}
	return &awsiam.GetRolePolicyOutput{RoleName: in.RoleName, PolicyName: in.PolicyName, PolicyDocument: aws.String(doc)}, nil
}

func (w *world) ListAttachedRolePolicies(_ context.Context, in *awsiam.ListAttachedRolePoliciesInput, _ ...func(*awsiam.Options)) (*awsiam.ListAttachedRolePoliciesOutput, error) {
	out := &awsiam.ListAttachedRolePoliciesOutput{}
	for _, arn := range w.attached[aws.ToString(in.RoleName)] {
		out.AttachedPolicies = append(out.AttachedPolicies, iamtypes.AttachedPolicy{PolicyArn: aws.String(arn), PolicyName: aws.String(arn[strings.LastIndexByte(arn, '/')+1:])})
	}
	return out, nil
}

func (w *world) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for _, l := range w.logLines[aws.ToString(in.LogGroupName)] {
		out.Events = append(out.Events, cwltypes.FilteredLogEvent{Message: aws.String(l), Timestamp: aws.Int64(aws.ToInt64(in.StartTime) + 1000)})
	}
	return out, nil
}

// workspace answers the Databricks reads the doctor makes, as the
// reference documents them, for one bearer token.
type workspace struct {
	mu         sync.Mutex
	token      string
	down       bool
	dirs       map[string]bool
	jobs       map[string]string
	warehouses map[string]string
	requests   []string
}

func apiError(rw http.ResponseWriter, status int, code, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(map[string]string{"error_code": code, "message": msg})
}

func (ws *workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.requests = append(ws.requests, r.Method+" "+r.URL.Path)
	if ws.down {
		apiError(rw, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable.")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+ws.token {
		apiError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == mePath:
		json.NewEncoder(rw).Encode(map[string]any{"userName": "svc-pipeline@example.com", "active": true})
	case r.Method == http.MethodHead && strings.HasPrefix(p, directoriesAPI+"/"):
		if !ws.dirs[strings.TrimPrefix(p, directoriesAPI)] {
			rw.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodGet && p == jobsGetPath:
		id := r.URL.Query().Get("job_id")
		name, ok := ws.jobs[id]
		if !ok {
			apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Job "+id+" does not exist.")
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"job_id": 42, "settings": map[string]any{"name": name}})
	case r.Method == http.MethodGet && strings.HasPrefix(p, warehousesAPI):
		id := strings.TrimPrefix(p, warehousesAPI)
		state, ok := ws.warehouses[id]
		if !ok {
			apiError(rw, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Unable to find warehouse "+id)
			return
		}
		json.NewEncoder(rw).Encode(map[string]any{"id": id, "name": "pipeline", "state": state})
	default:
		apiError(rw, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+p+"'")
	}
}

func startWorkspace(ws *workspace) *httptest.Server { return httptest.NewTLSServer(ws) }
