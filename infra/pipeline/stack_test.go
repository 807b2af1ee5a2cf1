package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ddbstream/pipeline/iam"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func testProps(t *testing.T) Props {
	p := DefaultProps()
	p.SourceDir = repoRoot(t)
	p.DatabricksSecretName = "databricks/pipeline"
	p.DatabricksVolumePath = "/Volumes/main/cdc/landing/{table}/{name}"
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

type synthesized struct {
	stack    awscdk.Stack
	template assertions.Template
	json     map[string]any
}

// synth builds the stack as main does, cdk-nag included. Bundling is
// skipped unless bundle is set: most tests look at the template only.
func synth(t *testing.T, p Props, bundle bool, outdir string) synthesized {
	t.Helper()
	return synthWith(t, p, bundle, outdir, true)
}

func synthWith(t *testing.T, p Props, bundle bool, outdir string, flags bool) synthesized {
	t.Helper()
	return synthStack(t, "TestPipeline", p, bundle, outdir, flags)
}

// synthStack is synthWith for a stack of the given ID: the names CDK
// generates (the bucket's, the Unity Catalog role's) hash it.
func synthStack(t *testing.T, id string, p Props, bundle bool, outdir string, flags bool) synthesized {
	t.Helper()
	// The feature flags of cdk.json, as `cdk synth` applies them.
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "cdk.json"))
	if err == nil {
		err = json.Unmarshal(raw, &cdkJSON)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx := cdkJSON.Context
	if !flags {
		ctx = map[string]any{}
	}
	if !bundle {
		ctx["aws:cdk:bundling-stacks"] = []string{}
	}
	props := &awscdk.AppProps{Context: &ctx}
	if outdir != "" {
		props.Outdir = jsii.String(outdir)
	}
	app := awscdk.NewApp(props)
	stack := NewPipelineStack(app, id, &StackProps{Pipeline: p})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	tpl := assertions.Template_FromStack(stack, nil)
	raw, err = json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return synthesized{stack: stack, template: tpl, json: m}
}

var defaultStack *synthesized

func defaultSynth(t *testing.T) synthesized {
	if defaultStack == nil {
		s := synth(t, testProps(t), false, "")
		defaultStack = &s
	}
	return *defaultStack
}

func obj(m map[string]any) *map[string]any { return &m }

func resources(s synthesized, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] == typ {
			out[id] = r.(map[string]any)
		}
	}
	return out
}

func TestTable(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	s.template.HasResource(jsii.String("AWS::DynamoDB::Table"), obj(map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": map[string]any{
			"BillingMode":                      "PAY_PER_REQUEST",
			"StreamSpecification":              map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"DeletionProtectionEnabled":        true,
			"KeySchema": []any{
				map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
				map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
			},
		},
	}))
}

func TestImportedTable(t *testing.T) {
	defer failOnPanic(t)
	p := testProps(t)
	p.ExistingTableName = "Orders"
	p.ExistingStreamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"
	s := synth(t, p, false, "")
	s.template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(0))
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), obj(map[string]any{"EventSourceArn": p.ExistingStreamARN}))
	if strings.Contains(toJSON(resources(s, "AWS::IAM::Role")), "DecryptStream") {
		t.Error("the streamer may decrypt with a table key that was not given")
	}
	// A table encrypted with a customer managed key: its stream is read
	// with kms:Decrypt on that key, through DynamoDB only.
	p.ExistingTableKMSKeyARN = "arn:aws:kms:eu-west-1:123456789012:key/0d26daa6-5e44-4c97-a497-ef015f91254a"
	s = synth(t, p, false, "")
	found := false
	for _, st := range statements(s, "streamer") {
		if st["Sid"] != "DecryptStream" {
			continue
		}
		found = true
		if got := toJSON(st["Action"]); got != `["kms:Decrypt","kms:DescribeKey"]` {
			t.Errorf("DecryptStream actions %s", got)
		}
		if got := toJSON(st["Resource"]); got != `"`+p.ExistingTableKMSKeyARN+`"` {
			t.Errorf("DecryptStream resource %s", got)
		}
		if got := toJSON(st["Condition"]); !strings.Contains(got, `"kms:ViaService":{"Fn::Join":["",["dynamodb.",{"Ref":"AWS::Region"},".amazonaws.com"]]}`) {
			t.Errorf("DecryptStream condition %s; want kms:ViaService dynamodb", got)
		}
	}
	if !found {
		t.Error("the streamer cannot decrypt the imported table's stream")
	}
	checkNag(t, s)
	checkIAMRules(t, s)
}

