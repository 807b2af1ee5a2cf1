package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

// unservingTable answers the recheck's BatchGetItem as a table throttled
// in part: the first calls return every key in UnprocessedKeys, with no
// error, as DynamoDB does when it can serve only some of a batch.
type unservingTable struct {
	*fakeTable
	mu    sync.Mutex
	calls int
}

func (f *unservingTable) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == 0 {
		return f.fakeTable.BatchGetItem(ctx, in, o...)
	}
	f.calls--
	return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
}

// A recheck whose keys stay unprocessed waits on the throttle budget
// (MaxThrottleWait), as a throttled Scan does, not a dozen short tries:
// here DynamoDB serves nothing for 30 calls, minutes of backoff, and the
// run still ends with the right answer; with no end it fails as
// throttled.
func TestRecheckWaitsOutUnprocessedKeys(t *testing.T) {
	setup := func(calls int) (*fixture, Config) {
		fx := newFixture(t, record.Plain)
		var changes []foldtest.Change
		for i := range 3 {
			changes = append(changes, fx.change("a", i, fmt.Sprint(i), tNow.Add(-time.Hour)))
			fx.table.put(avItem("a", i, fmt.Sprint(i)))
		}
		fx.object(changes...)
		fx.table.put(avItem("z", 1, "99")) // missing from the lake: the recheck reads it
		cfg := fx.config()
		cfg.BatchGet = &unservingTable{fakeTable: fx.table, calls: calls}
		return fx, cfg
	}
	fx, cfg := setup(30)
	rep := fx.run(cfg)
	if got, expect := countsOf(rep), (counts{equal: 3, missing: 1}); got != expect {
		t.Errorf("counts:\n got    %+v\n expect %+v", got, expect)
	}
	if rep.ThrottledRequests != 30 || rep.ThrottleWait < time.Minute {
		t.Errorf("throttled requests %d over %s; expect 30 over minutes", rep.ThrottledRequests, rep.ThrottleWait)
	}

	_, cfg = setup(-1)
	cfg.MaxThrottleWait = 10 * time.Minute
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrThrottled) {
		t.Fatalf("error: got %v, expect ErrThrottled", err)
	}
}
