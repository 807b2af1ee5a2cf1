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

// Relay plays S3's EventBridge integration and the rules on the default
// bus. It turns each of the S3 server's event notifications into the
// event S3 sends to EventBridge and hands it to every rule that matches
// it: the forwarder's rule, given by the Relay's own fields, and each of
// Routes (the export planner's, say). Each rule's target is invoked
// asynchronously, as EventBridge invokes Lambda: with retries, and an
// on-failure destination for events that still fail. Each target has its
// own queue, delivered one event at a time in the order queued, so one
// rule's slow target never holds up another's.
type Relay struct {
	// Bucket and Prefix (the streamer's S3_PREFIX) select the forwarder's
	// rule, eventrule.Forwarder(Bucket, Prefix): the definition the CDK
	// app deploys, so the local pipeline filters exactly as AWS does.
	Bucket, Prefix string
	// Invoke runs the forwarder; fnErr is a function error.
	Invoke func(ctx context.Context, payload []byte) (fnErr error, err error)
	// Retries and RetryDelay mirror the async invoke configuration: a
	// function error is retried Retries times, RetryDelay apart, as
	// Lambda spaces its asynchronous retries. Nothing waits on the delay:
	// Wait and Changed report when the retries are over.
	Retries    int
	RetryDelay time.Duration
	// OnFailure is the forwarder's on-failure destination, as
	// Route.OnFailure is a route's.
	OnFailure func(event []byte, attempts int, fnErr error)
	// Duplicate delivers every event twice, to every target, as
	// at-least-once delivery may.
	Duplicate bool
	// Routes are the other rules and their targets. Set them before Run
	// or the first notification.
	Routes []*Route

	changed wake.Signal

	mu        sync.Mutex
	arrived   map[string]time.Time
	notified  map[string]bool
	forwarder *Route
	pending   sync.WaitGroup
	once      sync.Once
}

// Route is one more rule on the bus and the function it invokes, with its
// own asynchronous invoke configuration: the export planner's rule,
// eventrule.ExportManifest, beside the forwarder's.
type Route struct {
	// Name names the target in errors.
	Name string
	// Rule is the rule's pattern, as deployed.
	Rule eventrule.Pattern
	// Invoke, Retries and RetryDelay are as the Relay's fields of those
	// names, for this target.
	Invoke     func(ctx context.Context, payload []byte) (fnErr error, err error)
	Retries    int
	RetryDelay time.Duration
	// OnFailure, if set, is called with an event whose attempts were all
	// spent, their number and the last function error, as Lambda then
	// sends the function's on-failure destination its record; the event
	// is in Failed as well.
	OnFailure func(event []byte, attempts int, fnErr error)

	queue chan []byte

	mu          sync.Mutex
	inFlight    int
	failed      [][]byte
	received    int
	invocations int
	hooks       map[int]func()
}

// Failed returns the route's events sent to its on-failure destination.
func (rt *Route) Failed() [][]byte {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([][]byte(nil), rt.failed...)
}

// Pending counts the route's events not yet handled.
func (rt *Route) Pending() int { rt.mu.Lock(); defer rt.mu.Unlock(); return rt.inFlight }

// Received counts the events the route's rule matched (each once, even
// with Duplicate).
func (rt *Route) Received() int { rt.mu.Lock(); defer rt.mu.Unlock(); return rt.received }

// Invocations counts the route's invocations, retries and duplicates
// included.
func (rt *Route) Invocations() int { rt.mu.Lock(); defer rt.mu.Unlock(); return rt.invocations }

func (r *Relay) init() {
	r.once.Do(func() {
		r.forwarder = &Route{Name: "forwarder", queue: make(chan []byte, 1<<16)}
		for _, rt := range r.Routes {
			rt.queue = make(chan []byte, 1<<16)
		}
	})
}

// settings returns what a route's deliveries use: the Relay's own fields
// for the forwarder, read when delivering, since the pipeline sets Invoke
// once the forwarder runs.
func (r *Relay) settings(rt *Route) (invoke func(context.Context, []byte) (error, error), retries int, delay time.Duration) {
	if rt == r.forwarder {
		return r.Invoke, r.Retries, r.RetryDelay
	}
	return rt.Invoke, rt.Retries, rt.RetryDelay
}

// Run delivers queued events, every route's, until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	r.init()
	var wg sync.WaitGroup
	for _, rt := range r.Routes {
		wg.Add(1)
		go func() { defer wg.Done(); r.run(ctx, rt) }()
	}
	r.run(ctx, r.forwarder)
	wg.Wait()
}

func (r *Relay) run(ctx context.Context, rt *Route) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-rt.queue:
			r.deliver(ctx, rt, ev)
			rt.mu.Lock()
			rt.inFlight--
			rt.mu.Unlock()
			r.pending.Done()
			r.changed.Notify()
		}
	}
}

