package sqsapi

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/internal/redrive"
	"github.com/ddbstream/pipeline/internal/streamer"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

const streamARN = "arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/2026-11-01T00:00:00.000"

// shard serves one shard's records; a range starting before trim is gone.
type shard struct {
	records []dstypes.Record
	trim    int
}

func (s *shard) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	n, _ := strconv.Atoi(aws.ToString(in.SequenceNumber))
	if n < s.trim {
		return nil, &dstypes.TrimmedDataAccessException{Message: aws.String("The data you are trying to access has been trimmed.")}
	}
	for i, r := range s.records {
		if aws.ToString(r.Dynamodb.SequenceNumber) == aws.ToString(in.SequenceNumber) {
			return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(i))}, nil
		}
	}
	return nil, &dstypes.ResourceNotFoundException{Message: aws.String("not found")}
}

func (s *shard) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	i, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	return &dynamodbstreams.GetRecordsOutput{Records: s.records[i:], NextShardIterator: aws.String(strconv.Itoa(len(s.records)))}, nil
}

func failure(first, last, n int) string {
	return fmt.Sprintf(`{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:streamer","condition":"RetryAttemptsExhausted","approximateInvokeCount":3},`+
		`"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-11-23T17:13:49Z",`+
		`"DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"%d","endSequenceNumber":"%d","approximateArrivalOfFirstRecord":"2026-11-23T17:04:05Z",`+
		`"approximateArrivalOfLastRecord":"2026-11-23T17:04:05Z","batchSize":%d,"streamArn":"%s"}}`, first, last, n, streamARN)
}

// TestRedriveThroughTheRealSDK: ddbstream redrive's library works this
// endpoint through the real SDK client: the batch still in the stream is
// written and its message deleted; the one past the retention is kept
// and visible again for the next run and the queue's alarm.
func TestRedriveThroughTheRealSDK(t *testing.T) {
	e, c, base := client(t)
	ctx := context.Background()
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("streamer-failures")})
	if err != nil {
		t.Fatal(err)
	}
	s := &shard{trim: 100}
	for i := 100; i < 110; i++ {
		s.records = append(s.records, dstypes.Record{EventID: aws.String(strconv.Itoa(i)), EventName: dstypes.OperationTypeModify,
			Dynamodb: &dstypes.StreamRecord{ApproximateCreationDateTime: aws.Time(time.Date(2026, 11, 23, 17, 4, 5, 0, time.UTC)),
				SequenceNumber: aws.String(strconv.Itoa(i)), Keys: map[string]dstypes.AttributeValue{"pk": &dstypes.AttributeValueMemberS{Value: "k"}}}})
	}
	e.Send("streamer-failures", failure(100, 104, 5))
	e.Send("streamer-failures", failure(90, 95, 6))
	bucket := opsfake.NewBucket("lake")
	cfg := streamer.DefaultConfig()
	cfg.Bucket = "lake"
	rep, err := redrive.Run(ctx, redrive.Config{Sources: []redrive.Source{redrive.Streamer}, StreamerQueueURL: aws.ToString(created.QueueUrl),
		Streamer: &cfg, Wait: time.Second}, redrive.Clients{Queue: c, Stream: s, S3: bucket})
	if err != nil {
		t.Fatal(err)
	}
	q := rep.Queues[0]
	for _, f := range []struct {
		field       string
		got, expect any
	}{
		{"received", q.Received, 2},
		{"redriven", q.Redriven, 1},
		{"unreadable", q.Unreadable, 1},
		{"released", q.Released, 1},
		{"objects", len(bucket.Keys()), 1},
		{"left in the queue", len(e.Bodies("streamer-failures")), 1},
		{"queue URL", q.QueueURL, URL(base, "streamer-failures")},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.field, f.got, f.expect)
		}
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl})
	if err != nil || len(out.Messages) != 1 {
		t.Errorf("the kept message is not visible again: %+v, %v", out.Messages, err)
	}
}
