package function

import (
	"context"
	"time"
)

// WithMargin returns a context that ends margin before ctx's deadline.
// Lambda stops a function at its deadline without letting it answer, so
// work done under this context leaves margin to log and to tell Lambda
// what was not done (the records to retry, the objects not delivered).
// The margin is kept here only: clients below a handler (S3, Databricks)
// stop at this context's deadline and subtract nothing more. Without a
// deadline, as in tests and tools, the context only adds a cancel.
func WithMargin(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-margin))
	}
	return context.WithCancel(ctx)
}
