package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Relay receives the S3 server's event notifications and invokes the
// forwarder asynchronously, as S3 invokes Lambda: with AWS's URL-encoded
// keys, only for the configured prefix and suffix, with retries and an
// on-failure destination for events that still fail.
type Relay struct {
	Prefix, Suffix string
	// Invoke runs the forwarder; fnErr is a function error.
	Invoke func(ctx context.Context, payload []byte) (fnErr error, err error)
	// Retries and RetryDelay mirror the async invoke configuration.
	Retries    int
	RetryDelay time.Duration
	// Duplicate delivers every event twice, as at-least-once delivery may.
	Duplicate bool

	mu       sync.Mutex
	inFlight int
	arrived  map[string]time.Time
	queue    chan []byte
	failed   [][]byte
	received int
	pending  sync.WaitGroup
	once     sync.Once
}

func (r *Relay) init() {
	r.once.Do(func() { r.queue = make(chan []byte, 1<<16) })
}

// Run delivers queued events until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	r.init()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			r.deliver(ctx, ev)
			r.mu.Lock()
			r.inFlight--
			r.mu.Unlock()
			r.pending.Done()
		}
	}
}

func (r *Relay) deliver(ctx context.Context, ev []byte) {
	for attempt := 0; ; attempt++ {
		fnErr, err := r.Invoke(ctx, ev)
		if err != nil || fnErr == nil {
			return
		}
		if attempt >= r.Retries {
			r.mu.Lock()
			r.failed = append(r.failed, ev)
			r.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.RetryDelay):
		}
	}
}

// Wait blocks until every received event has been handled.
func (r *Relay) Wait() { r.pending.Wait() }

// Failed returns the events sent to the on-failure destination.
func (r *Relay) Failed() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.failed...)
}

// Pending counts events not yet handled.
func (r *Relay) Pending() int { r.mu.Lock(); defer r.mu.Unlock(); return r.inFlight }

// Arrived returns when each object's first event arrived, by key.
func (r *Relay) Arrived() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.arrived))
	for k, v := range r.arrived {
		out[k] = v
	}
	return out
}

// Received counts object events accepted.
func (r *Relay) Received() int { r.mu.Lock(); defer r.mu.Unlock(); return r.received }

// Enqueue hands an event to the forwarder as S3 would.
func (r *Relay) Enqueue(ev []byte) {
	r.init()
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
	r.pending.Add(1)
	r.queue <- ev
}

// ServeHTTP takes one webhook notification from the S3 server.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	if json.Unmarshal(body, &ev) != nil || len(ev.Records) == 0 {
		return // s3:TestEvent and the like
	}
	for _, rec := range ev.Records {
		s3m, _ := rec["s3"].(map[string]any)
		obj, _ := s3m["object"].(map[string]any)
		key, _ := obj["key"].(string)
		name, _ := rec["eventName"].(string)
		if !strings.HasPrefix(key, r.Prefix) || !strings.HasSuffix(key, r.Suffix) || !strings.Contains(name, "ObjectCreated") {
			continue
		}
		obj["key"] = EncodeKey(key)
		if etag, ok := obj["eTag"].(string); ok {
			obj["eTag"] = strings.Trim(etag, `"`)
		}
		rec["eventName"] = strings.TrimPrefix(name, "s3:")
		// versitygw adds restore data (with empty times) to every event; S3
		// sends it only for restores.
		delete(rec, "glacierEventData")
		if t, _ := rec["eventTime"].(string); t == "" {
			// versitygw may leave it empty; S3 always sets it.
			rec["eventTime"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		}
		rec["eventSource"] = "aws:s3"
		out, _ := json.Marshal(map[string]any{"Records": []any{rec}})
		r.mu.Lock()
		r.received++
		if r.arrived == nil {
			r.arrived = map[string]time.Time{}
		}
		if _, ok := r.arrived[key]; !ok {
			r.arrived[key] = time.Now()
		}
		r.mu.Unlock()
		r.Enqueue(out)
		if r.Duplicate {
			r.Enqueue(out)
		}
	}
}

// EncodeKey URL-encodes a key the way S3 event notifications do: each
// segment form-encoded (space as +), slashes kept.
func EncodeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.QueryEscape(s)
	}
	return strings.Join(segs, "/")
}