func TestTableKeyNeedsImportedTable(t *testing.T) {
	p := testProps(t)
	p.ExistingTableKMSKeyARN = "arn:aws:kms:eu-west-1:123456789012:key/0d26daa6-5e44-4c97-a497-ef015f91254a"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "existingTableKmsKeyArn") {
		t.Errorf("err = %v; want existingTableKmsKeyArn refused without an imported table", err)
	}
	p.ExistingTableName = "Orders"
	p.ExistingStreamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"
	p.ExistingTableKMSKeyARN = "alias/orders"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `context existingTableKmsKeyArn="alias/orders"`) {
		t.Errorf("err = %v; want a key ARN required", err)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// statements returns the statements of the inline policy named policy.
func statements(s synthesized, policy string) []map[string]any {
	var out []map[string]any
	for _, r := range resources(s, "AWS::IAM::Role") {
		pols, _ := r["Properties"].(map[string]any)["Policies"].([]any)
		for _, pol := range pols {
			if pol.(map[string]any)["PolicyName"] != policy {
				continue
			}
			for _, st := range pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				out = append(out, st.(map[string]any))
			}
		}
	}
	return out
}

func TestBucketAndKey(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	s.template.HasResource(jsii.String("AWS::S3::Bucket"), obj(map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": map[string]any{
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
				"BucketKeyEnabled":              true,
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": assertions.Match_AnyValue()},
			}}},
			"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Id": "tidy-versions", "Status": "Enabled", "AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1}, "ExpiredObjectDeleteMarker": true,
				"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 30},
			}})},
			"LoggingConfiguration": assertions.Match_AnyValue(),
		},
	}))
	s.template.HasResource(jsii.String("AWS::KMS::Key"), obj(map[string]any{
		"DeletionPolicy": "Retain", "Properties": map[string]any{"EnableKeyRotation": true},
	}))
	// TLS only, on both buckets.
	for id, r := range resources(s, "AWS::S3::BucketPolicy") {
		if !strings.Contains(toJSON(r), `"aws:SecureTransport":"false"`) {
			t.Errorf("bucket policy %s does not deny plain HTTP", id)
		}
	}
	s.template.ResourceCountIs(jsii.String("AWS::SecretsManager::Secret"), jsii.Number(0))
}

// TestNoFeatureFlagsNeeded builds the stack in an app without cdk.json's
// feature flags, as another CDK app embedding the construct would.
func TestNoFeatureFlagsNeeded(t *testing.T) {
	defer failOnPanic(t)
	s := synthWith(t, testProps(t), false, "", false)
	s.template.HasResourceProperties(jsii.String("AWS::S3::Bucket"), obj(map[string]any{
		"LoggingConfiguration": map[string]any{"LogFilePrefix": "output-bucket/", "DestinationBucketName": assertions.Match_AnyValue()},
	}))
	checkNag(t, s)
	checkIAMRules(t, s)
}

func TestS3ManagedEncryption(t *testing.T) {
	defer failOnPanic(t)
	p := testProps(t)
	p.BucketEncryption = "s3"
	s := synth(t, p, false, "")
	s.template.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(0))
	if strings.Contains(toJSON(resources(s, "AWS::IAM::Role")), "kms:") {
		t.Error("roles are granted KMS actions without a key")
	}
	if strings.Contains(toJSON(resources(s, "AWS::Lambda::Function")), "KMS_KEY_ID") {
		t.Error("the streamer is given a key that does not exist")
	}
}

