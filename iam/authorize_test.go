package iam

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// The deployment the Authorize tests use: the bucket "lake" and the table
// Orders have customer managed keys, "plain" and Plain do not; the
// secret databricks/pipeline has its own key.
const (
	azBucket    = "lake"
	azBucketKey = "arn:aws:kms:" + simRegion + ":" + simAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	azTableKey  = "arn:aws:kms:" + simRegion + ":" + simAccount + ":key/3456cdef-34cd-56ef-78ab-3456789012cd"
	azSecretKey = "arn:aws:kms:" + simRegion + ":" + simAccount + ":key/2345bcde-23bc-45de-67fa-2345678901bc"
	azSecret    = "arn:aws:secretsmanager:" + simRegion + ":" + simAccount + ":secret:databricks/pipeline-AbCdEf"
	azOther     = "arn:aws:secretsmanager:" + simRegion + ":" + simAccount + ":secret:other-XyZ123"
	azStream    = "table/Orders/stream/2026-11-01T00:00:00.000"
	azRule      = "arn:aws:events:" + simRegion + ":" + simAccount + ":rule/DdbStreamPipeline-ExportTrigger-T7u8I9"
	// DynamoDB Local's ARNs: its own region and account.
	azLocalTable = "arn:aws:dynamodb:ddblocal:000000000000:table/Orders"
)

func azDeployment() Deployment {
	return Deployment{
		Partition: "aws", Region: simRegion, Account: simAccount,
		BucketKeys: map[string]string{azBucket: azBucketKey},
		TableKeys:  map[string]string{simTable: azTableKey},
		Secrets:    map[string]string{"databricks/pipeline": azSecret},
		SecretKeys: map[string]string{azSecret: azSecretKey},
	}
}

