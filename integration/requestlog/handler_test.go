package requestlog_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration/requestlog"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// TestRewrite checks that Handler replaces the access key ID, and only
// it, for the endpoint, leaves the caller's request as it was, and that
// the endpoint still learns the client's key from AccessKeyID.
func TestRewrite(t *testing.T) {
	const client = "AWS4-HMAC-SHA256 Credential=LOCALSTREAMER/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"
	tests := []struct {
		name, upstream, auth, query string
		wantAuth, wantKey           string
	}{
		{name: "rewritten", upstream: "ROOTKEY", auth: client,
			wantAuth: "AWS4-HMAC-SHA256 Credential=ROOTKEY/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd", wantKey: "LOCALSTREAMER"},
		{name: "no upstream key: unchanged", upstream: "", auth: client, wantAuth: client, wantKey: "LOCALSTREAMER"},
		{name: "unsigned: nothing to rewrite", upstream: "ROOTKEY", wantAuth: "", wantKey: ""},
		{name: "no Credential: unchanged", upstream: "ROOTKEY", auth: "AWS4-HMAC-SHA256 Signature=ab", wantAuth: "AWS4-HMAC-SHA256 Signature=ab"},
		{name: "presigned: signed, so unchanged", upstream: "ROOTKEY", query: "?X-Amz-Credential=LOCALSTREAMER%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab",
			wantAuth: "", wantKey: "LOCALSTREAMER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth, gotKey, gotQuery string
			h := requestlog.New(principals).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotKey, gotQuery = r.Header.Get("Authorization"), requestlog.AccessKeyID(r), r.URL.RawQuery
			}), tt.upstream)
			r := httptest.NewRequest("GET", "/b/k"+tt.query, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if gotAuth != tt.wantAuth {
				t.Errorf("endpoint got Authorization\n %q, want\n %q", gotAuth, tt.wantAuth)
			}
			if gotKey != tt.wantKey {
				t.Errorf("AccessKeyID at the endpoint = %q, want %q", gotKey, tt.wantKey)
			}
			if gotQuery != strings.TrimPrefix(tt.query, "?") {
				t.Errorf("endpoint got query %q, want %q", gotQuery, tt.query)
			}
			if r.Header.Get("Authorization") != tt.auth {
				t.Errorf("the caller's request changed: Authorization %q", r.Header.Get("Authorization"))
			}
		})
	}
}

// TestAccessKeyIDOutsideHandler reads the key from the request itself.
func TestAccessKeyIDOutsideHandler(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	if got := requestlog.AccessKeyID(r); got != "" {
		t.Errorf("unsigned: AccessKeyID = %q, want none", got)
	}
	r.Header.Set("Authorization", authorization("LOCALBACKFILL", "dynamodb"))
	if got := requestlog.AccessKeyID(r); got != "LOCALBACKFILL" {
		t.Errorf("AccessKeyID = %q, want LOCALBACKFILL", got)
	}
}

// TestStatus checks the status recorded: the final one after 1xx, 200
// for an endpoint that writes nothing or only a body, and the status sent
// before a panic, which is recorded and passed on.
func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		serve     func(w http.ResponseWriter)
		want      int
		wantPanic bool
	}{
		{name: "nothing written", serve: func(http.ResponseWriter) {}, want: 200},
		{name: "body only", serve: func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, want: 200},
		{name: "503", serve: func(w http.ResponseWriter) { w.WriteHeader(503) }, want: 503},
		{name: "second WriteHeader ignored", serve: func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(200) }, want: 404},
		{name: "100 Continue, then 201", serve: func(w http.ResponseWriter) { w.WriteHeader(100); w.WriteHeader(201) }, want: 201},
		{name: "flushed, then written", serve: func(w http.ResponseWriter) { w.(http.Flusher).Flush(); _, _ = w.Write([]byte("x")) }, want: 200},
		{name: "panic after 206", serve: func(w http.ResponseWriter) { w.WriteHeader(206); panic(http.ErrAbortHandler) }, want: 206, wantPanic: true},
		{name: "panic before any answer", serve: func(http.ResponseWriter) { panic(http.ErrAbortHandler) }, want: 0, wantPanic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := requestlog.New(principals)
			h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.serve(w) }), "")
			func() {
				defer func() {
					if p := recover(); (p != nil) != tt.wantPanic {
						t.Errorf("panic %v, want a panic: %v", p, tt.wantPanic)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/b/k", nil))
			}()
			got := l.Entries("")
			if len(got) != 1 || got[0].Call.Status != tt.want {
				t.Errorf("recorded %+v, want one call with status %d", got, tt.want)
			}
		})
	}
}

