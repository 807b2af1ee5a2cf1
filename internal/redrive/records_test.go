package redrive

import (
	"strings"
	"testing"
)

// awsExample is the on-failure record of AWS's documentation, as
// Powertools keeps it (tests/events/dynamoStreamLambdaInvocationEvent.json).
const awsExample = `{
  "requestContext": {
    "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
    "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
    "condition": "RetryAttemptsExhausted",
    "approximateInvokeCount": 1
  },
  "responseContext": {
    "statusCode": 200,
    "executedVersion": "$LATEST",
    "functionError": "Unhandled"
  },
  "version": "1.0",
  "timestamp": "2019-11-14T00:13:49Z",
  "DDBStreamBatchInfo": {
    "shardId": "shardId-00000001573689847184-864758bb",
    "startSequenceNumber": "800000000003126276362",
    "endSequenceNumber": "800000000003126276362",
    "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
    "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
    "batchSize": 1,
    "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
  }
}`

func TestParseStreamBatchFailure(t *testing.T) {
	f, err := ParseStreamBatchFailure(awsExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, expect string }{
		{"shard", f.Batch.ShardID, "shardId-00000001573689847184-864758bb"},
		{"start", f.Batch.StartSequenceNumber, "800000000003126276362"},
		{"end", f.Batch.EndSequenceNumber, "800000000003126276362"},
		{"stream", f.Batch.StreamARN, "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"},
		{"condition", f.RequestContext.Condition, "RetryAttemptsExhausted"},
		{"function error", f.ResponseContext.FunctionError, "Unhandled"},
		{"first arrival", f.Batch.ApproximateArrivalOfFirstRecord, "2019-11-14T00:13:19Z"},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %q, expect %q", c.field, c.got, c.expect)
		}
	}
	if f.Batch.BatchSize != 1 {
		t.Errorf("batch size: got %d, expect 1", f.Batch.BatchSize)
	}
	bad := []struct{ name, body, expect string }{
		{"reversed range", strings.Replace(awsExample, `"startSequenceNumber": "800000000003126276362"`, `"startSequenceNumber": "800000000003126276363"`, 1), "after endSequenceNumber"},
		{"not a stream", strings.Replace(awsExample, "table/mytable/stream/", "table/mytable/export/", 1), "not a DynamoDB stream ARN"},
		{"letters", strings.Replace(awsExample, `"endSequenceNumber": "800000000003126276362"`, `"endSequenceNumber": "8e9"`, 1), "endSequenceNumber"},
		{"Kinesis record", `{"KinesisBatchInfo":{"shardId":"shardId-000000000001"}}`, "startSequenceNumber"},
	}
	for _, tc := range bad {
		if _, err := ParseStreamBatchFailure(tc.body); err == nil || !strings.Contains(err.Error(), tc.expect) {
			t.Errorf("%s: got %v, expect an error containing %q", tc.name, err, tc.expect)
		}
	}
}

func TestAsyncEvent(t *testing.T) {
	event := `{"detail-type":"Object Created","source":"aws.s3","detail":{}}`
	tests := []struct {
		name, body, payload, condition, lastError, err string
	}{
		{"invocation record", `{"version":"1.0","timestamp":"2019-11-24T21:52:47.333Z","requestContext":{"requestId":"8ea123e4","functionArn":"arn:aws:lambda:sa-east-1:123456678912:function:event-destinations:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":` + event + `,"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Handled"},"responsePayload":{"errorMessage":"I am failing!","errorType":"Error"}}`,
			event, "RetriesExhausted", "I am failing!", ""},
		{"dead-lettered event", event, event, "", "", ""},
		{"S3 notification", `{"Records":[]}`, `{"Records":[]}`, "", "", ""},
		{"record without payload", `{"requestContext":{"condition":"EventAgeExceeded"}}`, "", "EventAgeExceeded", "", "no requestPayload"},
		{"something else", `{"a":1}`, "", "", "", "neither"},
		{"not JSON", `{`, "", "", "", "not JSON"},
	}
	for _, tc := range tests {
		payload, rec, err := AsyncEvent(tc.body)
		var condition, lastError string
		if rec != nil {
			condition, lastError = rec.RequestContext.Condition, rec.ErrorMessage()
		}
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		for _, c := range []struct{ field, got, expect string }{
			{"payload", string(payload), tc.payload},
			{"condition", condition, tc.condition},
			{"last error", lastError, tc.lastError},
		} {
			if c.got != c.expect {
				t.Errorf("%s: %s: got %q, expect %q", tc.name, c.field, c.got, c.expect)
			}
		}
		if !strings.Contains(errText, tc.err) || (tc.err == "" && err != nil) {
			t.Errorf("%s: error %v, expect one containing %q", tc.name, err, tc.err)
		}
	}
}

func TestCompareSequence(t *testing.T) {
	tests := []struct {
		a, b   string
		expect int
	}{
		{"9", "10", -1},
		{"800000000003126276362", "800000000003126276362", 0},
		{"0000000000000000000000000000000000000100", "99", 1},
		{"442158450000000000000002", "442158450000000000000001", 1},
	}
	for _, tc := range tests {
		if got := compareSequence(tc.a, tc.b); got != tc.expect {
			t.Errorf("compare(%s, %s): got %d, expect %d", tc.a, tc.b, got, tc.expect)
		}
	}
}