func TestFunctions(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	fns := resources(s, "AWS::Lambda::Function")
	if len(fns) != 4 {
		t.Fatalf("%d functions", len(fns))
	}
	for id, fn := range fns {
		props := fn["Properties"].(map[string]any)
		lc := props["LoggingConfig"].(map[string]any)
		if props["Runtime"] != "provided.al2023" || toJSON(props["Architectures"]) != `["arm64"]` || props["Handler"] != "bootstrap" ||
			lc["LogFormat"] != "JSON" || lc["ApplicationLogLevel"] != "TRACE" || lc["LogGroup"] == nil {
			t.Errorf("function %s: %v", id, toJSON(props))
		}
		if got := props["Environment"].(map[string]any)["Variables"].(map[string]any)["LOG_LEVEL"]; got != "INFO" {
			t.Errorf("function %s: LOG_LEVEL = %v, want INFO", id, got)
		}
	}
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj(map[string]any{"Environment": map[string]any{"Variables": map[string]any{
		"S3_PREFIX": "cdc", "REPORT_BATCH_ITEM_FAILURES": "true", "IMAGE_FORMAT": "plain", "BUCKET_NAME": assertions.Match_AnyValue(), "KMS_KEY_ID": assertions.Match_AnyValue(),
		"METRICS_NAMESPACE": "DynamoDBStreamPipeline", "DEADLINE_MARGIN": "3s",
	}}}))
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj(map[string]any{"Environment": map[string]any{"Variables": map[string]any{
		"DATABRICKS_SECRET_ID": "databricks/pipeline", "DELIVERY_MODE": "volume", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{table}/{name}",
		"KEY_PREFIX": "cdc/table=", "KEY_SUFFIX": ".jsonl.gz", "METRICS_NAMESPACE": "DynamoDBStreamPipeline",
	}}}))
	s.template.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), obj(map[string]any{"RetentionInDays": 30}))
}

func TestEventSources(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), obj(map[string]any{
		"StartingPosition": "TRIM_HORIZON", "BatchSize": 1000, "MaximumBatchingWindowInSeconds": 5, "ParallelizationFactor": 1,
		"BisectBatchOnFunctionError": false, "MaximumRetryAttempts": 10, "MaximumRecordAgeInSeconds": 86400,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
		"DestinationConfig":     map[string]any{"OnFailure": map[string]any{"Destination": map[string]any{"Fn::GetAtt": assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("StreamerFailureQueue"))})}}},
	}))
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), obj(map[string]any{
		"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600, "Qualifier": "$LATEST",
		"DestinationConfig": map[string]any{"OnFailure": map[string]any{"Destination": map[string]any{"Fn::GetAtt": assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("ForwarderFailureQueue"))})}}},
	}))
	s.template.AllResourcesProperties(jsii.String("AWS::SQS::Queue"), obj(map[string]any{"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 1209600}))
}

func TestAlarmsDashboardAndOutputs(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	alarms := resources(s, "AWS::CloudWatch::Alarm")
	var metrics []string
	for _, a := range alarms {
		name, ok := a["Properties"].(map[string]any)["MetricName"].(string)
		if !ok {
			name = "(expression)"
		}
		metrics = append(metrics, name)
	}
	sort.Strings(metrics)
	want := []string{"(expression)", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesVisible", "ConversionErrors", "Duration", "Duration",
		"Errors", "Errors", "Errors", "Errors", "IteratorAge", "Throttles", "Throttles"}
	if !reflect.DeepEqual(metrics, want) {
		t.Errorf("alarms on %v; want %v", metrics, want)
	}
	s.template.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
	for _, o := range []string{"TableName", "StreamArn", "BucketName", "Prefix", "StreamerFunctionName", "ForwarderFunctionName",
		"StreamerLogGroupName", "ForwarderLogGroupName", "StreamerFailureQueueUrl", "ForwarderFailureQueueUrl", "ForwarderTriggerDeadLetterQueueUrl", "DashboardName",
		"ExportPrefix", "ImageFormat", "BucketKeyArn", "ExportPlannerFunctionName", "ExportConverterFunctionName", "ExportConverterFailureQueueUrl", "ExportPlannerFailureQueueUrl"} {
		s.template.HasOutput(jsii.String(o), obj(map[string]any{}))
	}
	// With a topic, every alarm notifies it.
	p := testProps(t)
	p.AlarmTopicARN = "arn:aws:sns:eu-west-1:123456789012:pipeline-alarms"
	s2 := synth(t, p, false, "")
	s2.template.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), obj(map[string]any{"AlarmActions": []any{p.AlarmTopicARN}}))
}