// TestResponseController checks that http.ResponseController reaches
// the connection's writer through the recorder.
func TestResponseController(t *testing.T) {
	var flushErr error
	srv := httptest.NewServer(requestlog.New(principals).Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		flushErr = http.NewResponseController(w).Flush()
	}), ""))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if flushErr != nil {
		t.Errorf("ResponseController.Flush: %v", flushErr)
	}
}

// TestAddAndEntries checks that Add's calls and the endpoints' are kept
// in order, under concurrent use, and that Entries returns a copy.
func TestAddAndEntries(t *testing.T) {
	l := requestlog.New(principals)
	l.Add("events.amazonaws.com", iam.Call{Service: "lambda", Operation: "Invoke", Function: "forwarder", SourceARN: "arn:aws:events:us-east-1:000000000000:rule/r"})
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "")
	r := httptest.NewRequest("GET", "/b/k", nil)
	r.Header.Set("Authorization", authorization("LOCALSTREAMER", "s3"))
	h.ServeHTTP(httptest.NewRecorder(), r)
	want := []authz.Recorded{
		{Principal: "events.amazonaws.com", Where: "TestAdd", Call: iam.Call{Service: "lambda", Operation: "Invoke", Function: "forwarder", SourceARN: "arn:aws:events:us-east-1:000000000000:rule/r"}},
		{Principal: "streamer", Where: "TestAdd", Call: iam.Call{Service: "s3", Operation: "GetObject", Bucket: "b", Key: "k", Status: 200}},
	}
	got := l.Entries("TestAdd")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Entries:\n got %+v\nwant %+v", got, want)
	}
	got[0].Principal = "changed"
	if l.Entries("")[0].Principal != "events.amazonaws.com" {
		t.Error("changing Entries' answer changed the log")
	}

	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			l.Add("streamer", iam.Call{Service: "sqs", Operation: "SendMessage", Queue: fmt.Sprint(i)})
		}()
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/b/k", nil)
			r.Header.Set("Authorization", authorization("LOCALBACKFILL", "s3"))
			h.ServeHTTP(httptest.NewRecorder(), r)
			_ = l.Entries("")
		}()
	}
	wg.Wait()
	if got := len(l.Entries("")); got != 2+2*n {
		t.Errorf("recorded %d calls, want %d", got, 2+2*n)
	}
}

// TestProxyForwardsAsSigned checks that Proxy passes on the method, Host,
// escaped path, query, headers and body, rewriting the key ID only, and
// passes back the answer's status, headers and body.
func TestProxyForwardsAsSigned(t *testing.T) {
	type seen struct {
		method, host, uri, auth, copySource, sha, encoding, decoded string
		contentLength                                               int64
		transfer                                                    []string
		body                                                        string
	}
	got := make(chan seen, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Host, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Copy-Source"),
			r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-Encoding"), r.Header.Get("X-Amz-Decoded-Content-Length"),
			r.ContentLength, r.TransferEncoding, string(b)}
		w.Header().Set("ETag", `"abc"`)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("answer"))
	}))
	defer upstream.Close()
	l := requestlog.New(principals)
	proxy, err := l.Proxy(upstream.URL, "ROOTKEY")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	chunked := "4;chunk-signature=aa\r\ndata\r\n0;chunk-signature=bb\r\n\r\n"
	tests := []struct {
		name       string
		body       io.Reader // a reader without a length: sent chunked
		uri        string
		length     int64
		transfer   []string
		encoding   string
		wantCalled string
	}{
		{name: "fixed length, escaped key", body: strings.NewReader("hello"), uri: "/b/a%20b%2Bc~d?x-id=PutObject", length: 5},
		{name: "HTTP/1.1 chunked", body: io.MultiReader(strings.NewReader("hel"), strings.NewReader("lo")), uri: "/b/k?x-id=PutObject", length: -1, transfer: []string{"chunked"}},
		{name: "aws-chunked, as sent", body: strings.NewReader(chunked), uri: "/b/k?x-id=PutObject", length: int64(len(chunked)), encoding: "aws-chunked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("PUT", srv.URL+tt.uri, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.length >= 0 {
				req.ContentLength = tt.length
			}
			req.Host = "s3.local.test:9000"
			req.Header.Set("Authorization", authorization("LOCALSTREAMER", "s3"))
			req.Header.Set("X-Amz-Copy-Source", "src/k")
			req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
				req.Header.Set("X-Amz-Decoded-Content-Length", "4")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || string(answer) != "answer" || resp.Header.Get("ETag") != `"abc"` {
				t.Errorf("answer %d %q ETag %q, want 201 %q %q", resp.StatusCode, answer, resp.Header.Get("ETag"), "answer", `"abc"`)
			}
			s := <-got
			wantBody := map[string]string{"fixed length, escaped key": "hello", "HTTP/1.1 chunked": "hello", "aws-chunked, as sent": chunked}[tt.name]
			want := seen{method: "PUT", host: "s3.local.test:9000", uri: tt.uri,
				auth:       strings.Replace(authorization("LOCALSTREAMER", "s3"), "LOCALSTREAMER", "ROOTKEY", 1),
				copySource: "src/k", sha: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", encoding: tt.encoding, contentLength: tt.length, transfer: tt.transfer, body: wantBody}
			if tt.encoding != "" {
				want.decoded = "4"
			}
			if fmt.Sprint(s) != fmt.Sprint(want) {
				t.Errorf("upstream got\n %+v, want\n %+v", s, want)
			}
		})
	}
	if n := len(l.Entries("")); n != 2*len(tests) {
		t.Errorf("recorded %d calls, want %d (a copy and its source each)", n, 2*len(tests))
	}
}

