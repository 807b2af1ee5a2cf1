package function

import (
	"context"
	"testing"
	"time"
)

func TestWithMargin(t *testing.T) {
	// The parent's deadline is in the future, as a Lambda invocation's is:
	// a literal date would pass and expire the parent before the test runs.
	deadline := time.Now().Add(time.Hour)
	tests := []struct {
		name           string
		parent         func() (context.Context, context.CancelFunc)
		margin         time.Duration
		expectDeadline time.Time
		expectHas      bool
	}{
		{"margin before the Lambda deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), deadline)
		}, 3 * time.Second, deadline.Add(-3 * time.Second), true},
		{"no deadline: none added", func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}, 3 * time.Second, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancelParent := tc.parent()
			defer cancelParent()
			ctx, cancel := WithMargin(parent, tc.margin)
			gotDeadline, gotHas := ctx.Deadline()
			if gotHas != tc.expectHas {
				t.Errorf("has deadline: got %v, expect %v", gotHas, tc.expectHas)
			}
			if !gotDeadline.Equal(tc.expectDeadline) {
				t.Errorf("deadline: got %v, expect %v", gotDeadline, tc.expectDeadline)
			}
			cancel()
			if got := ctx.Err(); got != context.Canceled {
				t.Errorf("after cancel: got %v, expect %v", got, context.Canceled)
			}
			if got := parent.Err(); got != nil {
				t.Errorf("parent after cancel: got %v, expect it untouched", got)
			}
		})
	}
}
