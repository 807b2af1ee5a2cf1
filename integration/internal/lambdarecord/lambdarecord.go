package lambdarecord

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ddbstream/pipeline/integration/runtimeapi"
)

// Version is the records' version field.
const Version = "1.0"

// RequestContext says which invocation failed and why Lambda gave up.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's answer; FunctionError is
// absent when the function answered without an error (a batch that only
// reported item failures).
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// Response is the responseContext of an invocation of $LATEST that
// answered 200, with the function error "Unhandled" (an error the
// function returned, or a crash) when functionError is set.
func Response(functionError bool) ResponseContext {
	r := ResponseContext{StatusCode: http.StatusOK, ExecutedVersion: "$LATEST"}
	if functionError {
		r.FunctionError = "Unhandled"
	}
	return r
}

// Timestamp is t as the records write it: RFC 3339 in UTC, with
// milliseconds.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NewRequestID returns a random request ID in Lambda's form, a version 4
// UUID.
func NewRequestID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ConditionRetriesExhausted is an asynchronous invocation record's
// condition when every attempt failed.
const ConditionRetriesExhausted = "RetriesExhausted"

// Invocation is an asynchronous invocation Lambda gave up on.
type Invocation struct {
	// FunctionARN is the function's ARN qualified with its version
	// ($LATEST), as the record names it.
	FunctionARN string
	// Payload is the event as invoked.
	Payload []byte
	// Attempts counts the invocations made, the first included.
	Attempts int
	// ErrorPayload is the last attempt's error response (ErrorPayload).
	ErrorPayload []byte
	// RequestID is the invocation's ID; At is when Lambda gave up.
	RequestID string
	At        time.Time
}

// invocationRecord is the JSON Lambda sends an asynchronous invocation's
// on-failure destination, field for field as AWS documents it
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html):
// the event itself is requestPayload.
type invocationRecord struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  RequestContext  `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext ResponseContext `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload,omitempty"`
}

// Record renders the invocation as the record Lambda sends its on-failure
// destination: requestPayload is the event as invoked (JSON re-encoding
// drops only insignificant whitespace), and the function error
// "Unhandled", as Lambda reports an error a function returned or a crash.
func (i Invocation) Record() ([]byte, error) {
	r := invocationRecord{
		Version: Version, Timestamp: Timestamp(i.At),
		RequestContext: RequestContext{RequestID: i.RequestID, FunctionARN: i.FunctionARN,
			Condition: ConditionRetriesExhausted, ApproximateInvokeCount: i.Attempts},
		RequestPayload: i.Payload, ResponseContext: Response(true), ResponsePayload: i.ErrorPayload,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the event's strings as sent
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("on-failure record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrorPayload is fnErr as a function's error response: the runtime API's
// error with its type, any other error by its message only.
func ErrorPayload(fnErr error) []byte {
	var fe *runtimeapi.FunctionError
	var out []byte
	if errors.As(fnErr, &fe) {
		out, _ = json.Marshal(map[string]string{"errorMessage": fe.Message, "errorType": fe.Type})
	} else {
		out, _ = json.Marshal(map[string]string{"errorMessage": fnErr.Error()})
	}
	return out
}
