package sqsapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// client is the real SDK client, pointed at the endpoint.
func client(t *testing.T) (*Endpoint, *sqs.Client, string) {
	t.Helper()
	e := New()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	c := sqs.New(sqs.Options{Region: Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	return e, c, srv.URL
}

// TestTheSDKWorksAQueue: create, send, receive (the SDK checks
// MD5OfBody), visibility, a stale receipt handle, visibility back to 0,
// delete, the counts.
func TestTheSDKWorksAQueue(t *testing.T) {
	e, c, base := client(t)
	ctx := context.Background()
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("streamer-failures")})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(created.QueueUrl)
	if url != URL(base, "streamer-failures") {
		t.Errorf("queue URL %s", url)
	}
	body := `{"DDBStreamBatchInfo":{"shardId":"shardId-1"}} é`
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	e.Send("streamer-failures", "second")

	first, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp}})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	if len(first.Messages) != 2 || aws.ToString(first.Messages[0].Body) != body || first.Messages[0].Attributes["ApproximateReceiveCount"] != "1" ||
		first.Messages[0].Attributes["SentTimestamp"] == "" {
		t.Fatalf("received %+v", first.Messages)
	}
	hidden, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil || len(hidden.Messages) != 0 {
		t.Errorf("while hidden: %d messages, %v", len(hidden.Messages), err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "2" || attrs.Attributes["ApproximateNumberOfMessages"] != "0" ||
		attrs.Attributes["QueueArn"] != ARN("streamer-failures") {
		t.Errorf("attributes %v, %v", attrs.Attributes, err)
	}
	// Made visible again, it is received with a new handle; the old one
	// no longer deletes it.
	m := first.Messages[0]
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: created.QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility: %v", err)
	}
	again, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(again.Messages) != 1 || aws.ToString(again.Messages[0].MessageId) != aws.ToString(m.MessageId) ||
		again.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("received again: %+v, %v", again.Messages, err)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: created.QueueUrl, ReceiptHandle: m.ReceiptHandle})
	var stale *types.ReceiptHandleIsInvalid
	if !errors.As(err, &stale) {
		t.Errorf("delete with a stale handle: got %v, expect ReceiptHandleIsInvalid", err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: created.QueueUrl, ReceiptHandle: again.Messages[0].ReceiptHandle}); err != nil {
		t.Errorf("delete: %v", err)
	}
	if got := e.Bodies("streamer-failures"); len(got) != 1 || got[0] != "second" {
		t.Errorf("left %q", got)
	}
}

func TestErrorsAreTheSDKsTypes(t *testing.T) {
	_, c, base := client(t)
	_, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(URL(base, "nope"))})
	var missing *types.QueueDoesNotExist
	var apiErr smithy.APIError
	if !errors.As(err, &missing) || !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" || apiErr.ErrorFault() != smithy.FaultClient {
		t.Errorf("unknown queue: got %v (%T), expect QueueDoesNotExist with the query code", err, err)
	}
	_, err = c.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	if !errors.As(err, &missing) {
		t.Errorf("GetQueueUrl of an unknown queue: got %v", err)
	}
}

// TestLongPoll: a receive waits for a message sent while it waits, and
// for a hidden one to show again.
func TestLongPoll(t *testing.T) {
	e, c, _ := client(t)
	ctx := context.Background()
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
	if err != nil {
		t.Fatal(err)
	}
	type received struct {
		out *sqs.ReceiveMessageOutput
		err error
	}
	got := make(chan received, 1)
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 20, VisibilityTimeout: 1})
		got <- received{out, err}
	}()
	for { // the message is sent once the receive is waiting, not after a pause
		changed := e.PollingChanged()
		if e.Polling() > 0 {
			break
		}
		<-changed
	}
	e.Send("q", "late")
	r := <-got
	if r.err != nil || len(r.out.Messages) != 1 {
		t.Fatalf("long poll: %+v, %v; expect the message sent while it waited", r.out, r.err)
	}
	if n := e.Polling(); n != 0 {
		t.Errorf("Polling after the receive: got %d, expect 0", n)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 3})
	if err != nil || len(out.Messages) != 1 || !strings.Contains(aws.ToString(out.Messages[0].ReceiptHandle), "#2#") {
		t.Errorf("after the visibility timeout: %+v, %v", out.Messages, err)
	}
	empty, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 0})
	if err != nil || len(empty.Messages) != 0 {
		t.Errorf("short poll of a hidden message: %+v, %v", empty.Messages, err)
	}
}
