package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/fold"
)

// The first pass compares a lake listed before the Scan with live values
// read during it, so a change made around the Scan, or made earlier but
// not yet delivered (the stream's lag), shows as a difference: from one
// pass, a difference whose lake state is older than the item's possible
// change time cannot be told from lag. The recheck settles it:
//
//  1. it reads the differing items' live values again (BatchGetItem,
//     strongly consistent) at a time t2;
//  2. it waits, at most Config.Settle, for the pipeline to have delivered
//     the changes made before t2 (Config.IteratorAge, or the whole wait);
//  3. it lists the lake again and folds the lines of those items from the
//     objects written since the first listing;
//  4. an item whose lake now holds its t2 value is in flight: its lake
//     state equals the value, or an earlier state of the lake's history of
//     it equals the value and every later line was made at t2 or after (a
//     change after the read, itself in flight). Anything else is a
//     difference, classified by the states after the recheck.

// candidate is an item that differed in the first pass.
type candidate struct {
	keys  string
	first Outcome
	// lake is the first pass's folded state (Status 0: no line).
	lake      fold.State
	liveFirst []byte
	// Filled by the recheck: the live value at t2 (nil: no such item)
	// and the item's lines from objects written since the first listing.
	live  []byte
	newer []newLine
	// unkeyed: the lake's keys of the item make no key of the table (an
	// altered line), so it cannot be read again and stays as found.
	unkeyed bool
}

type newLine struct {
	orderKey []byte
	kind     fold.Kind
	image    []byte
}

// batchSize is BatchGetItem's limit of keys per request.
const batchSize = 100

