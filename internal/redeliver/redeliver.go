// Package redeliver delivers objects again with the forwarder's own code,
// in process, and says what became of each one.
//
// ddbstream redrive (the forwarder's on-failure messages) and ddbstream
// replay (objects chosen by table and time) must deliver exactly as the
// forwarder does: the same destination templates, the same reads of the
// announced object version, the same idempotency (a volume path
// overwritten, one job run per idempotency token, copy-into's MERGE
// inserting no line twice). So they run forwarder.Handler itself on an event, with
// the operator's credentials, rather than a second implementation that
// could drift from it. The handler reports each object in one log line
// (result delivered, skipped or failed); Deliverer reads those lines to
// tell the caller each object's outcome.
package redeliver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/secret"
)

// Results of one object, as the forwarder logs them.
const (
	Delivered = "delivered"
	Skipped   = "skipped"
	Failed    = "failed"
)

// Outcome is what became of one object.
type Outcome struct {
	Bucket, Key string
	// Result is Delivered, Skipped or Failed.
	Result string
	// Reason says why an object was skipped; Error why it failed.
	Reason, Error string
	// Destination is where it went (a path, a job run, a statement).
	Destination string
}

// Clients are the calls the forwarder makes: S3 reads and the
// Databricks secret.
type Clients struct {
	S3      forwarder.S3
	Secrets secret.Getter
}

// Deliverer runs the forwarder's handler. It is not safe for concurrent
// use: each Deliver reads the outcomes of its own objects.
type Deliverer struct {
	handler *forwarder.Handler
	log     *capture
}

// New returns a Deliverer with the forwarder's configuration cfg (read
// from the deployed forwarder's environment, forwarder.ConfigFromEnv).
// opts follow the forwarder's own client options, for tests (an HTTP
// client that trusts a test server, a retry policy without waits).
func New(cfg forwarder.Config, c Clients, opts ...databricks.Option) *Deliverer {
	creds := secret.NewCache(c.Secrets, cfg.SecretID, cfg.SecretTTL)
	db := databricks.New(creds, append(forwarder.DatabricksOptions(cfg), opts...)...)
	lines := &capture{}
	return &Deliverer{
		handler: forwarder.New(c.S3, db, cfg, function.WithLogger(slog.New(lines))),
		log:     lines,
	}
}

// Deliver invokes the forwarder on payload, an event it accepts (an
// EventBridge "Object Created" event, an S3 notification). It returns the
// outcome of every object the forwarder handled, and the handler's error:
// nil only when no object failed, the condition on which the caller may
// forget the event.
func (d *Deliverer) Deliver(ctx context.Context, payload []byte) ([]Outcome, error) {
	d.log.reset()
	_, err := d.handler.Invoke(ctx, payload)
	out := d.log.take()
	if err != nil {
		return out, fmt.Errorf("forwarder: %w", err)
	}
	return out, nil
}

// capture is a slog.Handler that keeps the forwarder's per-object lines
// (those with a result) and drops the rest.
type capture struct {
	mu       sync.Mutex
	outcomes []Outcome
}

func (c *capture) reset() {
	c.mu.Lock()
	c.outcomes = nil
	c.mu.Unlock()
}

func (c *capture) take() []Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.outcomes
	c.outcomes = nil
	return out
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	var o Outcome
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		switch a.Key {
		case "bucket":
			o.Bucket = v
		case "key":
			o.Key = v
		case "result":
			o.Result = v
		case "reason":
			o.Reason = v
		case "error":
			o.Error = v
		case "destination":
			o.Destination = v
		}
		return true
	})
	if o.Result == "" || o.Key == "" {
		return nil
	}
	c.mu.Lock()
	c.outcomes = append(c.outcomes, o)
	c.mu.Unlock()
	return nil
}

func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }
