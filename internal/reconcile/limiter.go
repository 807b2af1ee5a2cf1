package reconcile

import (
	"context"
	"sync"
	"time"
)

// limiter caps read capacity per second with a token bucket charged after
// the fact, the scheme of AWS's "Rate-Limited Scans in Amazon DynamoDB"
// (https://aws.amazon.com/blogs/developer/rate-limited-scans-in-amazon-dynamodb/):
// a page's cost is known only from its response's ConsumedCapacity, so a
// request waits until the bucket is out of debt, and the response's
// capacity is then taken from it, possibly into debt that the next request
// waits off. Over any stretch the consumption stays within rate per second
// plus one page per segment in flight. The bucket holds at most one
// second of capacity, so idle time buys no burst.
type limiter struct {
	rate  float64 // RCUs per second; 0: no limit
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{rate: rate, now: now, sleep: sleep, last: now()}
}

// refill adds the capacity earned since the last look; l.mu is held.
func (l *limiter) refill() {
	t := l.now()
	if el := t.Sub(l.last).Seconds(); el > 0 {
		l.tokens = min(l.rate, l.tokens+el*l.rate)
	}
	l.last = t
}

// wait blocks until the bucket is not in debt.
func (l *limiter) wait(ctx context.Context) error {
	if l.rate <= 0 {
		return ctx.Err()
	}
	for {
		l.mu.Lock()
		l.refill()
		debt := -l.tokens
		l.mu.Unlock()
		if debt <= 0 {
			return ctx.Err()
		}
		if err := l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second))+time.Millisecond); err != nil {
			return err
		}
	}
}

// spend takes the capacity a response consumed.
func (l *limiter) spend(units float64) {
	if l.rate <= 0 || units <= 0 {
		return
	}
	l.mu.Lock()
	l.refill()
	l.tokens -= units
	l.mu.Unlock()
}
