package eventbus

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/integration/internal/wake"
	"github.com/ddbstream/pipeline/internal/eventrule"
)

// Relay plays S3's EventBridge integration and the forwarder's rule. It
// turns each of the S3 server's event notifications into the event S3
// sends to EventBridge, keeps those the deployed rule matches, and invokes
// the forwarder with them asynchronously, as EventBridge invokes Lambda:
// with retries, and an on-failure destination for events that still fail.
// Events are delivered one at a time, in the order they were queued.
type Relay struct {
	// Bucket and Prefix (the streamer's S3_PREFIX) select the rule,
	// eventrule.Forwarder(Bucket, Prefix): the definition the CDK app
	// deploys, so the local pipeline filters exactly as AWS does.
	Bucket, Prefix string
	// Invoke runs the forwarder; fnErr is a function error.
	Invoke func(ctx context.Context, payload []byte) (fnErr error, err error)
	// Retries and RetryDelay mirror the async invoke configuration: a
	// function error is retried Retries times, RetryDelay apart, as
	// Lambda spaces its asynchronous retries. Nothing waits on the delay:
	// Wait and Changed report when the retries are over.
	Retries    int
	RetryDelay time.Duration
	// Duplicate delivers every event twice, as at-least-once delivery may.
	Duplicate bool

	changed wake.Signal

	mu          sync.Mutex
	inFlight    int
	arrived     map[string]time.Time
	notified    map[string]bool
	queue       chan []byte
	failed      [][]byte
	received    int
	invocations int
	hooks       map[int]func()
	pending     sync.WaitGroup
	once        sync.Once
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
			r.changed.Notify()
		}
	}
}

func (r *Relay) deliver(ctx context.Context, ev []byte) {
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		r.invocations++
		hook := r.hooks[r.invocations]
		delete(r.hooks, r.invocations)
		r.mu.Unlock()
		if hook != nil {
			hook()
		}
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
		if r.RetryDelay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.RetryDelay):
			}
		}
	}
}

// BeforeInvocation runs f once, just before the n-th invocation of the
// forwarder (counting from 1, retries and duplicates included). Because
// events are delivered one at a time, every earlier invocation has ended
// by then: a test can change the world (rotate a secret, say) at an exact
// point of the delivery instead of at a moment in time.
func (r *Relay) BeforeInvocation(n int, f func()) {
	r.mu.Lock()
	if r.hooks == nil {
		r.hooks = map[int]func(){}
	}
	r.hooks[n] = f
	r.mu.Unlock()
}

// Invocations counts invocations of the forwarder so far.
func (r *Relay) Invocations() int { r.mu.Lock(); defer r.mu.Unlock(); return r.invocations }

// Wait blocks until every received event has been handled.
func (r *Relay) Wait() { r.pending.Wait() }

// Changed returns a channel closed when the relay's state next changes:
// a notification arrived or an event was handled. Together with Pending
// and Notified it lets a waiter wake on progress rather than poll.
func (r *Relay) Changed() <-chan struct{} { return r.changed.C() }

// Failed returns the events sent to the on-failure destination.
func (r *Relay) Failed() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.failed...)
}

// Pending counts events not yet handled.
func (r *Relay) Pending() int { r.mu.Lock(); defer r.mu.Unlock(); return r.inFlight }

// Arrived returns when each delivered object's first event arrived, by key.
func (r *Relay) Arrived() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.arrived))
	for k, v := range r.arrived {
		out[k] = v
	}
	return out
}

// Notified returns the keys of every object the S3 server sent a created
// or deleted notification for, whether the rule matched it or not: a
// waiter compares it with the objects written to know that no
// notification is still on its way. A key is noted only after the events
// its notification yields are queued, so a waiter that reads Notified
// before Pending never misses an event.
func (r *Relay) Notified() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bool, len(r.notified))
	for k := range r.notified {
		out[k] = true
	}
	return out
}

// Received counts the events the rule delivered (each once, even with
// Duplicate).
func (r *Relay) Received() int { r.mu.Lock(); defer r.mu.Unlock(); return r.received }

// Enqueue hands a payload to the forwarder as EventBridge would, without
// the rule: tests use it to deliver what the rule would not.
func (r *Relay) Enqueue(ev []byte) {
	r.init()
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
	r.pending.Add(1)
	r.queue <- ev
	r.changed.Notify()
}

// localAccount stands for the bucket owner's account, which the local S3
// server does not know.
const localAccount = "000000000000"

// ServeHTTP takes one webhook notification from the S3 server and answers
// only after the events the rule matches are queued, so that a test that
// posted a notification can Wait for its delivery.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rule := eventrule.Forwarder(r.Bucket, r.Prefix)
	if err := rule.Validate(); err != nil {
		http.Error(w, "relay: "+err.Error(), http.StatusInternalServerError)
		return
	}
	events, err := eventBridgeEvents(body)
	if err != nil {
		http.Error(w, "relay: "+err.Error(), http.StatusBadRequest)
		return
	}
	pattern := rule.Document()
	for _, ev := range events {
		ok, err := eventrule.Matches(pattern, ev.payload)
		if err != nil {
			http.Error(w, "relay: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !ok {
			continue
		}
		r.mu.Lock()
		r.received++
		if r.arrived == nil {
			r.arrived = map[string]time.Time{}
		}
		if _, seen := r.arrived[ev.key]; !seen {
			r.arrived[ev.key] = time.Now()
		}
		r.mu.Unlock()
		r.Enqueue(ev.payload)
		if r.Duplicate {
			r.Enqueue(ev.payload)
		}
	}
	// Every notification is noted, matched or not, and only once its
	// events are queued (see Notified).
	r.mu.Lock()
	if r.notified == nil {
		r.notified = map[string]bool{}
	}
	for _, ev := range events {
		r.notified[ev.key] = true
	}
	r.mu.Unlock()
	r.changed.Notify()
	w.WriteHeader(http.StatusOK)
}
