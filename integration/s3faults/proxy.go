package s3faults

import (
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/ddbstream/pipeline/integration/internal/wake"
)

// Proxy forwards requests to one S3 server, path-style, keeping the
// original Host header so that SigV4 signatures still verify upstream,
// and fails or holds writes as configured. Faults apply to object writes
// (PUT) only; reads always pass.
type Proxy struct {
	proxy   *httputil.ReverseProxy
	closed  chan struct{}
	close   sync.Once
	changed wake.Signal

	mu       sync.Mutex
	slowNext int
	slowed   int
	slowKeys []string
	hold     int
	onHold   func()
	after    int
	onAfter  func()
	match    func(key string) bool
	stored   []string
	isStored map[string]bool
}

// New proxies to upstream (http://host:port).
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{closed: make(chan struct{}), isStored: map[string]bool{}}
	p.proxy = httputil.NewSingleHostReverseProxy(u)
	p.proxy.ModifyResponse = p.answered
	return p, nil
}

// SlowDownNext answers the next n writes with 503 SlowDown, as S3 does
// under load. Counting writes rather than timing a window makes the
// number of failed attempts, and so which batches fail, independent of
// the machine's speed.
func (p *Proxy) SlowDownNext(n int) {
	p.mu.Lock()
	p.slowNext = n
	p.mu.Unlock()
}

// SlowedDown counts writes answered with SlowDown.
func (p *Proxy) SlowedDown() int { p.mu.Lock(); defer p.mu.Unlock(); return p.slowed }

// SlowedDownKeys returns the keys of the writes answered with SlowDown,
// in order, so that a test knows which object a writer meant to store
// (where a redriven batch must land).
func (p *Proxy) SlowedDownKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.slowKeys...)
}

// HoldPuts keeps the next n writes from reaching the server and calls
// onHold while each is in flight: a crash there (onHold killing the
// writer) is a crash mid-write. A held write ends when its client goes
// away or the proxy is closed, and is never forwarded.
func (p *Proxy) HoldPuts(n int, onHold func()) {
	p.mu.Lock()
	p.hold, p.onHold = n, onHold
	p.mu.Unlock()
}

// AfterPuts calls onAfter once each of the next n writes has been stored
// by the server, before the answer is passed on: a crash there is a crash
// after the write was durable.
func (p *Proxy) AfterPuts(n int, onAfter func()) { p.AfterPutsOf(n, nil, onAfter) }

// AfterPutsOf is AfterPuts counting only the writes of keys match
// accepts (every key when match is nil), so that a test crashes after
// the write it means, whatever other writes come first.
func (p *Proxy) AfterPutsOf(n int, match func(key string) bool, onAfter func()) {
	p.mu.Lock()
	p.after, p.onAfter, p.match = n, onAfter, match
	p.mu.Unlock()
}

// Stored returns the keys of the objects the server stored through the
// proxy (a PutObject or CompleteMultipartUpload answered 200), each once,
// in the order first stored. The server
// sends an event notification for each of them.
func (p *Proxy) Stored() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stored...)
}

// Changed returns a channel closed when Stored or SlowedDown next
// changes, so that a waiter needs no polling interval.
func (p *Proxy) Changed() <-chan struct{} { return p.changed.C() }

// Close releases writes still held, so that the server in front of the
// proxy can shut down; it is safe to call more than once.
func (p *Proxy) Close() { p.close.Do(func() { close(p.closed) }) }

// afterWrite marks a forwarded write whose storing calls onAfter.
type afterWrite struct{}

// ServeHTTP forwards a request, or fails or holds it as configured.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isPut := r.Method == http.MethodPut
	p.mu.Lock()
	if isPut && p.hold > 0 {
		p.hold--
		onHold := p.onHold
		p.mu.Unlock()
		onHold()
		// The writer dies; nothing reaches the server. The server notices a
		// closed connection only once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if isPut && p.after > 0 {
		r = r.WithContext(context.WithValue(r.Context(), afterWrite{}, true))
	}
	slow := isPut && p.slowNext > 0
	if slow {
		p.slowNext--
		p.slowed++
		if key, ok := objectKey(r); ok {
			p.slowKeys = append(p.slowKeys, key)
		}
	}
	p.mu.Unlock()
	if slow {
		p.changed.Notify()
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>local</RequestId></Error>`))
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// answered sees each of the server's answers before it is passed on.
func (p *Proxy) answered(resp *http.Response) error {
	key, isWrite := objectKey(resp.Request)
	if !isWrite || resp.StatusCode != http.StatusOK {
		return nil
	}
	p.mu.Lock()
	if !p.isStored[key] {
		p.isStored[key] = true
		p.stored = append(p.stored, key)
	}
	// Only a write that stored an object counts: the server has it, and
	// the writer dies before the answer reaches it.
	kill := false
	if resp.Request.Context().Value(afterWrite{}) != nil && p.after > 0 && (p.match == nil || p.match(key)) {
		p.after--
		kill = true
	}
	onAfter := p.onAfter
	p.mu.Unlock()
	p.changed.Notify()
	if kill {
		onAfter()
	}
	return nil
}

// objectKey returns the key of the object a path-style request stores:
// a PutObject, or a CompleteMultipartUpload (POST ?uploadId=…), which
// makes the object of a multipart upload. Other requests (a bucket, a
// multipart part, tagging, starting an upload) store no object; the
// SDK's own x-id parameter is no subresource.
func objectKey(r *http.Request) (string, bool) {
	sub := ""
	switch r.Method {
	case http.MethodPut:
	case http.MethodPost:
		sub = "uploadId"
	default:
		return "", false
	}
	q := r.URL.Query()
	for k := range q {
		if k != "x-id" && k != sub {
			return "", false
		}
	}
	if sub != "" && q.Get(sub) == "" {
		return "", false
	}
	_, key, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key, ok && key != ""
}