// Contexts: what every request of the caller's carries, S3's, and the
// KMS requests services make.
func own(kv ...string) map[string]any {
	m := map[string]any{"aws:SecureTransport": "true"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func s3ctx(kv ...string) map[string]any {
	return own(append([]string{"s3:TlsVersion", "1.3"}, kv...)...)
}

func obj(key string) string    { return "arn:aws:s3:::" + azBucket + "/" + key }
func lakeARN() string          { return "arn:aws:s3:::" + azBucket }
func ddb(rest string) string   { return simARN("dynamodb", rest) }
func queue(name string) string { return simARN("sqs", name) }

func bucketKey(action string) Authorization {
	return Authorization{Action: action, Resource: azBucketKey, Why: "S3 uses the bucket's KMS key (SSE-KMS) with the caller's permissions",
		Context: map[string]any{"kms:ViaService": "s3." + simRegion + ".amazonaws.com"}}
}

func tableKey() Authorization {
	return Authorization{Action: "kms:Decrypt", Resource: azTableKey, Why: "DynamoDB decrypts the table key of a table with a customer managed key with the caller's permissions",
		Context: map[string]any{"kms:ViaService": "dynamodb." + simRegion + ".amazonaws.com"}}
}

func listing(key string) Authorization {
	return Authorization{Action: "s3:ListBucket", Resource: lakeARN(), Context: s3ctx("s3:prefix", key),
		Why: "S3 answers a read of a missing key with 404 rather than 403 only to a caller allowed s3:ListBucket"}
}

type azCase struct {
	name string
	call Call
	want []Authorization
}

// azCases is a sample call of every operation in OperationActions that
// a Call can name, and the variants the rules depend on: a version, a
// 404, SSE-KMS or not, a table key or not, a service principal.
func azCases() []azCase {
	const key = "cdc/table=Orders/dt=2026-11-01/hour=00/batch.jsonl.gz"
	s3 := func(op string) Call { return Call{Service: "s3", Operation: op, Bucket: azBucket, Key: key} }
	with := func(c Call, f func(*Call)) Call { f(&c); return c }
	table := func(op string) Call { return Call{Service: "dynamodb", Operation: op, Table: simTable} }
	a := func(action, resource string, ctx map[string]any) Authorization {
		return Authorization{Action: action, Resource: resource, Context: ctx}
	}
	localQueue := "http://127.0.0.1:4566/000000000000/streamer-failures"
	awsQueue := "https://sqs." + simRegion + ".amazonaws.com/" + simAccount + "/streamer-failures"
	fn := simARN("lambda", "function:DdbStreamPipeline-Planner-AbC123")
	cases := []azCase{
		{"PutObject, SSE-KMS", s3("PutObject"), []Authorization{a("s3:PutObject", obj(key), s3ctx()), bucketKey("kms:GenerateDataKey")}},
		{"PutObject, S3-managed key", with(s3("PutObject"), func(c *Call) { c.Bucket = "plain" }),
			[]Authorization{a("s3:PutObject", "arn:aws:s3:::plain/"+key, s3ctx())}},
		{"GetObject", s3("GetObject"), []Authorization{a("s3:GetObject", obj(key), s3ctx()), bucketKey("kms:Decrypt")}},
		{"GetObject of a version", with(s3("GetObject"), func(c *Call) { c.VersionID = "v1" }),
			[]Authorization{a("s3:GetObjectVersion", obj(key), s3ctx()), bucketKey("kms:Decrypt")}},
		{"GetObject of a missing key", with(s3("GetObject"), func(c *Call) { c.Status = 404 }),
			[]Authorization{a("s3:GetObject", obj(key), s3ctx()), listing(key)}},
		{"GetObject of a missing version", with(s3("GetObject"), func(c *Call) { c.Status, c.VersionID = 404, "v1" }),
			[]Authorization{a("s3:GetObjectVersion", obj(key), s3ctx()), listing(key)}},
		{"GetObject, found", with(s3("GetObject"), func(c *Call) { c.Status = 200 }),
			[]Authorization{a("s3:GetObject", obj(key), s3ctx()), bucketKey("kms:Decrypt")}},
		{"HeadObject", s3("HeadObject"), []Authorization{a("s3:GetObject", obj(key), s3ctx())}},
		{"HeadObject of a version", with(s3("HeadObject"), func(c *Call) { c.VersionID = "v1" }),
			[]Authorization{a("s3:GetObjectVersion", obj(key), s3ctx())}},
		{"HeadObject of a missing key", with(s3("HeadObject"), func(c *Call) { c.Status = 404 }),
			[]Authorization{a("s3:GetObject", obj(key), s3ctx()), listing(key)}},
		{"CreateMultipartUpload", s3("CreateMultipartUpload"), []Authorization{a("s3:PutObject", obj(key), s3ctx()), bucketKey("kms:GenerateDataKey")}},
		{"UploadPart", s3("UploadPart"), []Authorization{a("s3:PutObject", obj(key), s3ctx()), bucketKey("kms:Decrypt")}},
		{"CompleteMultipartUpload", s3("CompleteMultipartUpload"), []Authorization{a("s3:PutObject", obj(key), s3ctx()), bucketKey("kms:Decrypt")}},
		{"AbortMultipartUpload", s3("AbortMultipartUpload"), []Authorization{a("s3:AbortMultipartUpload", obj(key), s3ctx())}},
		{"DeleteObject", s3("DeleteObject"), []Authorization{a("s3:DeleteObject", obj(key), s3ctx())}},
		{"DeleteObject of a version", with(s3("DeleteObject"), func(c *Call) { c.VersionID = "v1" }),
			[]Authorization{a("s3:DeleteObject", obj(key), s3ctx()), a("s3:DeleteObjectVersion", obj(key), s3ctx())}},
		{"ListObjectsV2 under a prefix", Call{Service: "s3", Operation: "ListObjectsV2", Bucket: azBucket, Prefix: "cdc/_errors/"},
			[]Authorization{a("s3:ListBucket", lakeARN(), s3ctx("s3:prefix", "cdc/_errors/"))}},
		{"ListObjectsV2 of the bucket", Call{Service: "s3", Operation: "ListObjectsV2", Bucket: azBucket},
			[]Authorization{a("s3:ListBucket", lakeARN(), s3ctx())}},
		{"HeadBucket", Call{Service: "s3", Operation: "HeadBucket", Bucket: azBucket}, []Authorization{a("s3:ListBucket", lakeARN(), s3ctx())}},
		{"CreateBucket", Call{Service: "s3", Operation: "CreateBucket", Bucket: azBucket}, []Authorization{a("s3:CreateBucket", lakeARN(), s3ctx())}},
		{"GetBucketNotificationConfiguration", Call{Service: "s3", Operation: "GetBucketNotificationConfiguration", Bucket: azBucket},
			[]Authorization{a("s3:GetBucketNotification", lakeARN(), s3ctx())}},

		{"Scan of a table without a key", with(table("Scan"), func(c *Call) { c.Table = "Plain" }),
			[]Authorization{a("dynamodb:Scan", ddb("table/Plain"), own())}},
		{"DescribeTable", table("DescribeTable"), []Authorization{a("dynamodb:DescribeTable", ddb("table/Orders"), own())}},
		{"DescribeTable by ARN", with(table("DescribeTable"), func(c *Call) { c.Table = ddb("table/Orders") }),
			[]Authorization{a("dynamodb:DescribeTable", ddb("table/Orders"), own())}},
		{"CreateTable", table("CreateTable"), []Authorization{a("dynamodb:CreateTable", ddb("table/Orders"), own())}},
		{"UpdateTable", table("UpdateTable"), []Authorization{a("dynamodb:UpdateTable", ddb("table/Orders"), own())}},
		{"DescribeContinuousBackups", table("DescribeContinuousBackups"), []Authorization{a("dynamodb:DescribeContinuousBackups", ddb("table/Orders"), own())}},
		{"UpdateContinuousBackups", table("UpdateContinuousBackups"), []Authorization{a("dynamodb:UpdateContinuousBackups", ddb("table/Orders"), own())}},
		{"ExportTableToPointInTime, DynamoDB Local's table ARN", with(table("ExportTableToPointInTime"), func(c *Call) { c.Table = azLocalTable }),
			[]Authorization{a("dynamodb:ExportTableToPointInTime", ddb("table/Orders"), own()), tableKey()}},
		{"DescribeExport, DynamoDB Local's export ARN", Call{Service: "dynamodb", Operation: "DescribeExport", Export: azLocalTable + "/export/01795449600123-5f1c2e3a"},
			[]Authorization{a("dynamodb:DescribeExport", ddb("table/Orders/export/01795449600123-5f1c2e3a"), own())}},
		{"ListExports", Call{Service: "dynamodb", Operation: "ListExports", Table: azLocalTable}, []Authorization{a("dynamodb:ListExports", "*", own())}},
		{"ListStreams (dynamodb)", Call{Service: "dynamodb", Operation: "ListStreams", Table: simTable}, []Authorization{a("dynamodb:ListStreams", "*", own())}},
		{"ListStreams (dynamodbstreams)", Call{Service: "dynamodbstreams", Operation: "ListStreams", Table: simTable}, []Authorization{a("dynamodb:ListStreams", "*", own())}},
		{"DescribeStream", Call{Service: "dynamodbstreams", Operation: "DescribeStream", Stream: ddb(azStream)}, []Authorization{a("dynamodb:DescribeStream", ddb(azStream), own())}},
		{"GetShardIterator", Call{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: ddb(azStream)}, []Authorization{a("dynamodb:GetShardIterator", ddb(azStream), own())}},
		{"GetRecords", Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: ddb(azStream)}, []Authorization{a("dynamodb:GetRecords", ddb(azStream), own()), tableKey()}},
		{"GetRecords of a table without a key", Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: ddb("table/Plain/stream/2026-11-01T00:00:00.000")},
			[]Authorization{a("dynamodb:GetRecords", ddb("table/Plain/stream/2026-11-01T00:00:00.000"), own())}},

		{"SendMessage", Call{Service: "sqs", Operation: "SendMessage", Queue: awsQueue}, []Authorization{a("sqs:SendMessage", queue("streamer-failures"), own())}},
		{"SendMessage for an EventBridge rule", Call{Service: "sqs", Operation: "SendMessage", Queue: awsQueue, SourceARN: azRule},
			[]Authorization{a("sqs:SendMessage", queue("streamer-failures"), own("aws:SourceArn", azRule, "aws:SourceAccount", simAccount))}},
		{"ReceiveMessage, local queue URL", Call{Service: "sqs", Operation: "ReceiveMessage", Queue: localQueue},
			[]Authorization{a("sqs:ReceiveMessage", "arn:aws:sqs:"+simRegion+":000000000000:streamer-failures", own())}},
		{"DeleteMessage", Call{Service: "sqs", Operation: "DeleteMessage", Queue: awsQueue}, []Authorization{a("sqs:DeleteMessage", queue("streamer-failures"), own())}},
		{"ChangeMessageVisibility", Call{Service: "sqs", Operation: "ChangeMessageVisibility", Queue: awsQueue},
			[]Authorization{a("sqs:ChangeMessageVisibility", queue("streamer-failures"), own())}},
		{"GetQueueAttributes", Call{Service: "sqs", Operation: "GetQueueAttributes", Queue: awsQueue}, []Authorization{a("sqs:GetQueueAttributes", queue("streamer-failures"), own())}},
		{"GetQueueUrl by name", Call{Service: "sqs", Operation: "GetQueueUrl", Queue: "streamer-failures"}, []Authorization{a("sqs:GetQueueUrl", queue("streamer-failures"), own())}},
		{"CreateQueue by name", Call{Service: "sqs", Operation: "CreateQueue", Queue: "streamer-failures"}, []Authorization{a("sqs:CreateQueue", queue("streamer-failures"), own())}},

		{"Invoke by name", Call{Service: "lambda", Operation: "Invoke", Function: "exportconverter"},
			[]Authorization{a("lambda:InvokeFunction", simARN("lambda", "function:exportconverter"), own())}},
		{"Invoke by partial ARN", Call{Service: "lambda", Operation: "Invoke", Function: simAccount + ":function:exportconverter"},
			[]Authorization{a("lambda:InvokeFunction", simARN("lambda", "function:exportconverter"), own())}},
		{"Invoke an alias by name", Call{Service: "lambda", Operation: "Invoke", Function: "exportconverter:live"},
			[]Authorization{a("lambda:InvokeFunction", simARN("lambda", "function:exportconverter:live"), own())}},
		{"Invoke a version by ARN", Call{Service: "lambda", Operation: "Invoke", Function: fn + ":7"}, []Authorization{a("lambda:InvokeFunction", fn+":7", own())}},
		{"Invoke for an EventBridge rule", Call{Service: "lambda", Operation: "Invoke", Function: fn, SourceARN: azRule},
			[]Authorization{a("lambda:InvokeFunction", fn, own("aws:SourceArn", azRule, "aws:SourceAccount", simAccount))}},
		{"ListEventSourceMappings", Call{Service: "lambda", Operation: "ListEventSourceMappings", Function: "streamer", Stream: ddb(azStream)},
			[]Authorization{a("lambda:ListEventSourceMappings", "*", own())}},
		{"GetFunctionConfiguration", Call{Service: "lambda", Operation: "GetFunctionConfiguration", Function: "forwarder"},
			[]Authorization{a("lambda:GetFunctionConfiguration", simARN("lambda", "function:forwarder"), own())}},
		{"GetPolicy", Call{Service: "lambda", Operation: "GetPolicy", Function: fn}, []Authorization{a("lambda:GetPolicy", fn, own())}},

		{"GetSecretValue by name, own key", Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "databricks/pipeline"},
			[]Authorization{a("secretsmanager:GetSecretValue", azSecret, own()), {Action: "kms:Decrypt", Resource: azSecretKey,
				Why:     "Secrets Manager decrypts the secret with its customer managed key with the caller's permissions",
				Context: map[string]any{"kms:ViaService": "secretsmanager." + simRegion + ".amazonaws.com"}}}},
		{"GetSecretValue by ARN, AWS managed key", Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: azOther},
			[]Authorization{a("secretsmanager:GetSecretValue", azOther, own())}},
		{"GetSecretValue by partial ARN", Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: strings.TrimSuffix(azSecret, "-AbCdEf")},
			[]Authorization{a("secretsmanager:GetSecretValue", azSecret, own()), {Action: "kms:Decrypt", Resource: azSecretKey,
				Why:     "Secrets Manager decrypts the secret with its customer managed key with the caller's permissions",
				Context: map[string]any{"kms:ViaService": "secretsmanager." + simRegion + ".amazonaws.com"}}}},

		{"DescribeStacks by name", Call{Service: "cloudformation", Operation: "DescribeStacks", Stack: simStack},
			[]Authorization{a("cloudformation:DescribeStacks", simARN("cloudformation", "stack/"+simStack+"/*"), own())}},
		{"DescribeStacks by ID", Call{Service: "cloudformation", Operation: "DescribeStacks", Stack: simARN("cloudformation", "stack/"+simStack+"/0a1b2c3d-1234-11f0-abcd-0a1b2c3d4e5f")},
			[]Authorization{a("cloudformation:DescribeStacks", simARN("cloudformation", "stack/"+simStack+"/0a1b2c3d-1234-11f0-abcd-0a1b2c3d4e5f"), own())}},
		{"GetMetricStatistics", Call{Service: "cloudwatch", Operation: "GetMetricStatistics"}, []Authorization{a("cloudwatch:GetMetricStatistics", "*", own())}},
		{"FilterLogEvents", Call{Service: "cloudwatchlogs", Operation: "FilterLogEvents", LogGroup: "/aws/lambda/streamer"},
			[]Authorization{a("logs:FilterLogEvents", simARN("logs", "log-group:/aws/lambda/streamer:*"), own())}},
		{"CreateLogStream", Call{Service: "cloudwatchlogs", Operation: "CreateLogStream", LogGroup: "/aws/lambda/streamer", LogStream: "2026/11/23/[$LATEST]0123"},
			[]Authorization{a("logs:CreateLogStream", simARN("logs", "log-group:/aws/lambda/streamer:log-stream:2026/11/23/[$LATEST]0123"), own())}},
		{"PutLogEvents", Call{Service: "cloudwatchlogs", Operation: "PutLogEvents", LogGroup: "/aws/lambda/streamer", LogStream: "2026/11/23/[$LATEST]0123"},
			[]Authorization{a("logs:PutLogEvents", simARN("logs", "log-group:/aws/lambda/streamer:log-stream:2026/11/23/[$LATEST]0123"), own())}},
	}
	for _, op := range []string{"Scan", "Query", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"} {
		cases = append(cases, azCase{op + ", table key", table(op), []Authorization{a("dynamodb:"+op, ddb("table/Orders"), own()), tableKey()}})
	}
	return cases
}

