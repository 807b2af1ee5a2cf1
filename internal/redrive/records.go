package redrive

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// StreamBatchFailure is the record the event source mapping sends to its
// on-failure destination when it gives up on a DynamoDB Streams batch
// (retries or record age exhausted): it describes the batch, never its
// records, which stay in the stream for 24 hours. Its shape is AWS's
// documented one
// (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html;
// the same record as Powertools' test event
// tests/events/dynamoStreamLambdaInvocationEvent.json):
//
//	{"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
//	 "responseContext": {"statusCode", "executedVersion", "functionError"},
//	 "version": "1.0", "timestamp": "2019-11-14T00:13:49Z",
//	 "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
//	   "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "streamArn"}}
type StreamBatchFailure struct {
	RequestContext  RequestContext  `json:"requestContext"`
	ResponseContext ResponseContext `json:"responseContext"`
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	Batch           BatchInfo       `json:"DDBStreamBatchInfo"`
}

// RequestContext says which invocation failed and why Lambda gave up
// (condition: RetryAttemptsExhausted, RecordAgeExceeded, RetriesExhausted,
// EventAgeExceeded, ...).
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's answer.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

// BatchInfo locates the batch in the stream: one shard, the first and
// last sequence numbers, inclusive.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// String names the range for reports.
func (b BatchInfo) String() string {
	return fmt.Sprintf("shard %s, sequence numbers %s to %s (%d records)", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize)
}

// ParseStreamBatchFailure reads an on-failure message body of the
// streamer's event source mapping. It refuses a body that does not
// locate a batch, so that no message is deleted for records it does not
// name.
func ParseStreamBatchFailure(body string) (StreamBatchFailure, error) {
	var f StreamBatchFailure
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		return f, fmt.Errorf("not an event source mapping on-failure record: %w", err)
	}
	b := f.Batch
	var problems []string
	if b.ShardID == "" {
		problems = append(problems, "DDBStreamBatchInfo.shardId is missing")
	}
	if !sequenceNumber(b.StartSequenceNumber) {
		problems = append(problems, fmt.Sprintf("DDBStreamBatchInfo.startSequenceNumber %q is not a sequence number", b.StartSequenceNumber))
	}
	if !sequenceNumber(b.EndSequenceNumber) {
		problems = append(problems, fmt.Sprintf("DDBStreamBatchInfo.endSequenceNumber %q is not a sequence number", b.EndSequenceNumber))
	}
	if !isStreamARN(b.StreamARN) {
		problems = append(problems, fmt.Sprintf("DDBStreamBatchInfo.streamArn %q is not a DynamoDB stream ARN", b.StreamARN))
	}
	if len(problems) == 0 && compareSequence(b.StartSequenceNumber, b.EndSequenceNumber) > 0 {
		problems = append(problems, "startSequenceNumber is after endSequenceNumber")
	}
	if b.BatchSize < 0 {
		problems = append(problems, "DDBStreamBatchInfo.batchSize is negative")
	}
	if len(problems) > 0 {
		return f, errors.New("not an event source mapping on-failure record for a DynamoDB stream: " + strings.Join(problems, "; "))
	}
	return f, nil
}

// InvocationFailure is the record Lambda sends to an asynchronous
// invocation's on-failure destination once it gives up on an event: the
// event itself is requestPayload
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html;
// the example in aws-cdk's aws-lambda-destinations README):
//
//	{"version": "1.0", "timestamp": "...",
//	 "requestContext": {"requestId", "functionArn", "condition": "RetriesExhausted", "approximateInvokeCount"},
//	 "requestPayload": <the event>,
//	 "responseContext": {"statusCode", "executedVersion", "functionError"},
//	 "responsePayload": {"errorMessage", "errorType", ...}}
//
// For an SQS destination the record is the message body.
type InvocationFailure struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext ResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

// ErrorMessage is the function's last error (responsePayload's
// errorMessage), when it returned one.
func (f InvocationFailure) ErrorMessage() string { return errorMessage(f.ResponsePayload) }

// errorMessage is the errorMessage of a function error's payload
// ({"errorMessage": ..., "errorType": ...}), or "".
func errorMessage(payload []byte) string {
	var p struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.ErrorMessage
}

// AsyncEvent finds the event in a failure message body of an
// asynchronously invoked function (the forwarder, the export planner and
// converter): the requestPayload of an asynchronous invocation record
// (a function's on-failure queue), or the event itself (a trigger rule's
// dead-letter queue, where EventBridge puts the event it could not
// deliver as the body). It returns the event and, for an invocation
// record, the record.
func AsyncEvent(body string) (json.RawMessage, *InvocationFailure, error) {
	var probe struct {
		RequestContext *json.RawMessage `json:"requestContext"`
		RequestPayload json.RawMessage  `json:"requestPayload"`
		DetailType     string           `json:"detail-type"`
		Records        json.RawMessage  `json:"Records"`
	}
	if err := json.Unmarshal([]byte(body), &probe); err != nil {
		return nil, nil, fmt.Errorf("message body is not JSON: %w", err)
	}
	switch {
	case probe.RequestContext != nil:
		var f InvocationFailure
		if err := json.Unmarshal([]byte(body), &f); err != nil {
			return nil, nil, fmt.Errorf("not an asynchronous invocation record: %w", err)
		}
		if len(f.RequestPayload) == 0 || string(f.RequestPayload) == "null" {
			return nil, &f, errors.New("the invocation record has no requestPayload")
		}
		return f.RequestPayload, &f, nil
	case probe.DetailType != "" || probe.Records != nil:
		return json.RawMessage(body), nil, nil
	}
	return nil, nil, errors.New("message body is neither an asynchronous invocation record nor an event")
}

// sequenceNumber reports whether s is a stream sequence number: 1 to 40
// digits (the StreamRecord API reference allows 21 to 40).
func sequenceNumber(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareSequence compares two sequence numbers as numbers: they do not
// sort as strings (21 to 40 digits).
func compareSequence(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// isStreamARN reports whether s is a DynamoDB stream ARN,
// arn:<partition>:dynamodb:<region>:<account>:table/<table>/stream/<label>.
func isStreamARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "dynamodb" || parts[3] == "" || parts[4] == "" {
		return false
	}
	table, label, ok := strings.Cut(strings.TrimPrefix(parts[5], "table/"), "/stream/")
	return ok && strings.HasPrefix(parts[5], "table/") && table != "" && label != ""
}
