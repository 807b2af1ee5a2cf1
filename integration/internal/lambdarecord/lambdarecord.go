package lambdarecord

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"
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