// fieldDiff says which fields of two authorizations differ.
func fieldDiff(got, want Authorization) string {
	var d []string
	if got.Action != want.Action {
		d = append(d, "Action: got "+got.Action+", want "+want.Action)
	}
	if got.Resource != want.Resource {
		d = append(d, "Resource: got "+got.Resource+", want "+want.Resource)
	}
	if !reflect.DeepEqual(got.Context, want.Context) {
		g, _ := json.Marshal(got.Context)
		w, _ := json.Marshal(want.Context)
		d = append(d, "Context: got "+string(g)+", want "+string(w))
	}
	if got.Why != want.Why {
		d = append(d, "Why: got "+got.Why+", want "+want.Why)
	}
	return strings.Join(d, "; ")
}

func TestAuthorize(t *testing.T) {
	d := azDeployment()
	for _, tc := range azCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Authorize(tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d authorizations, want %d:\ngot  %+v\nwant %+v", len(got), len(tc.want), got, tc.want)
			}
			for i := range got {
				if diff := fieldDiff(got[i], tc.want[i]); diff != "" {
					t.Errorf("authorization %d (%s): %s", i, tc.want[i].Action, diff)
				}
			}
		})
	}
}

// TestAuthorizeCoversTheTable: the sample calls cover every operation
// of OperationActions (those Authorize can map), so the simulator checks
// every action of the table; every action has a resource type.
func TestAuthorizeCoversTheTable(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range azCases() {
		covered[tc.call.Service+":"+tc.call.Operation] = true
	}
	for name, op := range OperationActions {
		if !covered[name] && !noResourceField[name] {
			t.Errorf("no sample call of %s", name)
		}
		for _, a := range append(append(append([]string(nil), op.Actions...), op.Versioned...), op.NotFound...) {
			if _, ok := actionResources[a]; !ok {
				t.Errorf("%s: no resource type for %s", name, a)
			}
		}
		for _, a := range op.Key {
			if !strings.HasPrefix(a, "kms:") {
				t.Errorf("%s: Key lists %s, no KMS action", name, a)
			}
		}
	}
}