// TestProxyStreams checks that an upload reaches the server while the
// client is still sending it, and an answer reaches the client while the
// server is still writing it: neither is buffered.
func TestProxyStreams(t *testing.T) {
	firstPart := make(chan string, 1)
	moreAnswer := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			firstPart <- "error: " + err.Error()
			return
		}
		firstPart <- string(buf)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("head;"))
		w.(http.Flusher).Flush()
		<-moreAnswer
		_, _ = w.Write([]byte("tail"))
	}))
	defer upstream.Close()
	proxy, err := requestlog.New(principals).Proxy(upstream.URL, "ROOTKEY")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()

	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", srv.URL+"/b/big?x-id=PutObject", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization("LOCALSTREAMER", "s3"))
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	if _, err := pw.Write([]byte("part1")); err != nil {
		t.Fatal(err)
	}
	// The server reads the first part while the upload is still open; a
	// proxy that buffered the body would wait for its end, which never
	// comes before this (the safety net below only ends a hung test).
	select {
	case p := <-firstPart:
		if p != "part1" {
			t.Fatalf("server read %q, want part1", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not get the upload's first part while it was being sent: the proxy buffers uploads")
	}
	_, _ = pw.Write(bytes.Repeat([]byte("x"), 1<<20))
	pw.Close()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	head := make([]byte, len("head;"))
	if _, err := io.ReadFull(res.resp.Body, head); err != nil || string(head) != "head;" {
		t.Fatalf("read %q, %v before the server finished, want head;", head, err)
	}
	close(moreAnswer)
	tail, err := io.ReadAll(res.resp.Body)
	if err != nil || string(tail) != "tail" {
		t.Errorf("rest of the answer %q, %v, want tail", tail, err)
	}
}

// TestProxyContinue checks that a client waiting for 100 Continue gets
// it through the proxy, as the SDK waits before sending a large part.
func TestProxyContinue(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer upstream.Close()
	l := requestlog.New(principals)
	proxy, err := l.Proxy(upstream.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	continued := false
	req, err := http.NewRequest("PUT", srv.URL+"/b/k?partNumber=1&uploadId=u", strings.NewReader("part"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Expect", "100-continue")
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got100Continue: func() { continued = true }}))
	tr := &http.Transport{ExpectContinueTimeout: time.Minute} // waits for the 100: the trace, not time, decides
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !continued || resp.StatusCode != 200 {
		t.Errorf("100 Continue received %v, status %d; want true, 200", continued, resp.StatusCode)
	}
	if got := l.Entries(""); len(got) != 1 || got[0].Call.Operation != "UploadPart" || got[0].Call.Status != 200 {
		t.Errorf("recorded %+v, want one UploadPart answered 200", got)
	}
}

// TestProxyBadURL checks that a bad upstream is refused.
func TestProxyBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8000", "http://", "://x"} {
		if _, err := requestlog.New(nil).Proxy(u, ""); err == nil {
			t.Errorf("Proxy(%q) took it", u)
		}
	}
	_, err := requestlog.New(nil).Proxy("127.0.0.1:8000", "")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:8000") {
		t.Errorf("error %v does not name the URL", err)
	}
}
