package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// S3Faults sits between the streamer and the S3 server and can answer
// writes with 503 SlowDown, as S3 does under load. It forwards the
// original Host header, so SigV4 signatures still verify upstream.
type S3Faults struct {
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	until   time.Time
	failN   int
	slowed  int
	forward int
	hold    int
	onHold  func()
	after   int
	onAfter func()
}

// HoldPuts keeps the next n writes from reaching the server and calls
// onHold while each is in flight: a crash there is a crash mid-write.
func (f *S3Faults) HoldPuts(n int, onHold func()) {
	f.mu.Lock()
	f.hold, f.onHold = n, onHold
	f.mu.Unlock()
}

// AfterPuts calls onAfter once each of the next n writes has reached the
// server: a crash there is a crash after the write was durable.
func (f *S3Faults) AfterPuts(n int, onAfter func()) {
	f.mu.Lock()
	f.after, f.onAfter = n, onAfter
	f.mu.Unlock()
}

// NewS3Faults proxies to upstream (http://host:port).
func NewS3Faults(upstream string) (*S3Faults, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		// Only a write that stored an object counts: the server has it, and
		// the writer dies before the answer reaches it.
		if f, ok := resp.Request.Context().Value(afterWrite{}).(*S3Faults); ok && resp.StatusCode == http.StatusOK {
			f.mu.Lock()
			kill := f.after > 0
			if kill {
				f.after--
			}
			onAfter := f.onAfter
			f.mu.Unlock()
			if kill {
				onAfter()
			}
		}
		return nil
	}
	return &S3Faults{proxy: proxy}, nil
}

// SlowDownFor answers every write with 503 SlowDown for d.
func (f *S3Faults) SlowDownFor(d time.Duration) {
	f.mu.Lock()
	f.until = time.Now().Add(d)
	f.mu.Unlock()
}

// SlowDownNext answers the next n writes with 503 SlowDown.
func (f *S3Faults) SlowDownNext(n int) {
	f.mu.Lock()
	f.failN = n
	f.mu.Unlock()
}

// SlowedDown counts writes answered with SlowDown.
func (f *S3Faults) SlowedDown() int { f.mu.Lock(); defer f.mu.Unlock(); return f.slowed }

// ServeHTTP forwards a request, or fails or holds it as configured.
func (f *S3Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	isPut := r.Method == http.MethodPut
	if isPut && f.hold > 0 {
		f.hold--
		onHold := f.onHold
		f.mu.Unlock()
		onHold()
		// The writer dies; nothing reaches the server. The server notices a
		// closed connection only once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if isPut && f.after > 0 {
		r = r.WithContext(context.WithValue(r.Context(), afterWrite{}, f))
	}
	fail := isPut && (time.Now().Before(f.until) || f.failN > 0)
	if fail {
		if f.failN > 0 {
			f.failN--
		}
		f.slowed++
	} else {
		f.forward++
	}
	f.mu.Unlock()
	if fail {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>local</RequestId></Error>`))
		return
	}
	f.proxy.ServeHTTP(w, r)
}

type afterWrite struct{}