// noResourceField are the operations iam.Call cannot name a resource of
// yet: the doctor's reads of the trigger rule and the roles' policies.
var noResourceField = map[string]bool{
	"eventbridge:DescribeRule": true, "eventbridge:ListTargetsByRule": true,
	"iam:GetRolePolicy": true, "iam:ListRolePolicies": true, "iam:ListAttachedRolePolicies": true,
}

func TestAuthorizeErrors(t *testing.T) {
	d := azDeployment()
	noRegion := d
	noRegion.Region = ""
	tests := []struct {
		name string
		d    Deployment
		call Call
		want string
	}{
		{"unknown operation", d, Call{Service: "s3", Operation: "Frobnicate", Bucket: azBucket}, "no IAM mapping for s3:Frobnicate"},
		{"unknown service", d, Call{Service: "sns", Operation: "Publish"}, "no IAM mapping for sns:Publish"},
		{"CopyObject: no copy source in a Call", d, Call{Service: "s3", Operation: "CopyObject", Bucket: azBucket, Key: "k"}, "no IAM mapping for s3:CopyObject"},
		{"no region", noRegion, Call{Service: "s3", Operation: "GetObject", Bucket: azBucket, Key: "k"}, "needs a partition, region and account"},
		{"no bucket", d, Call{Service: "s3", Operation: "GetObject", Key: "k"}, "s3:GetObject: the call names no Bucket"},
		{"no key", d, Call{Service: "s3", Operation: "PutObject", Bucket: azBucket}, "s3:PutObject: the call names no object Key"},
		{"no bucket for a listing", d, Call{Service: "s3", Operation: "ListObjectsV2", Prefix: "cdc/"}, "s3:ListObjectsV2: the call names no Bucket"},
		{"no table", d, Call{Service: "dynamodb", Operation: "Scan"}, "dynamodb:Scan: the call names no Table"},
		{"a table ARN of another service", d, Call{Service: "dynamodb", Operation: "Scan", Table: "arn:aws:s3:::Orders"}, "is not a DynamoDB ARN"},
		{"a stream ARN for a table", d, Call{Service: "dynamodb", Operation: "DescribeTable", Table: ddb(azStream)}, "Table \"" + ddb(azStream) + "\": want a resource like"},
		{"no stream", d, Call{Service: "dynamodbstreams", Operation: "GetRecords"}, "dynamodbstreams:GetRecords: the call names no Stream"},
		{"a table ARN for a stream", d, Call{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: ddb("table/Orders")}, "Stream \"" + ddb("table/Orders") + "\": want a resource like"},
		{"no export", d, Call{Service: "dynamodb", Operation: "DescribeExport"}, "dynamodb:DescribeExport: the call names no Export"},
		{"no queue", d, Call{Service: "sqs", Operation: "SendMessage"}, "sqs:SendMessage: the call names no Queue"},
		{"a queue URL without an account", d, Call{Service: "sqs", Operation: "SendMessage", Queue: "https://sqs.us-east-1.amazonaws.com/queues/q"}, "is not a queue URL"},
		{"no function", d, Call{Service: "lambda", Operation: "Invoke"}, "lambda:Invoke: the call names no Function"},
		{"an ARN of another service for a function", d, Call{Service: "lambda", Operation: "Invoke", Function: "arn:aws:sqs:us-east-1:111122223333:q"}, "is not a Lambda function ARN"},
		{"no secret", d, Call{Service: "secretsmanager", Operation: "GetSecretValue"}, "the call names no Secret"},
		{"an unknown secret name", d, Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "nope"}, `Secret "nope": the deployment knows no secret by that name`},
		{"no log group", d, Call{Service: "cloudwatchlogs", Operation: "FilterLogEvents"}, "the call names no LogGroup"},
		{"no log stream", d, Call{Service: "cloudwatchlogs", Operation: "PutLogEvents", LogGroup: "/aws/lambda/streamer"}, "the call names no LogGroup and LogStream"},
		{"a rule", d, Call{Service: "eventbridge", Operation: "DescribeRule"}, "eventbridge:DescribeRule: iam.Call has no field for the rule's name"},
		{"a role", d, Call{Service: "iam", Operation: "GetRolePolicy"}, "iam:GetRolePolicy: iam.Call has no field for the role's name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.Authorize(tc.call)
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", got, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestAuthorizeNormalisesDynamoDBLocal: DynamoDB Local's ARNs name its
// own region (ddblocal) and account; the request AWS would evaluate
// names the deployment's, with the table and the stream label kept.
func TestAuthorizeNormalisesDynamoDBLocal(t *testing.T) {
	d := azDeployment()
	d.TableKeys = nil
	tests := []struct {
		name string
		call Call
		want string
	}{
		{"stream", Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: azLocalTable + "/stream/2026-11-01T00:00:00.000"},
			"arn:aws:dynamodb:" + simRegion + ":" + simAccount + ":table/Orders/stream/2026-11-01T00:00:00.000"},
		{"table", Call{Service: "dynamodb", Operation: "DescribeTable", Table: azLocalTable}, "arn:aws:dynamodb:" + simRegion + ":" + simAccount + ":table/Orders"},
		{"export", Call{Service: "dynamodb", Operation: "DescribeExport", Export: azLocalTable + "/export/01795449600123-5f1c2e3a"},
			"arn:aws:dynamodb:" + simRegion + ":" + simAccount + ":table/Orders/export/01795449600123-5f1c2e3a"},
		{"an AWS stream ARN is kept", Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: "arn:aws:dynamodb:eu-west-1:210987654321:" + azStream},
			"arn:aws:dynamodb:eu-west-1:210987654321:" + azStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Authorize(tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Resource != tc.want {
				t.Errorf("got %+v, want one request on %s", got, tc.want)
			}
		})
	}
	// The table's key is found by the name in DynamoDB Local's stream ARN.
	d.TableKeys = map[string]string{simTable: azTableKey}
	got, err := d.Authorize(Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: azLocalTable + "/stream/2026-11-01T00:00:00.000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Resource != azTableKey {
		t.Errorf("got %+v, want GetRecords and the table key's kms:Decrypt", got)
	}
}