func (r *Relay) deliver(ctx context.Context, rt *Route, ev []byte) {
	invoke, retries, delay := r.settings(rt)
	for attempt := 0; ; attempt++ {
		rt.mu.Lock()
		rt.invocations++
		hook := rt.hooks[rt.invocations]
		delete(rt.hooks, rt.invocations)
		rt.mu.Unlock()
		if hook != nil {
			hook()
		}
		fnErr, err := invoke(ctx, ev)
		if err != nil || fnErr == nil {
			return
		}
		if attempt >= retries {
			onFailure := rt.OnFailure
			if rt == r.forwarder {
				onFailure = r.OnFailure
			}
			if onFailure != nil {
				onFailure(ev, attempt+1, fnErr)
			}
			rt.mu.Lock()
			rt.failed = append(rt.failed, ev)
			rt.mu.Unlock()
			return
		}
		if delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
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
	r.init()
	rt := r.forwarder
	rt.mu.Lock()
	if rt.hooks == nil {
		rt.hooks = map[int]func(){}
	}
	rt.hooks[n] = f
	rt.mu.Unlock()
}

// Invocations counts invocations of the forwarder so far.
func (r *Relay) Invocations() int { r.init(); return r.forwarder.Invocations() }

// Wait blocks until every received event, of every route, has been
// handled.
func (r *Relay) Wait() { r.pending.Wait() }

// Changed returns a channel closed when the relay's state next changes:
// a notification arrived or an event was handled, on any route. Together
// with Pending and Notified it lets a waiter wake on progress rather
// than poll.
func (r *Relay) Changed() <-chan struct{} { return r.changed.C() }

// Failed returns the forwarder's events sent to its on-failure
// destination (a Route's are its own Failed).
func (r *Relay) Failed() [][]byte { r.init(); return r.forwarder.Failed() }

// Pending counts events not yet handled, of every route.
func (r *Relay) Pending() int {
	r.init()
	n := r.forwarder.Pending()
	for _, rt := range r.Routes {
		n += rt.Pending()
	}
	return n
}

// Arrived returns when each object the forwarder's rule delivered first
// had its event arrive, by key.
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
// or deleted notification for, whether a rule matched it or not: a
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

// Received counts the events the forwarder's rule delivered (each once,
// even with Duplicate).
func (r *Relay) Received() int { r.init(); return r.forwarder.Received() }

// Enqueue hands a payload to the forwarder as EventBridge would, without
// the rule: tests use it to deliver what the rule would not.
func (r *Relay) Enqueue(ev []byte) {
	r.init()
	r.enqueue(r.forwarder, ev)
}

func (r *Relay) enqueue(rt *Route, ev []byte) {
	rt.mu.Lock()
	rt.inFlight++
	rt.mu.Unlock()
	r.pending.Add(1)
	rt.queue <- ev
	r.changed.Notify()
}

// localAccount stands for the bucket owner's account, which the local S3
// server does not know.
const localAccount = "000000000000"

// ServeHTTP takes one webhook notification from the S3 server and answers
// only after the events the rules match are queued, so that a test that
// posted a notification can Wait for its delivery.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.init()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type rule struct {
		route   *Route
		pattern map[string]any
	}
	rules := []rule{{route: r.forwarder}}
	patterns := []eventrule.Pattern{eventrule.Forwarder(r.Bucket, r.Prefix)}
	for _, rt := range r.Routes {
		rules = append(rules, rule{route: rt})
		patterns = append(patterns, rt.Rule)
	}
	for i, p := range patterns {
		if err := p.Validate(); err != nil {
			http.Error(w, "relay: "+rules[i].route.Name+": "+err.Error(), http.StatusInternalServerError)
			return
		}
		rules[i].pattern = p.Document()
	}
	events, err := eventBridgeEvents(body)
	if err != nil {
		http.Error(w, "relay: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, ev := range events {
		for _, ru := range rules {
			ok, err := eventrule.Matches(ru.pattern, ev.payload)
			if err != nil {
				http.Error(w, "relay: "+err.Error(), http.StatusInternalServerError)
				return
			}
			if !ok {
				continue
			}
			ru.route.mu.Lock()
			ru.route.received++
			ru.route.mu.Unlock()
			if ru.route == r.forwarder {
				r.mu.Lock()
				if r.arrived == nil {
					r.arrived = map[string]time.Time{}
				}
				if _, seen := r.arrived[ev.key]; !seen {
					r.arrived[ev.key] = time.Now()
				}
				r.mu.Unlock()
			}
			r.enqueue(ru.route, ev.payload)
			if r.Duplicate {
				r.enqueue(ru.route, ev.payload)
			}
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
