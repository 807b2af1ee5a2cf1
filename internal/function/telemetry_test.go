package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/lambdalog"
)

// brokenWriter fails every write, as a closed standard output would.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestEmit(t *testing.T) {
	tests := []struct {
		name          string
		expectMetrics bool
		expectWarning bool
	}{
		{"written", true, false},
		{"not written: warned with the request ID", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs, metrics bytes.Buffer
			m := emf.New(&metrics, "NS")
			if tc.expectWarning {
				m = emf.New(brokenWriter{}, "NS")
			}
			tel := NewTelemetry(WithLogger(lambdalog.New(&logs, slog.LevelInfo)), WithMetrics(m))
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-7"})

			tel.Emit(ctx, time.Unix(0, 0), emf.Metric{Name: "Records", Unit: emf.Count, Value: 3})

			if got := bytes.Contains(metrics.Bytes(), []byte(`"Records":3`)); got != tc.expectMetrics {
				t.Errorf("metric line written: got %v, expect %v (%s)", got, tc.expectMetrics, metrics.String())
			}
			var line map[string]any
			gotWarning := logs.Len() > 0 && json.Unmarshal(logs.Bytes(), &line) == nil
			if gotWarning != tc.expectWarning {
				t.Fatalf("warning: got %q, expect one: %v", logs.String(), tc.expectWarning)
			}
			if !tc.expectWarning {
				return
			}
			for k, expect := range map[string]any{"level": "WARN", "msg": "metrics not written", "requestId": "req-7", "error": "stdout closed"} {
				if got := line[k]; got != expect {
					t.Errorf("warning %s: got %v, expect %v", k, got, expect)
				}
			}
		})
	}
}

func TestNewTelemetryDefaultsAreQuiet(t *testing.T) {
	tel := NewTelemetry()
	if tel.Log == nil || tel.Metrics == nil || tel.Now == nil {
		t.Fatalf("defaults: got %+v, expect every field set", tel)
	}
	tel.Log.Error("nowhere")
	tel.Emit(context.Background(), tel.Now(), emf.Metric{Name: "A", Unit: emf.Count, Value: 1})

	at := time.Date(2026, 11, 23, 17, 5, 0, 0, time.UTC)
	if got := NewTelemetry(WithClock(func() time.Time { return at })).Now(); !got.Equal(at) {
		t.Errorf("clock: got %v, expect %v", got, at)
	}
}
