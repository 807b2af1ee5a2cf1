package currentstate

import (
	"fmt"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

// deleteLines makes the delete lines ddbstream backfill writes after an
// export taken at exportTime, by the same rule (fold.State.DeletedBySnapshot)
// over the lake's lines, with the same writer (record.AppendSnapshotDelete).
func deleteLines(t *testing.T, lake []object, exportTime time.Time) [][]byte {
	t.Helper()
	var all [][]byte
	for _, o := range lake {
		all = append(all, o.lines...)
	}
	tb, err := fold.Lines(all)
	if err != nil {
		t.Fatal(err)
	}
	snap := record.Snapshot{Table: foldtest.Table, ExportID: "01234567890123-a1b2c3d4", ExportTime: exportTime}
	rank := orderkey.Snapshot(exportTime)
	var out [][]byte
	err = tb.Each(func(st fold.State) error {
		if st.DeletedBySnapshot(rank) {
			out = append(out, record.AppendSnapshotDelete(nil, &snap, []byte(st.Keys), len(out)+1))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackfillDeletes: the lake lost the REMOVE of "ghost" (inserted an
// hour before the export, absent from it); "kept" is in the export;
// "late" was inserted inside the margin; "gone" was removed before. The
// backfill's delete lines delete ghost alone, and current_state.sql
// applies them as the fold does, in both image formats and TTL modes.
func TestBackfillDeletes(t *testing.T) {
	export := t0.Add(time.Hour)
	old, inside := export.Add(-time.Hour), export.Add(-2*time.Minute)
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		ins := func(pk, sk string, at time.Time, n uint64) foldtest.Change {
			return foldtest.Change{Event: "INSERT", Keys: keysOf(pk, sk), New: image(pk, sk, `,"v":{"N":"1"}`), Seq: seq(30, n), Created: at}
		}
		lake := []object{
			{objectPath("stream"), stream(t, f,
				ins("ghost", "0", old, 1), ins("kept", "1", old, 2), ins("late", "2", inside, 3), ins("gone", "3", old, 4),
				foldtest.Change{Event: "REMOVE", Keys: keysOf("gone", "3"), Old: image("gone", "3", `,"v":{"N":"1"}`), Seq: seq(30, 5), Created: old.Add(time.Minute)},
			)},
			{objectPath("snapshot-01234567890123.a1b2c3d4-data"), snapshot(t, f, export, image("kept", "1", `,"v":{"N":"2"}`), image("late", "2", `,"v":{"N":"0"}`))},
		}
		deletes := deleteLines(t, lake, export)
		if len(deletes) != 1 {
			t.Fatalf("delete lines: got %d, expect 1 (ghost)", len(deletes))
		}
		l, err := fold.Parse(deletes[0])
		if err != nil || string(l.Keys) != fmt.Sprint(readableKeys(t, f, "ghost", "0")) {
			t.Fatalf("delete line %s: keys %s (%v), expect ghost's", deletes[0], l.Keys, err)
		}
		return append(lake, object{objectPath("snapshot-01234567890123.a1b2c3d4-deletes"), deletes})
	})
}

// readableKeys is the keys field a line of item (pk, sk) carries.
func readableKeys(t *testing.T, f record.ImageFormat, pk, sk string) string {
	t.Helper()
	lines := stream(t, f, foldtest.Change{Event: "REMOVE", Keys: keysOf(pk, sk), Seq: seq(30, 1), Created: t0})
	l, err := fold.Parse(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(l.Keys)
}