// TestNotFoundOnlyFor404: the listing that makes S3 answer 404 is a
// request of a read that found nothing, and of no other.
func TestNotFoundOnlyFor404(t *testing.T) {
	d := azDeployment()
	for _, status := range []int{0, 200, 304, 403, 404, 500} {
		for _, op := range []string{"GetObject", "HeadObject", "PutObject"} {
			got, err := d.Authorize(Call{Service: "s3", Operation: op, Bucket: azBucket, Key: "k", Status: status})
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, a := range got {
				listed = listed || a.Action == "s3:ListBucket"
			}
			if want := status == 404 && op != "PutObject"; listed != want {
				t.Errorf("%s answering %d: s3:ListBucket requested %v, want %v", op, status, listed, want)
			}
		}
	}
}

// resourceTypes are the Service Authorization Reference's resource type
// each action's resource must match ("" for "*").
var resourceTypes = map[string]string{
	"s3:GetObject": "object", "s3:GetObjectVersion": "object", "s3:PutObject": "object", "s3:AbortMultipartUpload": "object",
	"s3:DeleteObject": "object", "s3:DeleteObjectVersion": "object",
	"s3:ListBucket": "bucket", "s3:GetBucketNotification": "bucket", "s3:CreateBucket": "bucket",
	"dynamodb:DescribeExport": "export", "dynamodb:DescribeStream": "stream", "dynamodb:GetShardIterator": "stream", "dynamodb:GetRecords": "stream",
	// ListExports' optional table resource type matches "*".
	"dynamodb:ListStreams": "", "dynamodb:ListExports": "table",
	"lambda:InvokeFunction": "function", "lambda:GetFunctionConfiguration": "function", "lambda:GetPolicy": "function", "lambda:ListEventSourceMappings": "",
	"secretsmanager:GetSecretValue": "Secret", "cloudformation:DescribeStacks": "stack", "cloudwatch:GetMetricStatistics": "",
	"logs:FilterLogEvents": "log-group", "logs:CreateLogStream": "log-stream", "logs:PutLogEvents": "log-stream",
	"kms:Decrypt": "key", "kms:GenerateDataKey": "key",
}