func (r *run) recheck(ctx context.Context, firstListing []object) error {
	r.setPhase(PhaseRecheck)
	r.rechecking.Store(int64(len(r.cands)))
	r.rep.Rechecked = int64(len(r.cands))
	t2 := r.cfg.Now()
	if err := r.readLive(ctx); err != nil {
		return err
	}

	r.setPhase(PhaseSettle)
	settled, err := r.settle(ctx, t2)
	if err != nil {
		return err
	}
	r.rep.Settled = settled

	r.setPhase(PhaseRecheck)
	all, err := r.list(ctx)
	if err != nil {
		return err
	}
	var fresh []object
	for _, o := range all {
		if _, seen := slices.BinarySearchFunc(firstListing, o.Key, func(a object, k string) int { return strings.Compare(a.Key, k) }); !seen {
			fresh = append(fresh, o)
		}
	}
	r.rep.RecheckObjects = int64(len(fresh))
	var mu sync.Mutex
	err = r.readObjects(ctx, fresh, func(l fold.Line) error {
		c, ok := r.cands[string(l.Keys)] // read-only while reading
		if !ok {
			return nil
		}
		nl := newLine{orderKey: slices.Clone(l.OrderKey), kind: l.Kind, image: slices.Clone(l.Image)}
		mu.Lock()
		c.newer = append(c.newer, nl)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}

	cutoff := t2.Truncate(time.Second).Add(-time.Second)
	outcomes := make(map[string]Outcome, len(r.candOrder))
	for _, k := range r.candOrder {
		c := r.cands[k]
		o, final, err := r.judge(c, cutoff)
		if err != nil {
			return err
		}
		outcomes[k] = o
		r.rep.add(o, 1)
		if err := r.offer(o, c.keys, final, c.live); err != nil {
			return err
		}
	}
	r.pairKeyTexts(outcomes)
	return nil
}

// judge decides a candidate's outcome after the recheck, and returns the
// lake state it ends with. cutoff is a second before the one the live
// value was read in: a lake line made from then on may be newer than that
// value (creation times are whole seconds).
func (r *run) judge(c *candidate, cutoff time.Time) (Outcome, fold.State, error) {
	if c.unkeyed {
		c.live = c.liveFirst
		return c.first, c.lake, nil
	}
	lines := slices.DeleteFunc(c.newer, func(l newLine) bool {
		return c.lake.Status != 0 && bytes.Compare(l.orderKey, c.lake.OrderKey) <= 0
	})
	slices.SortStableFunc(lines, func(a, b newLine) int { return bytes.Compare(a.orderKey, b.orderKey) })
	// states[i] is the lake state after lines[:i]: states[0] the first
	// pass's, states[len(lines)] the final one.
	states := make([]fold.State, 0, len(lines)+1)
	st := c.lake
	st.Keys = c.keys
	states = append(states, st)
	for _, l := range lines {
		st = fold.Winner(st, l.orderKey, l.kind, l.image)
		states = append(states, st)
	}
	final := states[len(states)-1]
	for i := len(states) - 1; i >= 0; i-- {
		if i < len(lines) && lineTime(lines[i].orderKey).Before(cutoff) {
			// A line made before the live read follows this state, so
			// the state was not current then.
			break
		}
		same, err := r.sameState(states[i], c.live)
		if err != nil {
			return 0, final, err
		}
		if same {
			return InFlight, final, nil
		}
	}
	live := c.live != nil
	switch final.Status {
	case fold.StatusPresent:
		if live {
			return Different, final, nil
		}
		return OnlyInLake, final, nil
	case fold.StatusUnknown:
		if live {
			return Unverified, final, nil
		}
		return OnlyInLake, final, nil
	case fold.StatusConflict:
		return Conflict, final, nil
	}
	return MissingFromLake, final, nil // absent, or no line, while live
}

// sameState reports whether a lake state holds the live value (nil: no
// item).
func (r *run) sameState(s fold.State, live []byte) (bool, error) {
	switch s.Status {
	case 0, fold.StatusAbsent:
		return live == nil, nil
	case fold.StatusPresent:
		if live == nil {
			return false, nil
		}
		return sameImage(s.Image, r.cfg.ImageFormat, live)
	}
	return false, nil
}

// lineTime is the creation second an order key starts with.
func lineTime(orderKey []byte) time.Time {
	var s int64
	for _, c := range orderKey[:min(len(orderKey), 11)] {
		s = s*10 + int64(c-'0')
	}
	return time.Unix(s, 0)
}

// readLive reads the candidates' live values with BatchGetItem, strongly
// consistent, 100 keys a request, retrying unprocessed keys with backoff.
func (r *run) readLive(ctx context.Context) error {
	sc := r.newScanner()
	var keys []map[string]types.AttributeValue
	for _, k := range r.candOrder {
		av, err := keyAttributes(k, r.cfg.ImageFormat, r.keyTypes)
		if err != nil {
			r.cands[k].unkeyed = true
			r.rep.Rechecked--
			r.rep.NotRechecked++
			continue
		}
		keys = append(keys, av)
	}
	for start := 0; start < len(keys); start += batchSize {
		pending := keys[start:min(len(keys), start+batchSize)]
		// DynamoDB answers a BatchGetItem it can only partly serve with
		// the rest in UnprocessedKeys rather than an error (it throws
		// ProvisionedThroughputExceededException only when it can serve
		// none: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html),
		// so unprocessed keys are a throttle too, and wait on the same
		// budget (Config.MaxThrottleWait).
		err := r.patient(ctx, "batch get item", func() error {
			if err := r.lim.wait(ctx); err != nil {
				return err
			}
			out, err := r.cfg.BatchGet.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems:           map[string]types.KeysAndAttributes{r.cfg.Table: {Keys: pending, ConsistentRead: aws.Bool(true)}},
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			})
			if err != nil {
				return err
			}
			for _, cc := range out.ConsumedCapacity {
				r.addRCU(false, aws.ToFloat64(cc.CapacityUnits))
			}
			for _, item := range out.Responses[r.cfg.Table] {
				k, image, err := sc.render(item)
				if err != nil {
					return fmt.Errorf("item: %w", err)
				}
				// Every key asked for is one the lake or the Scan wrote
				// canonically, so the item renders back to it; an item
				// that does not would be a key asked for in a form
				// DynamoDB normalised, which the recheck cannot place.
				if c, ok := r.cands[string(k)]; ok {
					c.live = slices.Clone(image)
				}
			}
			if pending = out.UnprocessedKeys[r.cfg.Table].Keys; len(pending) > 0 {
				return fmt.Errorf("%w: %d keys", errUnprocessed, len(pending))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("batch get item: %w", err)
		}
	}
	return nil
}

// settle waits until the pipeline has delivered the changes made before
// t2, at most Config.Settle. With Config.IteratorAge it polls: the
// pipeline has processed every record made before now - age, and a
// processed record is in S3 within SettleMargin. Without it, it waits the
// whole Settle. It reports whether the iterator age showed the pipeline
// caught up.
func (r *run) settle(ctx context.Context, t2 time.Time) (bool, error) {
	if r.cfg.Settle <= 0 {
		return false, nil
	}
	deadline := r.cfg.Now().Add(r.cfg.Settle)
	if r.cfg.IteratorAge == nil {
		return false, r.cfg.Sleep(ctx, r.cfg.Settle)
	}
	const poll = 10 * time.Second
	for {
		now := r.cfg.Now()
		// An error reading the metric is not a reason to give up a run
		// that has scanned the table: keep waiting, up to the deadline.
		if age, err := r.cfg.IteratorAge(ctx); err == nil && !now.Add(-age).Before(t2.Add(r.cfg.SettleMargin)) {
			return true, nil
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return false, nil
		}
		if err := r.cfg.Sleep(ctx, min(poll, left)); err != nil {
			return false, err
		}
	}
}
