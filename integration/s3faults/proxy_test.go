package s3faults

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// upstream is an S3 server that stores nothing: it records what reached
// it and answers writes with 200, or with 412 for keys in refuse.
type upstream struct {
	mu     sync.Mutex
	puts   []string // paths
	hosts  []string
	refuse map[string]bool
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.hosts = append(u.hosts, r.Host)
	if r.Method == http.MethodPut {
		u.puts = append(u.puts, r.URL.Path)
	}
	refused := u.refuse[r.URL.Path]
	u.mu.Unlock()
	if refused {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusPreconditionFailed)
		_, _ = io.WriteString(w, `<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
		return
	}
	w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	if r.Method == http.MethodGet {
		_, _ = io.WriteString(w, "data")
	}
}

func (u *upstream) seen() (puts, hosts []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.puts...), append([]string(nil), u.hosts...)
}

// setup starts an upstream, the proxy before it, and the real S3 client
// the streamer uses, one attempt per call so that every answer shows.
func setup(t *testing.T) (*Proxy, *upstream, *s3.Client, string) {
	t.Helper()
	up := &upstream{refuse: map[string]bool{}}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	p, err := New(upSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	t.Cleanup(p.Close) // runs before srv.Close: held writes end first
	client := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	})
	u, _ := url.Parse(srv.URL)
	return p, up, client, u.Host
}

func put(ctx context.Context, c *s3.Client, key string) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key), Body: strings.NewReader("x")})
	return err
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestSlowDownNextFailsExactlyThatManyWrites(t *testing.T) {
	p, up, client, _ := setup(t)
	ctx := context.Background()
	p.SlowDownNext(2)
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("r")}); err != nil {
		t.Errorf("read while writes slow down: got %v, expect it to pass", err)
	}
	for i, expect := range []string{"SlowDown", "SlowDown", ""} {
		if got := errorCode(put(ctx, client, "k")); got != expect {
			t.Errorf("write %d: got error code %q, expect %q", i+1, got, expect)
		}
	}
	if got, expect := p.SlowedDownKeys(), []string{"k", "k"}; !reflect.DeepEqual(got, expect) {
		t.Errorf("SlowedDownKeys: got %q, expect %q", got, expect)
	}
	if got := p.SlowedDown(); got != 2 {
		t.Errorf("SlowedDown: got %d, expect 2", got)
	}
	puts, _ := up.seen()
	if expect := []string{"/b/k"}; !reflect.DeepEqual(puts, expect) {
		t.Errorf("writes that reached the server: got %v, expect %v", puts, expect)
	}
}

func TestHostHeaderReachesTheServerUnchanged(t *testing.T) {
	_, up, client, proxyHost := setup(t)
	if err := put(context.Background(), client, "k"); err != nil {
		t.Fatal(err)
	}
	_, hosts := up.seen()
	if expect := []string{proxyHost}; !reflect.DeepEqual(hosts, expect) {
		t.Errorf("Host headers upstream: got %v, expect %v (the host the client signed)", hosts, expect)
	}
}

func TestStoredListsWrittenObjectsOnce(t *testing.T) {
	p, up, client, _ := setup(t)
	ctx := context.Background()
	up.refuse["/b/taken"] = true
	changed := p.Changed()
	for _, key := range []string{"cdc/table=Orders/a b+c=1.jsonl.gz", "second", "second"} {
		if err := put(ctx, client, key); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	if got := errorCode(put(ctx, client, "taken")); got != "PreconditionFailed" {
		t.Errorf("refused write: got error code %q, expect PreconditionFailed", got)
	}
	if expect, got := []string{"cdc/table=Orders/a b+c=1.jsonl.gz", "second"}, p.Stored(); !reflect.DeepEqual(got, expect) {
		t.Errorf("Stored: got %q, expect %q", got, expect)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed: got an open channel after writes were stored, expect it closed")
	}
}

func TestAfterPutsCallsBackOnceStoredBeforeTheAnswer(t *testing.T) {
	p, up, client, _ := setup(t)
	ctx := context.Background()
	up.refuse["/b/refused"] = true
	// The callback runs on the proxy's goroutine; the counters are
	// atomic so that the race detector need not see through the socket.
	var calls, putsAtCall atomic.Int64
	p.AfterPuts(1, func() {
		calls.Add(1)
		puts, _ := up.seen()
		putsAtCall.Store(int64(len(puts)))
	})
	if got := errorCode(put(ctx, client, "refused")); got != "PreconditionFailed" {
		t.Errorf("refused write: got error code %q, expect PreconditionFailed", got)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("calls after a write the server refused: got %d, expect 0", got)
	}
	for _, key := range []string{"first", "second"} {
		if err := put(ctx, client, key); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if got := calls.Load(); key == "first" && got != 1 {
			// onAfter runs before the answer is passed on, so the client
			// cannot see the answer first.
			t.Errorf("calls when the first stored write was answered: got %d, expect 1", got)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("calls: got %d, expect 1", got)
	}
	if got := putsAtCall.Load(); got != 2 {
		t.Errorf("writes upstream when called: got %d, expect 2 (the refused one and the stored one)", got)
	}
}

// TestAfterPutsOfCountsOnlyMatchingKeys: writes of other keys neither
// call back nor use up the count.
func TestAfterPutsOfCountsOnlyMatchingKeys(t *testing.T) {
	p, _, client, _ := setup(t)
	ctx := context.Background()
	var called atomic.Int64
	p.AfterPutsOf(1, func(key string) bool { return strings.HasPrefix(key, "wide-") }, func() { called.Add(1) })
	for i, key := range []string{"narrow-1", "narrow-2", "wide-1", "wide-2"} {
		if err := put(ctx, client, key); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		if expect := int64(max(0, min(1, i-1))); called.Load() != expect {
			t.Errorf("calls after %s: got %d, expect %d", key, called.Load(), expect)
		}
	}
}

func TestHoldPutsNeverReachTheServer(t *testing.T) {
	p, up, client, _ := setup(t)
	ctx, die := context.WithCancel(context.Background())
	var holds atomic.Int64
	p.HoldPuts(1, func() {
		holds.Add(1)
		die() // the writer crashes mid-write
	})
	if err := put(ctx, client, "held"); !errors.Is(err, context.Canceled) {
		t.Errorf("held write: got %v, expect the writer's own cancellation", err)
	}
	if err := put(context.Background(), client, "next"); err != nil {
		t.Errorf("write after the hold: got %v, expect it to pass", err)
	}
	if got := holds.Load(); got != 1 {
		t.Errorf("holds: got %d, expect 1", got)
	}
	puts, _ := up.seen()
	if expect := []string{"/b/next"}; !reflect.DeepEqual(puts, expect) {
		t.Errorf("writes that reached the server: got %v, expect %v", puts, expect)
	}
	if expect, got := []string{"next"}, p.Stored(); !reflect.DeepEqual(got, expect) {
		t.Errorf("Stored: got %q, expect %q", got, expect)
	}
}

func TestCloseReleasesHeldWrites(t *testing.T) {
	p, up, client, _ := setup(t)
	held := make(chan struct{})
	p.HoldPuts(1, func() { close(held) })
	result := make(chan error, 1)
	go func() { result <- put(context.Background(), client, "held") }()
	<-held
	p.Close()
	var respErr interface{ HTTPStatusCode() int }
	if err := <-result; !errors.As(err, &respErr) {
		t.Errorf("held write after Close: got %v, expect an HTTP answer", err)
	} else if got := respErr.HTTPStatusCode(); got != http.StatusServiceUnavailable {
		t.Errorf("held write after Close: status: got %d, expect 503", got)
	}
	if puts, _ := up.seen(); len(puts) != 0 {
		t.Errorf("writes that reached the server: got %v, expect none", puts)
	}
}

func TestObjectKey(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		key            string
		isWrite        bool
	}{
		{http.MethodPut, "/b/k?x-id=PutObject", "k", true},
		{http.MethodPut, "/b/cdc/table=Orders/a%20b+c=1.jsonl.gz", "cdc/table=Orders/a b+c=1.jsonl.gz", true},
		{http.MethodPut, "/b", "", false},
		{http.MethodPut, "/b/", "", false},
		{http.MethodPut, "/b/k?partNumber=1&uploadId=u", "", false},
		{http.MethodPut, "/b/k?tagging", "", false},
		{http.MethodPost, "/b/k?uploadId=u&x-id=CompleteMultipartUpload", "k", true},
		{http.MethodPost, "/b/k?uploads&x-id=CreateMultipartUpload", "", false},
		{http.MethodPost, "/b/k?uploadId=", "", false},
		{http.MethodPost, "/b?delete", "", false},
		{http.MethodGet, "/b/k", "", false},
	} {
		key, isWrite := objectKey(httptest.NewRequest(tc.method, tc.target, nil))
		if key != tc.key {
			t.Errorf("%s %s: key: got %q, expect %q", tc.method, tc.target, key, tc.key)
		}
		if isWrite != tc.isWrite {
			t.Errorf("%s %s: is an object write: got %v, expect %v", tc.method, tc.target, isWrite, tc.isWrite)
		}
	}
}