func TestUnityCatalogRole(t *testing.T) {
	defer failOnPanic(t)
	p := testProps(t)
	p.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	s := synth(t, p, false, "")
	externalID := map[string]any{"sts:ExternalId": p.DatabricksExternalID}
	s.template.HasResourceProperties(jsii.String("AWS::IAM::Role"), obj(map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{
			map[string]any{
				"Sid": "UnityCatalogAssumeRole", "Action": []any{"sts:AssumeRole"}, "Effect": "Allow",
				"Condition": map[string]any{"StringEquals": externalID},
				"Principal": map[string]any{"AWS": p.DatabricksUCPrincipalARN},
			},
			map[string]any{
				"Sid": "ExplicitSelfRoleAssumption", "Action": []any{"sts:AssumeRole"}, "Effect": "Allow",
				"Condition": map[string]any{"StringEquals": externalID, "ArnLike": map[string]any{"aws:PrincipalArn": map[string]any{"Fn::Join": assertions.Match_AnyValue()}}},
				// The account, not the role: IAM rejects a principal that
				// does not exist yet, and the role is being created.
				"Principal": map[string]any{"AWS": map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::", map[string]any{"Ref": "AWS::AccountId"}, ":root"}}}},
			},
		}},
		"RoleName": assertions.Match_StringLikeRegexp(jsii.String(`^ddbstream-databricks-uc-[0-9a-f]{8}$`)),
	}))
	s.template.HasOutput(jsii.String("DatabricksStep1CreateStorageCredential"), obj(map[string]any{}))
	s.template.HasOutput(jsii.String("DatabricksStep2ExternalId"), obj(map[string]any{}))
	s.template.HasOutput(jsii.String("DatabricksStep4DeployBundle"), obj(map[string]any{}))
	s.template.HasOutput(jsii.String("DatabricksStep3CreateExternalLocation"), obj(map[string]any{
		"Value": map[string]any{"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{
			assertions.Match_StringLikeRegexp(jsii.String("databricks external-locations create --json '\\{\"name\": \"ddb_stream_pipeline_location\", \"url\": \"s3://")),
		})})},
	}))
	checkNag(t, s)
	checkIAMRules(t, s)
}

