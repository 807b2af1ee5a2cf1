package streamer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ddbstream/pipeline/internal/output"
)

// s3Server answers PutObject like S3 would, from a script of status codes.
type s3Server struct {
	mu       sync.Mutex
	statuses []int
	requests []*http.Request
	bodies   [][]byte
}

func (s *s3Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.bodies = append(s.bodies, body)
	status := http.StatusOK
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	codes := map[int]string{503: "SlowDown", 412: "PreconditionFailed", 403: "AccessDenied"}
	if status != http.StatusOK {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+codes[status]+`</Code><Message>scripted</Message><RequestId>r1</RequestId></Error>`)
		return
	}
	w.Header().Set("ETag", `"abc"`)
}

func realClientHandler(t *testing.T, srv *s3Server, attempts int) *Handler {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cfg := testConfig()
	cfg.S3PathStyle, cfg.S3MaxAttempts = true, attempts
	awsCfg := aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(ts.URL),
	}
	return newHandler(t, output.NewS3Client(awsCfg, cfg.Settings), cfg)
}

// TestRealSDKRetriesAndChecksums drives the real S3 client: SlowDown is
// retried by the SDK, the write carries a CRC32C checksum and the
// conditional header, and the body arrives whole.
func TestRealSDKRetriesAndChecksums(t *testing.T) {
	srv := &s3Server{statuses: []int{503, 503, 200}}
	h := realClientHandler(t, srv, 5)
	resp, err := h.Handle(context.Background(), genEvent(20))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	if len(srv.requests) != 3 {
		t.Fatalf("%d requests; want 2 SlowDown answers retried and 1 success", len(srv.requests))
	}
	last := srv.requests[2]
	if !strings.HasPrefix(last.URL.Path, "/out-bucket/cdc/table=Orders/") || last.Method != http.MethodPut {
		t.Errorf("request %s %s", last.Method, last.URL.Path)
	}
	for _, h := range []string{"X-Amz-Checksum-Crc32c", "If-None-Match", "Authorization"} {
		if last.Header.Get(h) == "" {
			t.Errorf("request lacks %s", h)
		}
	}
	if gunzip(t, srv.bodies[2]) == "" {
		t.Error("empty body")
	}
}

func TestRealSDKPreconditionFailedIsSuccess(t *testing.T) {
	srv := &s3Server{statuses: []int{412}}
	resp, err := realClientHandler(t, srv, 3).Handle(context.Background(), genEvent(5))
	if err != nil || len(resp.BatchItemFailures) != 0 || len(srv.requests) != 1 {
		t.Fatalf("Handle = %+v, %v after %d requests; want success without retry", resp, err, len(srv.requests))
	}
}

func TestRealSDKGivesUpAndReports(t *testing.T) {
	srv := &s3Server{statuses: []int{503, 503, 503, 503}}
	resp, err := realClientHandler(t, srv, 2).Handle(context.Background(), genEvent(5))
	if err != nil || len(resp.BatchItemFailures) != 1 || len(srv.requests) != 2 {
		t.Fatalf("Handle = %+v, %v after %d requests; want 2 attempts then the batch reported", resp, err, len(srv.requests))
	}
	srv = &s3Server{statuses: []int{403}}
	resp, _ = realClientHandler(t, srv, 5).Handle(context.Background(), genEvent(5))
	if len(resp.BatchItemFailures) != 1 || len(srv.requests) != 1 {
		t.Fatalf("AccessDenied: %+v after %d requests; want reported without retries", resp, len(srv.requests))
	}
}
