package authz

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/iam"
)

// small is a template using each intrinsic Load resolves.
const small = `{
  "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
  "Resources": {
    "PipelineOutputDE261739": {"Type": "AWS::S3::Bucket", "Properties": {
      "BucketName": {"Fn::Join": ["-", ["ddbstream", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}, "bdaad7ef"]]},
      "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["PipelineBucketKeyA35FB1B5", "Arn"]}}}]}}},
    "PipelineBucketKeyA35FB1B5": {"Type": "AWS::KMS::Key", "Properties": {}},
    "PipelineTable0C1A5F45": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    "PipelineQueue11111111": {"Type": "AWS::SQS::Queue", "Properties": {}},
    "PipelineLogs22222222": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
    "PipelineRole33333333": {"Type": "AWS::IAM::Role", "Properties": {
      "AssumeRolePolicyDocument": {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]},
      "Policies": [{"PolicyName": "fn", "PolicyDocument": {"Statement": [
        {"Sid": "Join", "Effect": "Allow", "Action": "s3:PutObject", "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Fn::Join": ["-", ["ddbstream", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}, "bdaad7ef"]]}, "/cdc/*"]]}},
        {"Sid": "NotThisBucket", "Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::xddbstream-${AWS::AccountId}-${AWS::Region}-bdaad7ef/*"}},
        {"Sid": "Sub", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::Sub": ["${Q}|${PipelineQueue11111111.Arn}|${PipelineLogs22222222}|${!Literal}|${AWS::URLSuffix}|${Stage}", {"Q": {"Ref": "PipelineQueue11111111"}}]}},
        {"Sid": "Stream", "Effect": "Allow", "Action": "dynamodb:GetRecords", "Resource": {"Fn::GetAtt": "PipelineTable0C1A5F45.StreamArn"}},
        {"Sid": "Select", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": {"Fn::Select": [1, {"Fn::Split": [",", {"Fn::Join": [",", ["a", {"Fn::GetAtt": ["PipelineLogs22222222", "Arn"]}, "c"]]}]}]}},
        {"Sid": "NoValue", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": [{"Fn::GetAtt": ["PipelineBucketKeyA35FB1B5", "Arn"]}, {"Ref": "AWS::NoValue"}]},
        {"Sid": "Secret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":secretsmanager:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":secret:databricks/pipeline-??????"]]}}
      ]}}]}},
    "PipelineFunction44444444": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["PipelineRole33333333", "Arn"]}}}
  },
  "Outputs": {
    "BucketName": {"Value": {"Fn::Join": ["-", ["ddbstream", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}, "bdaad7ef"]]}},
    "QueueUrl": {"Value": {"Ref": "PipelineQueue11111111"}},
    "StackName": {"Value": {"Ref": "AWS::StackName"}}
  }
}`

func smallEnv() Env {
	return Env{Region: "eu-west-1", Account: "123456789012", StackName: "S", StreamLabel: "label-1",
		Names:   map[string]string{"PipelineOutput": "cdc-local", "PipelineFunction": "fn", "PipelineQueue": "q"},
		KeyIDs:  map[string]string{"PipelineBucketKey": "key-1"},
		Secrets: map[string]string{"databricks/pipeline": "local/databricks"}}
}

