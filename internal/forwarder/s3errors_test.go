package forwarder

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// s3Answer is what the fake S3 endpoint answers: a status and, for GET,
// an XML error document from testdata (HEAD answers never have a body).
type s3Answer struct {
	status  int
	fixture string
}

// s3Outcome is what one delivery attempt did, field by field.
type s3Outcome struct {
	request    s3Request
	result     string
	reason     string
	invokeErr  string // "" when the invocation succeeds
	deliveries int
}

// s3Request is what the endpoint saw of the SDK's request.
type s3Request struct {
	method    string
	versionID string
	ifMatch   string
}

// TestS3ErrorShapesThroughTheSDK sends the forwarder's reads through the
// real aws-sdk-go-v2 S3 client to an endpoint answering byte for byte as
// S3 does, and checks which answers mean "the object is gone" (skipped)
// and which must fail the delivery so that it is retried.
//
// S3 answers a missing key with 404 NoSuchKey only when the caller may
// list the bucket; without s3:ListBucket it answers 403 AccessDenied
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
// API_HeadObject.html "Permissions"), which must never be read as gone.
// HEAD answers carry no body, so the SDK names their error after the
// status (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
func TestS3ErrorShapesThroughTheSDK(t *testing.T) {
	const etag = "0123456789abcdef0123456789abcdef"
	const version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
	const gone = "object no longer exists"
	ifMatch := `"` + etag + `"`
	tests := []struct {
		name      string
		env       map[string]string
		versionID string
		answer    s3Answer
		expect    s3Outcome
	}{
		{"GET missing key", volumeEnv, "", s3Answer{404, "s3_no_such_key.xml"},
			s3Outcome{request: s3Request{"GET", "", ifMatch}, result: "skipped", reason: gone}},
		{"GET missing version", volumeEnv, version, s3Answer{404, "s3_no_such_version.xml"},
			s3Outcome{request: s3Request{"GET", version, ""}, result: "skipped", reason: gone}},
		{"GET If-Match mismatch", volumeEnv, "", s3Answer{412, "s3_precondition_failed.xml"},
			s3Outcome{request: s3Request{"GET", "", ifMatch}, result: "skipped", reason: "object was replaced since the event; the newer version has its own event"}},
		{"GET access denied", volumeEnv, "", s3Answer{403, "s3_access_denied.xml"},
			s3Outcome{request: s3Request{"GET", "", ifMatch}, result: "failed", invokeErr: "AccessDenied"}},
		{"HEAD missing key", jobEnv, "", s3Answer{404, ""},
			s3Outcome{request: s3Request{"HEAD", "", ""}, result: "skipped", reason: gone}},
		{"HEAD access denied", jobEnv, "", s3Answer{403, ""},
			s3Outcome{request: s3Request{"HEAD", "", ""}, result: "failed", invokeErr: "StatusCode: 403"}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []s3Request
			body := []byte(nil)
			if tc.answer.fixture != "" {
				body = fixture(t, tc.answer.fixture)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, s3Request{r.Method, r.URL.Query().Get("versionId"), r.Header.Get("If-Match")})
				mu.Unlock()
				w.Header().Set("x-amz-request-id", "4442587FB7D0A2F9")
				if r.Method == http.MethodHead {
					w.WriteHeader(tc.answer.status)
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.answer.status)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			cfg := mustConfig(t, tc.env)
			e := newEnv(t, cfg)
			awsCfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
			e.h.s3 = NewS3Client(awsCfg, cfg)

			_, err := e.h.Invoke(context.Background(), notificationFor("cdc-bucket", orderKey, etag, tc.versionID))

			var got s3Outcome
			mu.Lock()
			if len(seen) > 0 {
				got.request = seen[0]
			}
			mu.Unlock()
			lines := e.logLines(t)
			if len(lines) == 1 {
				got.result, _ = lines[0]["result"].(string)
				got.reason, _ = lines[0]["reason"].(string)
			}
			if err != nil {
				got.invokeErr = tc.expect.invokeErr
				if !strings.Contains(err.Error(), tc.expect.invokeErr) || tc.expect.invokeErr == "" {
					got.invokeErr = err.Error()
				}
			}
			got.deliveries = len(e.ws.Files()) + len(e.ws.Runs())
			if got.request != tc.expect.request {
				t.Errorf("request: got %+v, expect %+v", got.request, tc.expect.request)
			}
			if got.result != tc.expect.result {
				t.Errorf("result: got %q, expect %q (log %s)", got.result, tc.expect.result, e.logs)
			}
			if got.reason != tc.expect.reason {
				t.Errorf("reason: got %q, expect %q", got.reason, tc.expect.reason)
			}
			if got.invokeErr != tc.expect.invokeErr {
				t.Errorf("invocation error: got %q, expect one mentioning %q", got.invokeErr, tc.expect.invokeErr)
			}
			if got.deliveries != tc.expect.deliveries {
				t.Errorf("deliveries: got %d, expect %d", got.deliveries, tc.expect.deliveries)
			}
		})
	}
}

var (
	volumeEnv = map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{key}", "S3_FORCE_PATH_STYLE": "true"}
	jobEnv    = map[string]string{"DATABRICKS_SECRET_ID": "databricks", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "42", "S3_FORCE_PATH_STYLE": "true"}
)

// notificationFor is an S3 event notification for one created object.
func notificationFor(bucket, key, etag, versionID string) []byte {
	return fmt.Appendf(nil, `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2026-11-22T17:04:06.123Z",`+
		`"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q,"size":23,"eTag":%q,"versionId":%q,"sequencer":"0A1B2C3D4E5F678901"}}}]}`,
		bucket, key, etag, versionID)
}
