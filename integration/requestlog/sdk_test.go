package requestlog_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration/lambdaapi"
	"github.com/ddbstream/pipeline/integration/requestlog"
	localsm "github.com/ddbstream/pipeline/integration/secretsmanager"
	"github.com/ddbstream/pipeline/integration/sqsapi"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// sdkConfig signs as key.
func sdkConfig(key string) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, "secret", "")}
}

// TestSDKRequests records the SDK's own requests to the local SQS,
// Secrets Manager and Lambda endpoints behind Handler, which still serve
// them: the shapes parse expects are the ones the SDK sends.
func TestSDKRequests(t *testing.T) {
	ctx := context.Background()
	l := requestlog.New(principals)

	q := sqsapi.New()
	q.CreateQueue("failures")
	sqsSrv := httptest.NewServer(l.Handler(q, ""))
	defer sqsSrv.Close()
	queueURL := sqsapi.URL(sqsSrv.URL, "failures")
	sqsClient := sqs.NewFromConfig(sdkConfig("LOCALBACKFILL"), func(o *sqs.Options) { o.BaseEndpoint = aws.String(sqsSrv.URL) })
	if _, err := sqsClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, WaitTimeSeconds: 0})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive: %v, %+v", err, got)
	}
	if _, err := sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqsClient.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("failures")}); err != nil {
		t.Fatal(err)
	}

	sm := localsm.New(map[string]string{"local/databricks": "{}"})
	smSrv := httptest.NewServer(l.Handler(sm, ""))
	defer smSrv.Close()
	smClient := secretsmanager.NewFromConfig(sdkConfig("LOCALSTREAMER"), func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(smSrv.URL) })
	if _, err := smClient.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("local/databricks")}); err != nil {
		t.Fatal(err)
	}
	if _, err := smClient.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")}); err == nil {
		t.Fatal("missing secret found")
	}

	fns, err := lambdaapi.New(map[string]lambdaapi.Function{
		"exportplanner": {Invoke: func(_ context.Context, p []byte) ([]byte, error, error) { return p, nil, nil }, Environment: map[string]string{"A": "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fns.Close()
	const stream = "arn:aws:dynamodb:ddblocal:000000000000:table/Orders/stream/2025-01-01T00:00:00.000"
	fns.AddMapping(lambdaapi.Mapping{UUID: "u", EventSourceARN: stream, FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:streamer", State: "Enabled"})
	lambdaSrv := httptest.NewServer(l.Handler(fns, ""))
	defer lambdaSrv.Close()
	lambdaClient := lambda.NewFromConfig(sdkConfig("LOCALBACKFILL"), func(o *lambda.Options) { o.BaseEndpoint = aws.String(lambdaSrv.URL) })
	const plannerARN = "arn:aws:lambda:us-east-1:000000000000:function:exportplanner"
	if _, err := lambdaClient.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(plannerARN), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lambdaClient.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("exportplanner"), Qualifier: aws.String("$LATEST"), Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lambdaClient.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lambdaClient.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("exportplanner")}); err != nil {
		t.Fatal(err)
	}

	call := func(principal string, c iam.Call) authz.Recorded {
		return authz.Recorded{Principal: principal, Call: c}
	}
	check(t, l, []authz.Recorded{
		call("backfill", iam.Call{Service: "sqs", Operation: "SendMessage", Queue: queueURL, Status: 200}),
		call("backfill", iam.Call{Service: "sqs", Operation: "ReceiveMessage", Queue: queueURL, Status: 200}),
		call("backfill", iam.Call{Service: "sqs", Operation: "DeleteMessage", Queue: queueURL, Status: 200}),
		call("backfill", iam.Call{Service: "sqs", Operation: "GetQueueUrl", Queue: "failures", Status: 200}),
		call("streamer", iam.Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "local/databricks", Status: 200}),
		call("streamer", iam.Call{Service: "secretsmanager", Operation: "GetSecretValue", Secret: "missing", Status: 400}),
		call("backfill", iam.Call{Service: "lambda", Operation: "Invoke", Function: plannerARN, Status: 200}),
		call("backfill", iam.Call{Service: "lambda", Operation: "Invoke", Function: "exportplanner:$LATEST", Status: 200}),
		call("backfill", iam.Call{Service: "lambda", Operation: "ListEventSourceMappings", Status: 200}),
		call("backfill", iam.Call{Service: "lambda", Operation: "GetFunctionConfiguration", Function: "exportplanner", Status: 200}),
	})
}