// TestLoadResolvesIntrinsics: each intrinsic resolves as CloudFormation
// would for the Env, and the bucket's fixed name is the Env's wherever
// its formula appears, but not inside a longer name.
func TestLoadResolvesIntrinsics(t *testing.T) {
	s, err := Load([]byte(small), smallEnv())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s.Principal("fn")
	if !ok {
		t.Fatalf("no principal fn; have %v", s.Principals())
	}
	got := map[string]any{}
	for _, st := range rawStatements(p.Policies[0].Document) {
		got[st["Sid"].(string)] = st["Resource"]
	}
	want := map[string]any{
		"Join":          "arn:aws:s3:::cdc-local/cdc/*",
		"NotThisBucket": "arn:aws:s3:::xddbstream-123456789012-eu-west-1-bdaad7ef/*",
		"Sub": "https://sqs.eu-west-1.amazonaws.com/123456789012/q|arn:aws:sqs:eu-west-1:123456789012:q|S-PipelineLogs|${Literal}|" +
			"amazonaws.com|prod",
		"Stream":  "arn:aws:dynamodb:eu-west-1:123456789012:table/S-PipelineTable/stream/label-1",
		"Select":  "arn:aws:logs:eu-west-1:123456789012:log-group:S-PipelineLogs:*",
		"NoValue": []any{"arn:aws:kms:eu-west-1:123456789012:key/key-1"},
		"Secret":  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:local/databricks-??????",
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("statement %s: got %v, want %v", k, got[k], w)
		}
	}
	if got, want := p.ARN, "arn:aws:sts::123456789012:assumed-role/S-PipelineRole/fn"; got != want {
		t.Errorf("principal ARN %s, want %s", got, want)
	}
	for name, want := range map[string]string{"BucketName": "cdc-local", "QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "StackName": "S"} {
		if got, _ := s.Output(name); got != want {
			t.Errorf("output %s = %q, want %q", name, got, want)
		}
	}
	d := s.Deployment()
	wantD := iam.Deployment{Partition: "aws", Region: "eu-west-1", Account: "123456789012",
		BucketKeys: map[string]string{"cdc-local": "arn:aws:kms:eu-west-1:123456789012:key/key-1"},
		TableKeys:  map[string]string{},
		Secrets:    map[string]string{"local/databricks": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:local/databricks-" + secretSuffix("local/databricks")},
		SecretKeys: map[string]string{}}
	if !reflect.DeepEqual(d, wantD) {
		t.Errorf("deployment %+v, want %+v", d, wantD)
	}
}