func resourceTypeOf(action string) string {
	if t, ok := resourceTypes[action]; ok {
		return t
	}
	switch strings.SplitN(action, ":", 2)[0] {
	case "dynamodb":
		return "table"
	case "sqs":
		return "queue"
	}
	return "?"
}

// exactly is a policy allowing one action on one resource only with
// the context's values. mismatch, when set, is the one key whose
// condition wants another value.
func exactly(a Authorization, mismatch string) map[string]any {
	cond := map[string]map[string]any{}
	for k, v := range a.Context {
		s := v.(string)
		op := "StringEquals"
		switch k {
		case "aws:SecureTransport":
			op = "Bool"
			if k == mismatch {
				s = "false"
			}
		case "s3:TlsVersion":
			op = "NumericEquals"
			if k == mismatch {
				s = "1.1"
			}
		case "aws:SourceArn":
			op = "ArnEquals"
			if k == mismatch {
				s += "-other"
			}
		default:
			if k == mismatch {
				s += "-other"
			}
		}
		if cond[op] == nil {
			cond[op] = map[string]any{}
		}
		cond[op][k] = s
	}
	st := map[string]any{"Effect": "Allow", "Action": a.Action, "Resource": a.Resource}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{st}}
}

// TestAuthorizationsAreValidForAWS evaluates every request Authorize
// gives for the sample calls with the IAM policy simulator, built on
// AWS's service authorization data, under a policy allowing exactly that
// action on that resource with those condition values: each is Allowed,
// on the resource type the action supports, with every condition key
// applying to the action (none ignored); and each condition key counts:
// the same policy wanting another value of any one key denies it.
// Unknown actions, resource types an action does not support and
// misspelt keys would fail here.
func TestAuthorizationsAreValidForAWS(t *testing.T) {
	sim := iamsim.Require(t)
	const principal = "arn:aws:iam::" + simAccount + ":role/caller"
	d := azDeployment()
	type check struct {
		what string
		want iamsim.Decision
		a    Authorization
	}
	var checks []check
	var reqs []iamsim.Request
	for _, tc := range azCases() {
		got, err := d.Authorize(tc.call)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, a := range got {
			keys := []string{""}
			for k := range a.Context {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				req := iamsim.Request{Principal: principal, Action: a.Action, Resource: a.Resource, Context: a.Context,
					IdentityPolicies: []iamsim.Policy{{Name: "exactly", Document: exactly(a, k)}}}
				if strings.HasPrefix(a.Action, "kms:") {
					req.ResourcePolicy = keyPolicy
				}
				want, what := iamsim.Allowed, tc.name
				if k != "" {
					want, what = iamsim.ImplicitlyDenied, tc.name+", another "+k
				}
				checks = append(checks, check{what, want, a})
				reqs = append(reqs, req)
			}
		}
	}
	res, err := sim.Evaluate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range checks {
		r := res[i]
		ctx, _ := json.Marshal(c.a.Context)
		if r.Decision != c.want {
			t.Errorf("%s: %s on %s with %s: got %s, want %s: %s", c.what, c.a.Action, c.a.Resource, ctx, r.Decision, c.want, r.Explanation)
			continue
		}
		if c.want != iamsim.Allowed {
			continue
		}
		if len(r.IgnoredContextKeys) > 0 {
			t.Errorf("%s: %s on %s: context keys %v do not apply to the action", c.what, c.a.Action, c.a.Resource, r.IgnoredContextKeys)
		}
		if want := resourceTypeOf(c.a.Action); r.ResourceType != want {
			t.Errorf("%s: %s on %s: resource type %q, want %q", c.what, c.a.Action, c.a.Resource, r.ResourceType, want)
		}
	}
	t.Logf("%d requests evaluated", len(reqs))
}

