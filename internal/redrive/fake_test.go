package redrive

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

const (
	streamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"
	shardID   = "shardId-00000001795453445000-a1b2c3d4"
)

// fakeStream is a DynamoDB stream of one shard: records in order, a trim
// point before which reads fail as past the retention, and empty pages
// to interleave, as GetRecords may return.
type fakeStream struct {
	mu      sync.Mutex
	records []types.Record
	// trimmed: sequence numbers below it are gone.
	trimmed string
	// pageSize bounds a page below the caller's Limit; emptyEvery
	// answers every n-th read with no records.
	pageSize, emptyEvery int
	reads                int
	closed               bool
	// expireAt answers that read (1-based) with ExpiredIteratorException.
	expireAt int
}

// add appends n records with sequence numbers from seq on, created at
// created.
func (f *fakeStream) add(seq int64, n int, created time.Time) {
	for i := range n {
		s := fmt.Sprintf("%021d", seq+int64(i))
		f.records = append(f.records, types.Record{
			EventID: aws.String(fmt.Sprintf("ev-%d", seq+int64(i))), EventName: types.OperationTypeInsert,
			EventVersion: aws.String("1.1"), EventSource: aws.String("aws:dynamodb"), AwsRegion: aws.String("eu-west-1"),
			Dynamodb: &types.StreamRecord{
				ApproximateCreationDateTime: aws.Time(created),
				Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "item#" + strconv.Itoa(i)}},
				NewImage: map[string]types.AttributeValue{
					"pk":    &types.AttributeValueMemberS{Value: "item#" + strconv.Itoa(i)},
					"price": &types.AttributeValueMemberN{Value: "19.990"},
				},
				SequenceNumber: aws.String(s), SizeBytes: aws.Int64(40), StreamViewType: types.StreamViewTypeNewAndOldImages,
			},
		})
	}
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if aws.ToString(in.StreamArn) != streamARN || aws.ToString(in.ShardId) != shardID {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	seq := aws.ToString(in.SequenceNumber)
	if f.trimmed != "" && compareSequence(seq, f.trimmed) < 0 {
		return nil, &types.TrimmedDataAccessException{Message: aws.String("The data you are trying to access has been trimmed.")}
	}
	pos := len(f.records)
	for i, r := range f.records {
		c := compareSequence(sequenceOf(r), seq)
		if c == 0 && in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			pos = i + 1
			break
		}
		if c >= 0 {
			pos = i
			break
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("it-" + strconv.Itoa(pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.reads == f.expireAt {
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired. The iterator was created over 15 minutes ago.")}
	}
	pos, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(in.ShardIterator), "it-"))
	if err != nil {
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	}
	next := aws.String("it-" + strconv.Itoa(pos))
	if f.emptyEvery > 0 && f.reads%f.emptyEvery == 0 {
		return &dynamodbstreams.GetRecordsOutput{NextShardIterator: next}, nil
	}
	n := int(aws.ToInt32(in.Limit))
	if f.pageSize > 0 {
		n = min(n, f.pageSize)
	}
	end := min(pos+n, len(f.records))
	out := &dynamodbstreams.GetRecordsOutput{Records: append([]types.Record(nil), f.records[pos:end]...)}
	if !(f.closed && end == len(f.records)) {
		out.NextShardIterator = aws.String("it-" + strconv.Itoa(end))
	}
	return out, nil
}

// failureRecord is the mapping's on-failure record for the range
// [first, last] of n records, as AWS documents it.
func failureRecord(first, last string, n int) string {
	return `{
  "requestContext": {
    "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
    "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:streamer",
    "condition": "RetryAttemptsExhausted",
    "approximateInvokeCount": 11
  },
  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
  "version": "1.0",
  "timestamp": "2026-11-23T17:13:49Z",
  "DDBStreamBatchInfo": {
    "shardId": "` + shardID + `",
    "startSequenceNumber": "` + first + `",
    "endSequenceNumber": "` + last + `",
    "approximateArrivalOfFirstRecord": "2026-11-23T17:04:05Z",
    "approximateArrivalOfLastRecord": "2026-11-23T17:04:06Z",
    "batchSize": ` + strconv.Itoa(n) + `,
    "streamArn": "` + streamARN + `"
  }
}`
}

func seq(n int64) string { return fmt.Sprintf("%021d", n) }