// TestLoadErrors: what cannot be resolved is an error naming the logical
// ID and the path to the token.
func TestLoadErrors(t *testing.T) {
	role := func(resource string) string {
		return `{"Resources": {"R1": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ` + resource + `}]}}]}},
		  "T1": {"Type": "AWS::DynamoDB::Table", "Properties": {}}, "M1": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {}}}}`
	}
	env := smallEnv()
	env.Names, env.KeyIDs = nil, nil
	noLabel := env
	noLabel.StreamLabel = ""
	tests := []struct {
		name, template string
		env            Env
		want           []string
	}{
		{"unknown Ref", role(`{"Ref": "Nothing"}`), env, []string{"R1 Properties.Policies[0].PolicyDocument.Statement[0].Resource", "Nothing is no resource"}},
		{"Ref of an unsupported type", role(`{"Ref": "M1"}`), env, []string{"R1 Properties", "the Ref of M1 (AWS::Lambda::EventSourceMapping) is not supported"}},
		{"unknown attribute", role(`{"Fn::GetAtt": ["T1", "LatestStreamLabel"]}`), env, []string{"R1 Properties", "attribute LatestStreamLabel of T1"}},
		{"stream without a label", role(`{"Fn::GetAtt": ["T1", "StreamArn"]}`), noLabel, []string{"R1 Properties", "no StreamLabel or StreamARN"}},
		{"unsupported intrinsic", role(`{"Fn::ImportValue": "x"}`), env, []string{"R1 Properties", "Fn::ImportValue: not supported"}},
		{"condition function", role(`{"Fn::If": ["C", "a", "b"]}`), env, []string{"R1 Properties", "Fn::If: not supported"}},
		{"Sub of an unknown name", role(`{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Missing}"}`), env, []string{"R1 Properties", "Missing is no resource"}},
		{"Join of a non-string", role(`{"Fn::Join": ["", [{"Fn::Split": [",", "a,b"]}]]}`), env, []string{"R1 Properties", "item 0"}},
		{"Env without an account", role(`"*"`), Env{Region: "r", StackName: "S"}, []string{"Region, Account and StackName"}},
		{"Env names no resource", role(`"*"`), Env{Region: "r", Account: "1", StackName: "S", Names: map[string]string{"Nope": "x"}}, []string{`"Nope"`}},
		{"function role not in the template", `{"Resources": {"F1": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::1:role/x"}}}}`, env,
			[]string{"function F1", "arn:aws:iam::1:role/x"}},
		{"AWS managed policy", `{"Resources": {"R1": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]}},
		  "F1": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["R1", "Arn"]}}}}}`, env,
			[]string{"role R1", "AWS managed policy arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.template), tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestAttachedPolicies: a role's policies include AWS::IAM::Policy and
// customer managed policies attached to it, by Roles or ManagedPolicyArns.
func TestAttachedPolicies(t *testing.T) {
	tpl := `{"Resources": {
	  "R1": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "ManagedPolicyArns": [{"Ref": "MP1"}],
	    "Policies": [{"PolicyName": "inline", "PolicyDocument": {"Statement": []}}]}},
	  "P1": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "attached", "Roles": [{"Ref": "R1"}], "PolicyDocument": {"Statement": []}}},
	  "MP1": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "managed", "PolicyDocument": {"Statement": []}}},
	  "F1": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "f", "Role": {"Fn::GetAtt": ["R1", "Arn"]}}}}}`
	s, err := Load([]byte(tpl), Env{Region: "eu-west-1", Account: "123456789012", StackName: "S"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Principal("f")
	var got []string
	for _, pol := range p.Policies {
		got = append(got, pol.Name)
	}
	sort.Strings(got)
	if want := []string{"attached", "inline", "managed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("policies %v, want %v", got, want)
	}
}

// TestGoldenPrincipals: the committed template gives the four functions'
// roles, each with its policy, and resource policies by ARN.
func TestGoldenPrincipals(t *testing.T) {
	tpl := golden(t)
	s := load(t, tpl, nil)
	if got, want := s.Principals(), []string{"exportconverter", "exportplanner", "forwarder", "streamer"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("principals %v, want %v", got, want)
	}
	for name, policy := range map[string]string{"streamer": "streamer", "forwarder": "forwarder", "exportplanner": "exportplanner", "exportconverter": "exportconverter"} {
		p, _ := s.Principal(name)
		if len(p.Policies) != 1 || p.Policies[0].Name != policy {
			t.Errorf("%s's policies: %+v", name, p.Policies)
		}
		if !strings.HasPrefix(p.ARN, "arn:aws:sts::"+account+":assumed-role/") || !strings.HasSuffix(p.ARN, "/"+name) {
			t.Errorf("%s's ARN %s", name, p.ARN)
		}
	}
	key := s.Deployment().BucketKeys[bucket]
	tests := []struct {
		action, arn string
		want        string // a statement the policy holds, or "" for none
	}{
		{"s3:GetObject", "arn:aws:s3:::" + bucket + "/cdc/x", `"aws:SecureTransport":"false"`},
		{"s3:ListBucket", "arn:aws:s3:::" + bucket, `"s3:TlsVersion":1.2`},
		{"kms:Decrypt", key, `"kms:*"`},
		{"lambda:InvokeFunction", fnARN("forwarder"), `"AWS:SourceArn":"` + ruleARN("forwarder-trigger") + `"`},
		{"sqs:SendMessage", "arn:aws:sqs:" + region + ":" + account + ":forwarder-trigger-dead-letters", `"aws:SourceArn":"` + ruleARN("forwarder-trigger") + `"`},
		{"sts:AssumeRole", s.principals["streamer"].RoleARN, `"Service":"lambda.amazonaws.com"`},
		{"iam:GetRolePolicy", s.principals["streamer"].RoleARN, ""},
		{"secretsmanager:GetSecretValue", s.Deployment().Secrets["databricks/pipeline"], ""},
	}
	for _, tc := range tests {
		doc := s.ResourcePolicy(tc.action, tc.arn)
		raw, _ := json.Marshal(doc)
		switch {
		case tc.want == "" && doc != nil:
			t.Errorf("%s on %s: a resource policy %s; want none", tc.action, tc.arn, raw)
		case tc.want != "" && !strings.Contains(string(raw), tc.want):
			t.Errorf("%s on %s: resource policy %s; want one holding %s", tc.action, tc.arn, raw, tc.want)
		}
	}
}

// TestPlaceholders: every placeholder of the operator policies is filled
// with the stack's values; an unknown one is an error naming it.
func TestPlaceholders(t *testing.T) {
	s := load(t, golden(t), nil)
	filled, err := s.FillPlaceholders(repoFile(t, "iam/testdata/operator-policies.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m := placeholder.Find(filled); m != nil {
		t.Errorf("%s left in the operator policies", m)
	}
	v := s.PlaceholderValues()
	want := map[string]string{
		"BucketName": bucket, "TableName": "Orders", "StackName": "DdbStreamPipeline",
		"StreamArn":                "arn:aws:dynamodb:us-east-1:" + account + ":table/Orders/stream/" + streamLabel,
		"StreamerFailureQueueArn":  "arn:aws:sqs:us-east-1:" + account + ":streamer-failures",
		"ExportPlannerFunctionArn": fnARN("exportplanner"),
		"ExportConverterLogGroup":  "/aws/lambda/exportconverter",
		"ForwarderRoleArn":         s.principals["forwarder"].RoleARN,
		"DatabricksSecretArn":      "arn:aws:secretsmanager:us-east-1:" + account + ":secret:databricks/pipeline-??????",
		"BucketKeyArn":             s.Deployment().BucketKeys[bucket],
	}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("${%s} = %q, want %q", k, v[k], w)
		}
	}
	for _, k := range []string{"TableKeyArn", "ExportTriggerDeadLetterQueueArn", "ForwarderTriggerDeadLetterQueueArn"} {
		if v[k] == "" {
			t.Errorf("no value for ${%s}", k)
		}
	}
	_, err = s.FillPlaceholders([]byte(`{"Resource": "${BucketName}/${Unknown}/${Other}/${aws:username}"}`))
	if err == nil || !strings.Contains(err.Error(), "${Other}, ${Unknown}") {
		t.Errorf("err = %v; want the unknown placeholders named", err)
	}
	if err := s.AddOperators([]byte(`{"backfill": {"Statement": []}}`)); err == nil || !strings.Contains(err.Error(), `"backfill" is not named ddbstream-`) {
		t.Errorf("err = %v; want a policy not named ddbstream-<subcommand> refused", err)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		action     bool
		want       bool
	}{
		{"s3:GetObject", "s3:getobject", true, true},
		{"s3:Get*", "s3:GetObjectVersion", true, true},
		{"s3:Get?bject", "s3:GetObject", true, true},
		{"s3:Put*", "s3:GetObject", true, false},
		{"*", "anything:Else", true, true},
		{"arn:aws:s3:::b/cdc/table=*", "arn:aws:s3:::b/cdc/table=T/dt=1/x.gz", false, true},
		{"arn:aws:s3:::b/cdc/table=*", "arn:aws:s3:::B/cdc/table=T", false, false},
		{"arn:aws:s3:::b/cdc/table=*/dt=*/hour=*/snapshot-*", "arn:aws:s3:::b/cdc/table=T/dt=1/hour=2/snapshot-e-f.gz", false, true},
		{"arn:aws:s3:::b/cdc/table=*/dt=*/hour=*/snapshot-*", "arn:aws:s3:::b/cdc/table=T/dt=1/hour=2/s.gz", false, false},
		{"arn:aws:logs:r:1:log-group:/aws/lambda/f:*", "arn:aws:logs:r:1:log-group:/aws/lambda/f:log-stream:s", false, true},
		{"a*b*c", "abbbc", false, true},
		{"a*b*c", "acb", false, false},
	}
	for _, tc := range tests {
		got := matchResource(tc.pattern, tc.s)
		if tc.action {
			got = matchAction(tc.pattern, tc.s)
		}
		if got != tc.want {
			t.Errorf("%q matches %q: got %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