// deploymentOf is the Deployment of a stack deployed() describes: its
// bucket's and table's keys, and the Databricks secret by name.
func deploymentOf(r Resources) Deployment {
	d := Deployment{Partition: r.Partition, Region: r.Region, Account: r.Account,
		Secrets: map[string]string{"databricks/pipeline": simARN("secretsmanager", "secret:databricks/pipeline-AbCdEf")}}
	if r.KeyARN != "" {
		d.BucketKeys = map[string]string{r.BucketName: r.KeyARN}
	}
	if r.TableKeyARN != "" {
		d.TableKeys = map[string]string{r.TableName: r.TableKeyARN}
	}
	if r.SecretKeyARN != "" {
		d.SecretKeys = map[string]string{d.Secrets["databricks/pipeline"]: r.SecretKeyARN}
	}
	return d
}

// TestAuthorizedCallsOfTheRoles authorizes calls the functions' code and
// AWS on their behalf make, named as the local endpoints record them
// (DynamoDB Local's stream ARN, queue URLs, the secret's name), and
// evaluates every request against the role's policy, the bucket policy
// and the key policy: what Authorize derives is what the roles grant.
func TestAuthorizedCallsOfTheRoles(t *testing.T) {
	sim := iamsim.Require(t)
	r := deployed("cdc", true, true)
	d := deploymentOf(r)
	k := keysFor(t, r)
	localStream := "arn:aws:dynamodb:ddblocal:000000000000:table/" + simTable + "/stream/2026-11-01T00:00:00.000"
	queueURL := func(arn string) string {
		return "https://sqs." + simRegion + ".amazonaws.com/" + simAccount + "/" + arn[strings.LastIndex(arn, ":")+1:]
	}
	s3 := func(op, key string) Call { return Call{Service: "s3", Operation: op, Bucket: r.BucketName, Key: key} }
	logs := func(group string) []Call {
		return []Call{
			{Service: "cloudwatchlogs", Operation: "CreateLogStream", LogGroup: group, LogStream: "2026/11/23/[$LATEST]0123"},
			{Service: "cloudwatchlogs", Operation: "PutLogEvents", LogGroup: group, LogStream: "2026/11/23/[$LATEST]0123"},
		}
	}
	missing := func(c Call) Call { c.Status = 404; return c }
	version := func(c Call) Call { c.VersionID = "3HL4kqtJvjVBH40Nrjfkd"; return c }
	roles := []struct {
		name, role string
		policy     []Statement
		allowed    []Call
		denied     []Call
	}{
		{"streamer", r.StreamerRoleARN, Streamer(r), append([]Call{
			s3("PutObject", k.data), s3("PutObject", k.errs), s3("PutObject", k.malformed),
			{Service: "dynamodbstreams", Operation: "ListStreams", Table: simTable},
			{Service: "dynamodbstreams", Operation: "DescribeStream", Stream: localStream},
			{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: localStream},
			{Service: "dynamodbstreams", Operation: "GetRecords", Stream: localStream},
			{Service: "sqs", Operation: "SendMessage", Queue: queueURL(r.StreamerQueueARN)},
		}, logs(r.StreamerLogGroup)...), []Call{s3("PutObject", k.export), s3("GetObject", k.data)}},
		{"forwarder", r.ForwarderRoleARN, Forwarder(r), append([]Call{
			version(s3("GetObject", k.data)), s3("GetObject", k.data), missing(version(s3("HeadObject", k.data))), missing(s3("GetObject", k.snapshot)),
			{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "databricks/pipeline"},
			{Service: "sqs", Operation: "SendMessage", Queue: queueURL(r.ForwarderQueueARN)},
		}, logs(r.ForwarderLogGroup)...), []Call{s3("PutObject", k.data), s3("GetObject", k.errs)}},
		{"exportplanner", r.PlannerRoleARN, ExportPlanner(r), append([]Call{
			s3("GetObject", k.summary), missing(s3("GetObject", k.filesManifest)),
			{Service: "dynamodb", Operation: "DescribeExport", Export: "arn:aws:dynamodb:ddblocal:000000000000:table/" + simTable + "/export/" + simExportID},
			{Service: "dynamodb", Operation: "DescribeTable", Table: simTable},
			{Service: "lambda", Operation: "Invoke", Function: r.ConverterFunctionARN},
			{Service: "sqs", Operation: "SendMessage", Queue: queueURL(r.PlannerQueueARN)},
		}, logs(r.PlannerLogGroup)...), []Call{version(s3("GetObject", k.summary))}},
		{"exportconverter", r.ConverterRoleARN, ExportConverter(r), append([]Call{
			s3("GetObject", k.export), s3("CreateMultipartUpload", k.snapshot), s3("UploadPart", k.snapshot),
			s3("CompleteMultipartUpload", k.snapshot), s3("AbortMultipartUpload", k.snapshotErrors),
			{Service: "sqs", Operation: "SendMessage", Queue: queueURL(r.ConverterQueueARN)},
		}, logs(r.ConverterLogGroup)...), []Call{s3("CreateMultipartUpload", k.data)}},
	}
	var checks []iamsim.Check
	for _, role := range roles {
		policies := []iamsim.Policy{{Name: role.name, Document: Policy(role.policy)}}
		for _, set := range []struct {
			calls []Call
			want  iamsim.Decision
		}{{role.allowed, iamsim.Allowed}, {role.denied, iamsim.ImplicitlyDenied}} {
			for _, c := range set.calls {
				got, err := d.Authorize(c)
				if err != nil {
					t.Fatalf("%s: %v", role.name, err)
				}
				if set.want != iamsim.Allowed {
					got = got[:1] // the call's own action; the key's use follows it
				}
				for _, a := range got {
					req := iamsim.Request{Principal: role.role, IdentityPolicies: policies, Action: a.Action, Resource: a.Resource, Context: a.Context}
					switch strings.SplitN(a.Action, ":", 2)[0] {
					case "s3":
						req.ResourcePolicy = bucketPolicy(r)
					case "kms":
						req.ResourcePolicy = keyPolicy
					}
					checks = append(checks, iamsim.Check{Name: role.name + ": " + c.Operation + " " + c.Key + c.Stream + c.Queue, Request: req, Want: set.want})
				}
			}
		}
	}
	t.Logf("%d requests evaluated", len(checks))
	sim.Expect(t, checks)
}
