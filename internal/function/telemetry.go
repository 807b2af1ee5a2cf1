package function

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
)

// Telemetry is how a handler reports: its logger, its EMF emitter and
// the clock that stamps and times both. Both handlers hold one, so they
// are configured with the same options and report lost metrics the same
// way.
type Telemetry struct {
	// Log receives the handler's log lines; log with the invocation's
	// context (InfoContext, ...) so that lines carry its request ID.
	Log *slog.Logger
	// Metrics writes the handler's EMF lines; use Telemetry.Emit, which
	// reports a line that could not be written.
	Metrics *emf.Emitter
	// Now is the clock, replaced in tests for stable timings.
	Now func() time.Time
}

// Option sets part of a handler's Telemetry. The handlers' constructors
// take these options, so both are wired the same way by Start and by
// tests.
type Option func(*Telemetry)

// WithLogger sets the logger. Without it a handler logs nothing, which
// suits tests and benchmarks that do not read logs.
func WithLogger(l *slog.Logger) Option { return func(t *Telemetry) { t.Log = l } }

// WithMetrics sets the EMF emitter. Without it metrics are written
// nowhere.
func WithMetrics(m *emf.Emitter) Option { return func(t *Telemetry) { t.Metrics = m } }

// WithClock replaces time.Now, so that tests can assert times and ages.
func WithClock(now func() time.Time) Option { return func(t *Telemetry) { t.Now = now } }

// NewTelemetry returns Telemetry that discards logs and metrics and reads
// time.Now, with opts applied: a handler built without options is quiet.
func NewTelemetry(opts ...Option) Telemetry {
	t := Telemetry{
		Log:     slog.New(slog.DiscardHandler),
		Metrics: emf.New(io.Discard, emf.DefaultNamespace),
		Now:     time.Now,
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// Emit writes metrics as one EMF line stamped at. A line that cannot be
// written is logged as a warning, with ctx's request ID, and otherwise
// ignored: the work it measures is done, and failing the invocation for
// a lost metric would make Lambda repeat that work.
func (t Telemetry) Emit(ctx context.Context, at time.Time, metrics ...emf.Metric) {
	if err := t.Metrics.Emit(at, metrics...); err != nil {
		t.Log.WarnContext(ctx, "metrics not written", "error", err.Error())
	}
}
