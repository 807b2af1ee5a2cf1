package requestlog_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration/requestlog"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// principals are the test's access keys.
var principals = map[string]string{"LOCALSTREAMER": "streamer", "LOCALBACKFILL": "backfill"}

// authorization is a SigV4 Authorization header for key and the scope's
// service (the signature is not checked here).
func authorization(key, service string) string {
	return "AWS4-HMAC-SHA256 Credential=" + key + "/20250101/us-east-1/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"
}

// check compares what l recorded with want, call by call.
func check(t *testing.T, l *requestlog.Log, want []authz.Recorded) {
	t.Helper()
	got := l.Entries(t.Name())
	for i := range max(len(got), len(want)) {
		var g, w authz.Recorded
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
			w.Where = t.Name()
		}
		if g != w {
			t.Errorf("call %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

const streamARN = "arn:aws:dynamodb:ddblocal:000000000000:table/Orders/stream/2025-01-01T00:00:00.000"

// TestParse sends each request through Handler to an endpoint that
// answers status, and checks what is recorded for it and that the
// endpoint got the body whole.
func TestParse(t *testing.T) {
	type call = iam.Call
	tests := []struct {
		name          string
		method, url   string
		auth          string
		target, body  string
		header        map[string]string
		status        int
		wantPrincipal string
		want          []call
	}{
		// S3, path style.
		{name: "GetObject, key decoded", method: "GET", url: "/cdc-local/cdc/data/a%20b+c.json?x-id=GetObject", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "GetObject", Bucket: "cdc-local", Key: "cdc/data/a b+c.json"}}},
		{name: "GetObject of a version", method: "GET", url: "/b/k?versionId=v%2B1&x-id=GetObject", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k", VersionID: "v+1"}}},
		{name: "GetObject of a part", method: "GET", url: "/b/k?partNumber=2", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
		{name: "HeadObject answered 404", method: "HEAD", url: "/b/missing", auth: authorization("LOCALSTREAMER", "s3"), status: 404,
			want: []call{{Service: "s3", Operation: "HeadObject", Bucket: "b", Key: "missing", Status: 404}}},
		{name: "key beginning with a slash", method: "HEAD", url: "/b//k", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "HeadObject", Bucket: "b", Key: "/k"}}},
		{name: "PutObject", method: "PUT", url: "/b/cdc/x.json.gz?x-id=PutObject", auth: authorization("LOCALSTREAMER", "s3"), body: "data",
			want: []call{{Service: "s3", Operation: "PutObject", Bucket: "b", Key: "cdc/x.json.gz"}}},
		{name: "ListObjectsV2 with a prefix", method: "GET", url: "/b?list-type=2&prefix=cdc%2Ferrors%2F&continuation-token=t&max-keys=10", auth: authorization("LOCALBACKFILL", "s3"),
			wantPrincipal: "backfill", want: []call{{Service: "s3", Operation: "ListObjectsV2", Bucket: "b", Prefix: "cdc/errors/"}}},
		{name: "ListObjectsV2 without a prefix, trailing slash", method: "GET", url: "/b/?list-type=2", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListObjectsV2", Bucket: "b"}}},
		{name: "ListObjects", method: "GET", url: "/b?prefix=p&marker=m", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListObjects", Bucket: "b", Prefix: "p"}}},
		{name: "list-type other than 2", method: "GET", url: "/b?list-type=3", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 GET /b?list-type is no operation recorded here", Bucket: "b"}}},
		{name: "ListObjectVersions", method: "GET", url: "/b?versions&prefix=p", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListObjectVersions", Bucket: "b", Prefix: "p"}}},
		{name: "ListMultipartUploads", method: "GET", url: "/b?uploads", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListMultipartUploads", Bucket: "b"}}},
		{name: "CreateMultipartUpload", method: "POST", url: "/b/k?uploads", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "CreateMultipartUpload", Bucket: "b", Key: "k"}}},
		{name: "UploadPart", method: "PUT", url: "/b/k?partNumber=1&uploadId=u1&x-id=UploadPart", auth: authorization("LOCALSTREAMER", "s3"), body: "part",
			want: []call{{Service: "s3", Operation: "UploadPart", Bucket: "b", Key: "k"}}},
		{name: "UploadPart without a part number", method: "PUT", url: "/b/k?uploadId=u1", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 PUT /b/k?uploadId is no operation recorded here", Bucket: "b", Key: "k"}}},
		{name: "CompleteMultipartUpload", method: "POST", url: "/b/k?uploadId=u1", auth: authorization("LOCALSTREAMER", "s3"), body: "<CompleteMultipartUpload/>",
			want: []call{{Service: "s3", Operation: "CompleteMultipartUpload", Bucket: "b", Key: "k"}}},
		{name: "AbortMultipartUpload", method: "DELETE", url: "/b/k?uploadId=u1&x-id=AbortMultipartUpload", auth: authorization("LOCALSTREAMER", "s3"), status: 204,
			want: []call{{Service: "s3", Operation: "AbortMultipartUpload", Bucket: "b", Key: "k", Status: 204}}},
		{name: "ListParts", method: "GET", url: "/b/k?uploadId=u1&max-parts=5", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListParts", Bucket: "b", Key: "k"}}},
		{name: "DeleteObject", method: "DELETE", url: "/b/k?x-id=DeleteObject", auth: authorization("LOCALSTREAMER", "s3"), status: 204,
			want: []call{{Service: "s3", Operation: "DeleteObject", Bucket: "b", Key: "k", Status: 204}}},
		{name: "DeleteObjects", method: "POST", url: "/b?delete", auth: authorization("LOCALSTREAMER", "s3"), body: "<Delete/>",
			want: []call{{Service: "s3", Operation: "DeleteObjects", Bucket: "b"}}},
		{name: "CopyObject reads its source", method: "PUT", url: "/b/dst?x-id=CopyObject", auth: authorization("LOCALSTREAMER", "s3"),
			header: map[string]string{"X-Amz-Copy-Source": "src/a%2Bb/c%20d.json?versionId=v%2B2"},
			want: []call{{Service: "s3", Operation: "CopyObject", Bucket: "b", Key: "dst"},
				{Service: "s3", Operation: "GetObject", Bucket: "src", Key: "a+b/c d.json", VersionID: "v+2"}}},
		{name: "CopyObject, source with a leading slash", method: "PUT", url: "/b/dst", auth: authorization("LOCALSTREAMER", "s3"),
			header: map[string]string{"X-Amz-Copy-Source": "/src/k"},
			want:   []call{{Service: "s3", Operation: "CopyObject", Bucket: "b", Key: "dst"}, {Service: "s3", Operation: "GetObject", Bucket: "src", Key: "k"}}},
		{name: "CopyObject from an access point", method: "PUT", url: "/b/dst", auth: authorization("LOCALSTREAMER", "s3"),
			header: map[string]string{"X-Amz-Copy-Source": "arn%3Aaws%3As3%3Aus-east-1%3A1%3Aaccesspoint%2Fap%2Fobject%2Fk"},
			want: []call{{Service: "s3", Operation: "CopyObject", Bucket: "b", Key: "dst"},
				{Service: "s3", Operation: "unknown: copy source arn%3Aaws%3As3%3Aus-east-1%3A1%3Aaccesspoint%2Fap%2Fobject%2Fk is not bucket/key"}}},
		{name: "CopyObject from a bucket without key", method: "PUT", url: "/b/dst", auth: authorization("LOCALSTREAMER", "s3"),
			header: map[string]string{"X-Amz-Copy-Source": "src"},
			want:   []call{{Service: "s3", Operation: "CopyObject", Bucket: "b", Key: "dst"}, {Service: "s3", Operation: "unknown: copy source src is not bucket/key", Bucket: "src"}}},
		{name: "UploadPartCopy", method: "PUT", url: "/b/k?partNumber=1&uploadId=u&x-id=UploadPartCopy", auth: authorization("LOCALSTREAMER", "s3"),
			header: map[string]string{"X-Amz-Copy-Source": "src/k"},
			want:   []call{{Service: "s3", Operation: "UploadPartCopy", Bucket: "b", Key: "k"}, {Service: "s3", Operation: "GetObject", Bucket: "src", Key: "k"}}},
		{name: "HeadBucket", method: "HEAD", url: "/b", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "HeadBucket", Bucket: "b"}}},
		{name: "CreateBucket", method: "PUT", url: "/b", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "CreateBucket", Bucket: "b"}}},
		{name: "DeleteBucket", method: "DELETE", url: "/b", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "DeleteBucket", Bucket: "b"}}},
		{name: "GetBucketNotificationConfiguration", method: "GET", url: "/b?notification", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "GetBucketNotificationConfiguration", Bucket: "b"}}},
		{name: "PutBucketPolicy", method: "PUT", url: "/b?policy", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "PutBucketPolicy", Bucket: "b"}}},
		{name: "DeleteBucketLifecycle", method: "DELETE", url: "/b?lifecycle", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "DeleteBucketLifecycle", Bucket: "b"}}},
		{name: "bucket subresource without that method", method: "DELETE", url: "/b?location", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 DELETE /b?location is no operation recorded here", Bucket: "b"}}},
		{name: "GetObjectTagging", method: "GET", url: "/b/k?tagging", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "GetObjectTagging", Bucket: "b", Key: "k"}}},
		{name: "RestoreObject", method: "POST", url: "/b/k?restore", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "RestoreObject", Bucket: "b", Key: "k"}}},
		{name: "SelectObjectContent", method: "POST", url: "/b/k?select&select-type=2", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "SelectObjectContent", Bucket: "b", Key: "k"}}},
		{name: "ListBuckets", method: "GET", url: "/?x-id=ListBuckets", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "ListBuckets"}}},
		{name: "unknown object subresource", method: "GET", url: "/b/k?foo=1", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 GET /b/k?foo is no operation recorded here", Bucket: "b", Key: "k"}}},
		{name: "two object subresources", method: "GET", url: "/b/k?tagging&acl", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 GET /b/k?acl&tagging is no operation recorded here", Bucket: "b", Key: "k"}}},
		{name: "POST to a bucket", method: "POST", url: "/b", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 POST /b is no operation recorded here", Bucket: "b"}}},
		{name: "PUT at the root", method: "PUT", url: "/", auth: authorization("LOCALSTREAMER", "s3"),
			want: []call{{Service: "s3", Operation: "unknown: S3 PUT / is no operation recorded here"}}},
		{name: "presigned GetObject", method: "GET", url: "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=LOCALBACKFILL%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
			wantPrincipal: "backfill", want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
		{name: "unsigned S3 request", method: "GET", url: "/b/k",
			wantPrincipal: requestlog.Anonymous, want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},

		// JSON protocols.
		{name: "DynamoDB PutItem", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.PutItem",
			body: `{"TableName":"Orders","Item":{"pk":{"S":"1"}}}`, want: []call{{Service: "dynamodb", Operation: "PutItem", Table: "Orders"}}},
		{name: "DynamoDB answered 400", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.DescribeTable",
			body: `{"TableName":"Nope"}`, status: 400, want: []call{{Service: "dynamodb", Operation: "DescribeTable", Table: "Nope", Status: 400}}},
		{name: "ExportTableToPointInTime names the table by ARN", method: "POST", url: "/", auth: authorization("LOCALBACKFILL", "dynamodb"), target: "DynamoDB_20120810.ExportTableToPointInTime",
			body: `{"TableArn":"arn:aws:dynamodb:ddblocal:000000000000:table/Orders","S3Bucket":"b"}`, wantPrincipal: "backfill",
			want: []call{{Service: "dynamodb", Operation: "ExportTableToPointInTime", Table: "arn:aws:dynamodb:ddblocal:000000000000:table/Orders"}}},
		{name: "DescribeExport", method: "POST", url: "/", auth: authorization("LOCALBACKFILL", "dynamodb"), target: "DynamoDB_20120810.DescribeExport",
			body: `{"ExportArn":"arn:aws:dynamodb:ddblocal:000000000000:table/Orders/export/1"}`, wantPrincipal: "backfill",
			want: []call{{Service: "dynamodb", Operation: "DescribeExport", Export: "arn:aws:dynamodb:ddblocal:000000000000:table/Orders/export/1"}}},
		{name: "ListTables names no table", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.ListTables",
			body: `{}`, want: []call{{Service: "dynamodb", Operation: "ListTables"}}},
		{name: "BatchWriteItem, a call per table", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.BatchWriteItem",
			body: `{"RequestItems":{"Zeta":[],"Alpha":[]}}`,
			want: []call{{Service: "dynamodb", Operation: "BatchWriteItem", Table: "Alpha"}, {Service: "dynamodb", Operation: "BatchWriteItem", Table: "Zeta"}}},
		{name: "BatchGetItem", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.BatchGetItem",
			body: `{"RequestItems":{"Orders":{"Keys":[]}}}`, want: []call{{Service: "dynamodb", Operation: "BatchGetItem", Table: "Orders"}}},
		{name: "TransactWriteItems, a call per table", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.TransactWriteItems",
			body: `{"TransactItems":[{"Put":{"TableName":"B"}},{"Update":{"TableName":"A"}},{"ConditionCheck":{"TableName":"B"}}]}`,
			want: []call{{Service: "dynamodb", Operation: "TransactWriteItems", Table: "B"}, {Service: "dynamodb", Operation: "TransactWriteItems", Table: "A"}}},
		{name: "Streams DescribeStream", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDBStreams_20120810.DescribeStream",
			body: `{"StreamArn":"` + streamARN + `"}`, want: []call{{Service: "dynamodbstreams", Operation: "DescribeStream", Stream: streamARN}}},
		{name: "Streams GetShardIterator", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDBStreams_20120810.GetShardIterator",
			body: `{"StreamArn":"` + streamARN + `","ShardId":"s","ShardIteratorType":"TRIM_HORIZON"}`, want: []call{{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: streamARN}}},
		{name: "Streams GetRecords, stream from the iterator", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDBStreams_20120810.GetRecords",
			body: `{"ShardIterator":"` + streamARN + `|001|c2hhcmQ="}`, want: []call{{Service: "dynamodbstreams", Operation: "GetRecords", Stream: streamARN}}},
		{name: "Streams GetRecords, opaque iterator", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDBStreams_20120810.GetRecords",
			body: `{"ShardIterator":"AAAAopaque"}`, want: []call{{Service: "dynamodbstreams", Operation: `unknown: GetRecords: shard iterator "AAAAopaque" does not begin with a stream ARN`}}},
		{name: "Streams ListStreams", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDBStreams_20120810.ListStreams",
			body: `{"TableName":"Orders"}`, want: []call{{Service: "dynamodbstreams", Operation: "ListStreams", Table: "Orders"}}},
		{name: "SQS SendMessage", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "sqs"), target: "AmazonSQS.SendMessage",
			body: `{"QueueUrl":"http://127.0.0.1:1/000000000000/q","MessageBody":"m"}`, want: []call{{Service: "sqs", Operation: "SendMessage", Queue: "http://127.0.0.1:1/000000000000/q"}}},
		{name: "SQS GetQueueUrl names the queue", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "sqs"), target: "AmazonSQS.GetQueueUrl",
			body: `{"QueueName":"q"}`, want: []call{{Service: "sqs", Operation: "GetQueueUrl", Queue: "q"}}},
		{name: "Secrets Manager GetSecretValue", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "secretsmanager"), target: "secretsmanager.GetSecretValue",
			body: `{"SecretId":"local/databricks"}`, want: []call{{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "local/databricks"}}},
		{name: "unknown target", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "kms"), target: "TrentService.Decrypt",
			body: `{}`, want: []call{{Operation: "unknown: X-Amz-Target TrentService.Decrypt is no service recorded here"}}},
		{name: "target without an operation", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "sqs"), target: "AmazonSQS.",
			body: `{}`, want: []call{{Service: "sqs", Operation: "unknown: X-Amz-Target AmazonSQS. names no operation"}}},
		{name: "body that is not JSON", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.PutItem",
			body: `TableName=Orders`, want: []call{{Service: "dynamodb", Operation: "unknown: PutItem: body is not JSON: invalid character 'T' looking for beginning of value"}}},
		{name: "empty body", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "dynamodb"), target: "DynamoDB_20120810.PutItem",
			want: []call{{Service: "dynamodb", Operation: "unknown: PutItem: body is not JSON: unexpected end of JSON input"}}},
		{name: "SQS query protocol, no target", method: "POST", url: "/", auth: authorization("LOCALSTREAMER", "sqs"),
			body: `Action=SendMessage`, want: []call{{Service: "sqs", Operation: "unknown: sqs request without X-Amz-Target: POST /"}}},

		// Lambda's REST API.
		{name: "Invoke", method: "POST", url: "/2015-03-31/functions/exportconverter/invocations", auth: authorization("LOCALSTREAMER", "lambda"), body: `{}`, status: 202,
			want: []call{{Service: "lambda", Operation: "Invoke", Function: "exportconverter", Status: 202}}},
		{name: "Invoke by ARN, escaped", method: "POST", url: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aexportplanner/invocations", auth: authorization("LOCALBACKFILL", "lambda"),
			wantPrincipal: "backfill", want: []call{{Service: "lambda", Operation: "Invoke", Function: "arn:aws:lambda:us-east-1:000000000000:function:exportplanner"}}},
		{name: "Invoke with a qualifier", method: "POST", url: "/2015-03-31/functions/streamer/invocations?Qualifier=live", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "Invoke", Function: "streamer:live"}}},
		{name: "Invoke, qualifier already in the name", method: "POST", url: "/2015-03-31/functions/streamer:live/invocations?Qualifier=live", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "Invoke", Function: "streamer:live"}}},
		{name: "Invoke of no function", method: "POST", url: "/2015-03-31/functions//invocations", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "unknown: Invoke: the path names no function"}}},
		{name: "GetFunctionConfiguration", method: "GET", url: "/2015-03-31/functions/forwarder/configuration", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "GetFunctionConfiguration", Function: "forwarder"}}},
		{name: "GetPolicy", method: "GET", url: "/2015-03-31/functions/forwarder/policy", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "GetPolicy", Function: "forwarder"}}},
		{name: "GetFunction", method: "GET", url: "/2015-03-31/functions/forwarder", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "GetFunction", Function: "forwarder"}}},
		{name: "ListFunctions", method: "GET", url: "/2015-03-31/functions/", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "ListFunctions"}}},
		{name: "ListEventSourceMappings", method: "GET", url: "/2015-03-31/event-source-mappings/?EventSourceArn=" + streamARN + "&FunctionName=streamer", auth: authorization("LOCALBACKFILL", "lambda"),
			wantPrincipal: "backfill", want: []call{{Service: "lambda", Operation: "ListEventSourceMappings", Function: "streamer"}}},
		{name: "GetEventSourceMapping", method: "GET", url: "/2015-03-31/event-source-mappings/uuid-1", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "unknown: Lambda GET /2015-03-31/event-source-mappings/uuid-1 is no operation recorded here"}}},
		{name: "DELETE a function", method: "DELETE", url: "/2015-03-31/functions/forwarder", auth: authorization("LOCALSTREAMER", "lambda"),
			want: []call{{Service: "lambda", Operation: "unknown: Lambda DELETE /2015-03-31/functions/forwarder is no operation recorded here"}}},
		{name: "unsigned Invoke", method: "POST", url: "/2015-03-31/functions/streamer/invocations",
			wantPrincipal: requestlog.Anonymous, want: []call{{Service: "lambda", Operation: "Invoke", Function: "streamer"}}},

		// Principals.
		{name: "unknown access key", method: "GET", url: "/b/k", auth: authorization("LOCALNOBODY", "s3"),
			wantPrincipal: "unknown:LOCALNOBODY", want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
		{name: "Authorization without Credential", method: "GET", url: "/b/k", auth: "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
			wantPrincipal: "unknown:", want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
		{name: "SigV2", method: "GET", url: "/b/k", auth: "AWS LOCALSTREAMER:c2ln",
			wantPrincipal: "unknown:", want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
		{name: "credential without a scope", method: "POST", url: "/2015-03-31/functions/f/invocations", auth: "AWS4-HMAC-SHA256 Credential=LOCALSTREAMER, SignedHeaders=host, Signature=ab",
			want: []call{{Service: "lambda", Operation: "Invoke", Function: "f"}}},
		{name: "empty Credential", method: "GET", url: "/b/k", auth: "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab",
			wantPrincipal: "unknown:", want: []call{{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := requestlog.New(principals)
			var got string
			h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("endpoint reading the body: %v", err)
				}
				got = string(b)
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
			}), "")
			r := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.body {
				t.Errorf("endpoint got body %q, want %q", got, tt.body)
			}
			wantPrincipal, wantStatus := tt.wantPrincipal, tt.status
			if wantPrincipal == "" {
				wantPrincipal = "streamer"
			}
			if wantStatus == 0 {
				wantStatus = http.StatusOK
			}
			entries := l.Entries("here")
			if len(entries) != len(tt.want) {
				t.Fatalf("recorded %d calls, want %d: %+v", len(entries), len(tt.want), entries)
			}
			for i, e := range entries {
				want := tt.want[i]
				want.Status = wantStatus
				if e.Principal != wantPrincipal || e.Where != "here" {
					t.Errorf("call %d: principal %q where %q, want %q, %q", i, e.Principal, e.Where, wantPrincipal, "here")
				}
				if e.Call != want {
					t.Errorf("call %d:\n got %+v\nwant %+v", i, e.Call, want)
				}
			}
		})
	}
}
