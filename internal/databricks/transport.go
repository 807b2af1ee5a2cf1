package databricks

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns an HTTP client suited to streaming large uploads:
// big write buffers, bounded connection and header waits, and no overall
// timeout (the invocation's deadline bounds each request instead).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        64 << 10,
		ForceAttemptHTTP2:     false, // one upload per connection streams fastest over HTTP/1.1
	}}
}