// checkIAMRules applies the least-privilege rules to every IAM statement
// in the template: identity policies allow no wildcard actions or
// resources and use no managed policies; resource policies allow nobody
// anonymous.
func checkIAMRules(t *testing.T, s synthesized) {
	t.Helper()
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"} {
		if n := len(resources(s, typ)); n != 0 {
			t.Errorf("%d %s resources; all grants must be the roles' inline policies from iam", n, typ)
		}
	}
	for id, r := range resources(s, "AWS::IAM::Role") {
		props := r["Properties"].(map[string]any)
		if props["ManagedPolicyArns"] != nil {
			t.Errorf("role %s uses managed policies", id)
		}
		for _, pol := range props["Policies"].([]any) {
			for _, st := range pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				for _, a := range list(st["Action"]) {
					if s, ok := a.(string); !ok || s == "*" || strings.HasSuffix(s, ":*") || !strings.Contains(s, ":") {
						t.Errorf("role %s: action %v", id, a)
					}
				}
				for _, res := range list(st["Resource"]) {
					if res == "*" && !onlyWildcardActions(st["Action"]) {
						t.Errorf("role %s: statement %v allows every resource", id, st["Sid"])
					}
				}
			}
		}
	}
	for _, typ := range []string{"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::KMS::Key"} {
		for id, r := range resources(s, typ) {
			for _, st := range regexp.MustCompile(`\{"Action[^{}]*(\{[^{}]*\}[^{}]*)*\}`).FindAllString(toJSON(r), -1) {
				if strings.Contains(st, `"Effect":"Allow"`) && (strings.Contains(st, `"Principal":"*"`) || strings.Contains(st, `"AWS":"*"`)) {
					t.Errorf("%s allows anyone: %s", id, st)
				}
			}
		}
	}
}

// onlyWildcardActions: every action is one iam lists as having no
// narrower resource than "*".
func onlyWildcardActions(actions any) bool {
	l := list(actions)
	for _, a := range l {
		if _, ok := iam.WildcardResources[a.(string)]; !ok {
			return false
		}
	}
	return len(l) > 0
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func TestIAMRules(t *testing.T) {
	defer failOnPanic(t)
	checkIAMRules(t, defaultSynth(t))
}

// TestRolesGrantExactlyIAMStatements: the template's roles hold iam's
// statements and nothing else, so the iam tests (calls against grants)
// speak for the deployed roles.
func TestRolesGrantExactlyIAMStatements(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	r := iam.Placeholders()
	r.TableKeyARN = "" // a created table: AWS owned key
	want := map[string][]string{
		"streamer":        iam.Actions(iam.Streamer(r)),
		"forwarder":       iam.Actions(iam.Forwarder(r)),
		"exportplanner":   iam.Actions(iam.ExportPlanner(r)),
		"exportconverter": iam.Actions(iam.ExportConverter(r)),
	}
	got := map[string][]string{}
	for _, r := range resources(s, "AWS::IAM::Role") {
		for _, pol := range r["Properties"].(map[string]any)["Policies"].([]any) {
			name := pol.(map[string]any)["PolicyName"].(string)
			set := map[string]bool{}
			for _, st := range pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				for _, a := range list(st.(map[string]any)["Action"]) {
					set[a.(string)] = true
				}
			}
			for a := range set {
				got[name] = append(got[name], a)
			}
			sort.Strings(got[name])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("roles grant %v; iam says %v", got, want)
	}
}

// checkNag fails on any cdk-nag AwsSolutions finding not suppressed with a
// reason, error or warning; the assertion's message lists them.
func checkNag(t *testing.T, s synthesized) {
	t.Helper()
	a := assertions.Annotations_FromStack(s.stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, check := range []func(){
		func() { a.HasNoError(jsii.String("*"), match) },
		func() { a.HasNoWarning(jsii.String("*"), match) },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("cdk-nag: %v", r)
				}
			}()
			check()
		}()
	}
}

func TestCdkNag(t *testing.T) {
	defer failOnPanic(t)
	checkNag(t, defaultSynth(t))
}

