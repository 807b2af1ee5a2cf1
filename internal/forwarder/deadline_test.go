package forwarder

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// TestDeadlineMarginIsKeptOnce: DEADLINE_MARGIN is kept once, by the
// handler's context. With an 11 s Lambda deadline and a 5 s margin the
// work must end 6 s from now, so a retry that Retry-After schedules 5 s
// from now (6 s before the Lambda deadline) runs, and one 7 s from now
// (4 s before) is refused without waiting.
func TestDeadlineMarginIsKeptOnce(t *testing.T) {
	tests := []struct {
		name           string
		retryAfter     string
		expectAttempts int
		expectWaits    []time.Duration
		expectResult   string
	}{
		{"retry 6s before the Lambda deadline", "5", 2, []time.Duration{5 * time.Second}, "delivered"},
		{"retry 4s before the Lambda deadline", "7", 1, nil, "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := volumeConfig(t)
			cfg.DeadlineMargin = 5 * time.Second
			e := newEnv(t, cfg)
			e.ws.Inject(fakedatabricks.Fault{Status: 429, RetryAfter: tc.retryAfter})
			e.s3.put("cdc-bucket", "cdc/table=Orders/dt=2026-11-22/hour=17/a b+c.jsonl.gz", []byte("eb"), "0123456789abcdef0123456789abcdef")
			now := time.Now()
			var mu sync.Mutex
			var waits []time.Duration
			opts := append(DatabricksOptions(cfg), databricks.WithHTTPClient(e.srv.Client()),
				databricks.WithClock(func() time.Time { return now }),
				databricks.WithSleep(func(_ context.Context, d time.Duration) error {
					mu.Lock()
					waits = append(waits, d)
					mu.Unlock()
					return nil
				}))
			db := databricks.New(secret.NewCache(e.sm, "databricks", time.Minute), opts...)
			e.h = New(e.s3, db, cfg, function.WithLogger(lambdalog.New(e.logs, slog.LevelDebug)))
			ctx, cancel := context.WithDeadline(context.Background(), now.Add(11*time.Second))
			defer cancel()

			_, _ = e.h.Invoke(ctx, event(t, "eventbridge.json"))

			lines := e.logLines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines; expect one:\n%s", len(lines), e.logs)
			}
			got := struct {
				attempts int
				waits    []time.Duration
				result   string
			}{int(lines[0]["attempts"].(float64)), waits, lines[0]["result"].(string)}
			if got.attempts != tc.expectAttempts {
				t.Errorf("attempts: got %d, expect %d (%v)", got.attempts, tc.expectAttempts, lines[0]["error"])
			}
			if len(got.waits) != len(tc.expectWaits) || len(got.waits) == 1 && got.waits[0] != tc.expectWaits[0] {
				t.Errorf("waits: got %v, expect %v", got.waits, tc.expectWaits)
			}
			if got.result != tc.expectResult {
				t.Errorf("result: got %q, expect %q", got.result, tc.expectResult)
			}
		})
	}
}
