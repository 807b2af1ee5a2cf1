package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/reconcile"
)

// staleInsert is a stream event of one INSERT of item pk, created at t,
// as the mapping would have handed it to the streamer then.
func staleInsert(streamARN, pk string, t time.Time, seq int) []byte {
	return []byte(fmt.Sprintf(`{"Records":[{"eventID":"stale-%[2]s","eventName":"INSERT","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",`+
		`"dynamodb":{"ApproximateCreationDateTime":%[3]d,"Keys":{"pk":{"S":%[2]q}},"NewImage":{"pk":{"S":%[2]q},"v":{"N":"1"}},`+
		`"SequenceNumber":"%021[4]d","SizeBytes":20,"StreamViewType":"NEW_AND_OLD_IMAGES"},"eventSourceARN":%[1]q}]}`, streamARN, pk, t.Unix(), seq))
}

// An item whose REMOVE the lake lost stays present forever unless the
// backfill deletes it: the export holds only the items that exist. Here
// the lake holds an INSERT of "ghost" from an hour ago whose REMOVE it
// never got (a range past retention), and one of "late" from a minute
// ago, inside the order key's margin before the export time. The backfill
// deletes "ghost" with a line at the snapshot's rank, which reaches
// Databricks like any object; "late" it cannot judge (a change inside the
// margin may be newer than the export), and reconcile still finds it.
func TestBackfillDeletesWhatTheLakeLostTheRemoveOf(t *testing.T) {
	const preloaded = 40
	p := startPipeline(t, Options{Preload: preload(preloaded)})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()

	now := time.Now()
	for i, stale := range []struct {
		pk string
		at time.Time
	}{{"ghost", now.Add(-time.Hour)}, {"late", now.Add(-time.Minute)}} {
		res, err := p.Streamer.Invoke(ctx, staleInsert(p.StreamARN, stale.pk, stale.at, 100+i))
		if err != nil || res.Error != nil {
			t.Fatalf("stream batch of %s: %v %v", stale.pk, err, res.Error)
		}
	}

	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, preloaded)
	check(t,
		expectation{field: "items deleted by the backfill", got: int(r.Deleted), expect: 1},
		expectation{field: "delete object written before", got: map[bool]int{true: 1}[r.DeletesAlready], expect: 0},
	)
	drain(t, ctx, p, 0)

	rec := reconciled(t, ctx, p)
	check(t,
		expectation{field: "equal", got: int(rec.Equal), expect: preloaded},
		expectation{field: "only in lake (late, inside the margin)", got: int(rec.OnlyInLake), expect: 1},
		expectation{field: "differences", got: int(rec.Differences()), expect: 1},
	)
	for _, x := range rec.Examples {
		if x.Outcome == reconcile.OnlyInLake && !strings.Contains(x.Keys, `"late"`) {
			t.Errorf("only in lake: %s, expect only the item inside the margin", x.Keys)
		}
	}

	// Databricks got the delete lines as any object.
	var delivered []string
	for path := range p.Workspace.Files() {
		delivered = append(delivered, path)
	}
	if !containsSuffix(delivered, "-deletes.jsonl.gz") {
		t.Errorf("delivered files: %v, expect the export's delete object", delivered)
	}

	// Again: the export is converted and its deletes written; nothing new.
	r2 := runBackfill(t, ctx, p, nil)
	check(t,
		expectation{field: "again: already done", got: map[bool]int{true: 1}[r2.AlreadyDone], expect: 1},
		expectation{field: "again: deletes written before", got: map[bool]int{true: 1}[r2.DeletesAlready], expect: 1},
	)
}

func containsSuffix(names []string, suffix string) bool {
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}
