package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"
)

// A reconciliation scans the whole table, for hours on a large one, on a
// table that serves traffic. DynamoDB answers a read over the table's
// capacity with ProvisionedThroughputExceededException (or
// ThrottlingException, RequestLimitExceeded), and asks callers to "reduce
// the frequency of requests and use exponential backoff"
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff).
// The SDK's standard retryer makes three attempts
// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html),
// and once its client-wide retry quota is spent by many throttles it stops
// retrying at all (aws/ratelimit.QuotaExceededError): a few seconds of
// throttling would end a run of hours. So every Scan page and BatchGetItem
// request is retried here, beyond the SDK's attempts, while DynamoDB
// throttles it: with exponential backoff from ThrottleBaseDelay, capped at
// ThrottleMaxDelay, with jitter so that the parallel segments do not come
// back in step, until one request has waited Config.MaxThrottleWait in
// total. A request that succeeds starts its next one afresh.

// ErrThrottled is returned, wrapped, when DynamoDB kept throttling one
// request for Config.MaxThrottleWait.
var ErrThrottled = errors.New("DynamoDB kept throttling the reads")

// The backoff between throttled attempts of one request.
const (
	ThrottleBaseDelay = 500 * time.Millisecond
	ThrottleMaxDelay  = 20 * time.Second
)

// throttleCodes are the error codes DynamoDB throttles with (the API
// reference's common errors, and the SDK's retry.DefaultThrottleErrorCodes
// for DynamoDB).
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
}

// isThrottle reports whether err is DynamoDB throttling, or the SDK
// giving up its retries of throttling for lack of retry quota.
func isThrottle(err error) bool {
	if errors.Is(err, errUnprocessed) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()] {
		return true
	}
	var quota ratelimit.QuotaExceededError
	return errors.As(err, &quota)
}

// errUnprocessed is a BatchGetItem answer that left keys unprocessed:
// DynamoDB's partial throttle.
var errUnprocessed = errors.New("unprocessed keys")

// throttleDelay is the wait after the attempt-th throttled attempt (from
// 0): exponential, capped, with "equal jitter" (half fixed, half random),
// so that it never drops below half the step.
func throttleDelay(attempt int) time.Duration {
	d := ThrottleMaxDelay
	if attempt < 16 {
		d = min(ThrottleMaxDelay, ThrottleBaseDelay<<attempt)
	}
	return d/2 + rand.N(d/2+1)
}

// patient runs call, and again after a backoff while DynamoDB throttles
// it, until it has waited Config.MaxThrottleWait; what names the request
// in the error.
func (r *run) patient(ctx context.Context, what string, call func() error) error {
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || !isThrottle(err) || ctx.Err() != nil {
			return err
		}
		if waited >= r.cfg.MaxThrottleWait {
			return fmt.Errorf("%s: %w for %s (%d attempts, each after the SDK's own retries): %w", what, ErrThrottled, waited.Round(time.Second), attempt+1, err)
		}
		d := min(throttleDelay(attempt), r.cfg.MaxThrottleWait-waited)
		r.mu.Lock()
		r.rep.ThrottledRequests++
		r.rep.ThrottleWait += d
		r.mu.Unlock()
		if err := r.cfg.Sleep(ctx, d); err != nil {
			return err
		}
		waited += d
	}
}
