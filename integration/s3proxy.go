package integration

import (
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
}

// NewS3Faults proxies to upstream (http://host:port).
func NewS3Faults(upstream string) (*S3Faults, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	return &S3Faults{proxy: httputil.NewSingleHostReverseProxy(u)}, nil
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

func (f *S3Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := r.Method == http.MethodPut && (time.Now().Before(f.until) || f.failN > 0)
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