func TestBadContextStopsSynthesis(t *testing.T) {
	defer failOnPanic(t)
	base := map[string]any{"databricksSecretName": "databricks/pipeline", "databricksVolumePath": "/Volumes/main/cdc/landing/{key}"}
	tests := []struct {
		name string
		set  map[string]any
		want string
	}{
		{"unknown mode", map[string]any{"deliveryMode": "email"}, `DELIVERY_MODE="email": want one of volume, job, copy-into, dbfs`},
		{"batch size", map[string]any{"batchSize": "20000"}, `context batchSize="20000": want a whole number from 1 to 10000`},
		{"batch size not a number", map[string]any{"batchSize": "lots"}, `context batchSize="lots": want a whole number`},
		{"malformed stream ARN", map[string]any{"existingTableName": "Orders", "existingStreamArn": "arn:aws:dynamodb:eu-west-1:1:table/Orders"}, `context existingStreamArn=`},
		{"malformed secret ARN", map[string]any{"databricksSecretName": "", "databricksSecretArn": "arn:aws:s3:::x"}, `context databricksSecretArn="arn:aws:s3:::x": want a Secrets Manager secret ARN`},
		{"no secret", map[string]any{"databricksSecretName": ""}, "databricksSecretName (or databricksSecretArn) is not set"},
		{"window", map[string]any{"batchingWindowSeconds": 301.0}, `batchingWindowSeconds="301"`},
		{"parallelization", map[string]any{"parallelizationFactor": "11"}, `parallelizationFactor="11"`},
		{"record age", map[string]any{"maxRecordAgeSeconds": "30"}, `maxRecordAgeSeconds="30": want -1 (no limit) or 60 to 604800`},
		{"retention", map[string]any{"logRetentionDays": "31"}, `logRetentionDays="31"`},
		{"encryption", map[string]any{"bucketEncryption": "none"}, `bucketEncryption="none": want kms or s3`},
		{"volume path", map[string]any{"databricksVolumePath": "/tmp/{key}"}, "DATABRICKS_VOLUME_PATH"},
		{"topic", map[string]any{"alarmTopicArn": "topic"}, `alarmTopicArn="topic"`},
		{"image format", map[string]any{"imageFormat": "avro"}, `IMAGE_FORMAT="avro"`},
		{"bisect", map[string]any{"bisectOnError": "sometimes"}, `context bisectOnError="sometimes": want true or false`},
		{"reserved concurrency", map[string]any{"exportConverterReservedConcurrency": "-1"}, `exportConverterReservedConcurrency="-1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := map[string]any{}
			for k, v := range base {
				ctx[k] = v
			}
			for k, v := range tc.set {
				ctx[k] = v
			}
			_, err := PropsFromContext(func(k string) any {
				if v, ok := ctx[k]; ok && v != "" {
					return v
				}
				return nil
			}, "/src")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	base["bisectOnError"] = true // cdk.json gives JSON booleans
	p, err := PropsFromContext(func(k string) any { return base[k] }, "/src")
	if err != nil || p.BatchSize != 1000 || !p.BisectOnError {
		t.Fatalf("valid context: %+v, %v", p.BatchSize, err)
	}
	if len(ContextKeys()) < 40 {
		t.Errorf("only %d context keys", len(ContextKeys()))
	}
}

// TestAssetHashIsStable builds both functions twice, in two synths with
// separate output folders: unchanged source must give unchanged assets.
func TestAssetHashIsStable(t *testing.T) {
	defer failOnPanic(t)
	if testing.Short() {
		t.Skip("builds both functions twice")
	}
	hashes := func() []string {
		s := synth(t, testProps(t), true, t.TempDir())
		var out []string
		for _, fn := range resources(s, "AWS::Lambda::Function") {
			out = append(out, toJSON(fn["Properties"].(map[string]any)["Code"]))
		}
		sort.Strings(out)
		return out
	}
	a, b := hashes(), hashes()
	if len(a) != 4 || !reflect.DeepEqual(a, b) || a[0] == a[1] {
		t.Errorf("asset keys differ between identical builds:\n%v\n%v", a, b)
	}
	// The flags themselves are lambdabuild's, compared with the Makefile
	// and scripts there.
}

// failOnPanic turns a failed CDK assertion, which panics, into a test
// failure, so the other tests still run.
func failOnPanic(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("%v", r)
	}
}
