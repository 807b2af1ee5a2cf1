package orderkey

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func mustStream(t *testing.T, created time.Time, seq string) string {
	t.Helper()
	k, err := Stream(created, seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != Len {
		t.Fatalf("key %q has %d characters, want %d", k, len(k), Len)
	}
	return k
}

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// line is one change of one item, in the true order of the changes.
type line struct {
	name string
	key  string
}

// checkOrder: sorting the keys as plain strings gives the true order.
func checkOrder(t *testing.T, lines []line) {
	t.Helper()
	got := append([]line(nil), lines...)
	sort.SliceStable(got, func(i, j int) bool { return got[i].key < got[j].key })
	for i := range lines {
		if got[i].name != lines[i].name {
			var names []string
			for _, l := range got {
				names = append(names, l.name)
			}
			t.Fatalf("sorted order %v; want the true order (position %d: got %s, want %s)", names, i, got[i].name, lines[i].name)
		}
	}
}

func TestStreamOrderAcrossDigitCounts(t *testing.T) {
	// Sequence numbers have 21 to 40 digits: as strings "9…" > "10…".
	checkOrder(t, []line{
		{"21 digits", mustStream(t, t0, "900000000000000000001")},
		{"22 digits", mustStream(t, t0, "1000000000000000000001")},
		{"39 digits", mustStream(t, t0, "100000000000000000000000000000000000001")},
		{"40 digits", mustStream(t, t0, "1000000000000000000000000000000000000001")},
	})
}

// TestShardSplit: an item's records continue in a child shard after its
// parent closes; the child's numbers follow the parent's, often with more
// digits, in the same second or later.
func TestShardSplit(t *testing.T) {
	checkOrder(t, []line{
		{"parent 1", mustStream(t, t0, "49000000000000000000001")},
		{"parent 2 (last)", mustStream(t, t0, "49000000000000000000917")},
		{"child 1, same second", mustStream(t, t0, "12300000000000000000000000001")},
		{"child 2", mustStream(t, t0.Add(time.Second), "12300000000000000000000000002")},
		{"grandchild", mustStream(t, t0.Add(time.Hour), "98700000000000000000000000000000001")},
	})
}

// TestExportBoundary: a snapshot loses to every stream record that could
// be newer than it, and wins over every record that cannot.
func TestExportBoundary(t *testing.T) {
	export := t0
	snap := line{"snapshot", Snapshot(export)}
	tests := []struct {
		name    string
		created time.Time
		// wins says the stream record must rank after the snapshot.
		wins bool
	}{
		{"long before the export", export.Add(-time.Hour), false},
		{"just before the margin", export.Add(-SnapshotMargin - time.Second), false},
		{"at the start of the margin", export.Add(-SnapshotMargin), true},
		{"a minute before the export (AWS's accuracy)", export.Add(-time.Minute), true},
		{"at the export time", export, true},
		{"a minute after", export.Add(time.Minute), true},
		{"a day after", export.Add(24 * time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := line{"stream record", mustStream(t, tc.created, "100000000000000000001")}
			if tc.wins {
				checkOrder(t, []line{snap, rec})
			} else {
				checkOrder(t, []line{rec, snap})
			}
		})
	}
	// Sub-second times round down, as ApproximateCreationDateTime does.
	rec := mustStream(t, export.Add(-SnapshotMargin+999*time.Millisecond), "1")
	if !(rec > snap.key) {
		t.Errorf("a record in the margin's first second ranks before the snapshot")
	}
}

func TestLaterSnapshotWins(t *testing.T) {
	checkOrder(t, []line{
		{"first export", Snapshot(t0)},
		{"stream record between", mustStream(t, t0.Add(time.Hour), "5")},
		{"second export", Snapshot(t0.Add(2 * time.Hour))},
	})
}

func TestStreamRejectsBadSequences(t *testing.T) {
	for _, seq := range []string{"", "12a", "-1", "1.5", strings.Repeat("1", 41)} {
		if _, err := Stream(t0, seq); err == nil {
			t.Errorf("Stream(%q): no error", seq)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		expect   Parts
		expectOK bool
	}{
		{"stream", mustStream(t, t0, "4900000000000000000000001"), Parts{Time: t0, Sequence: "4900000000000000000000001"}, true},
		{"snapshot", Snapshot(t0), Parts{Time: t0.Add(-SnapshotMargin), Snapshot: true}, true},
		{"short", "123", Parts{}, false},
		{"unknown kind", strings.Repeat("0", 11) + "x" + strings.Repeat("0", 40), Parts{}, false},
		{"snapshot with a sequence", strings.Repeat("0", 11) + "b" + strings.Repeat("0", 39) + "1", Parts{}, false},
		{"letters in time", "0000000000a" + "s" + strings.Repeat("0", 40), Parts{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.key)
			if gotOK := err == nil; gotOK != tc.expectOK {
				t.Fatalf("ok: got %v (%v), expect %v", gotOK, err, tc.expectOK)
			}
			if !got.Time.Equal(tc.expect.Time) {
				t.Errorf("Time: got %v, expect %v", got.Time, tc.expect.Time)
			}
			if got.Snapshot != tc.expect.Snapshot {
				t.Errorf("Snapshot: got %v, expect %v", got.Snapshot, tc.expect.Snapshot)
			}
			if got.Sequence != tc.expect.Sequence {
				t.Errorf("Sequence: got %q, expect %q", got.Sequence, tc.expect.Sequence)
			}
		})
	}
}

func TestAppendStreamAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 2*Len)
	seq := []byte("4900000000000000000000001")
	allocs := testing.AllocsPerRun(100, func() { buf = AppendStream(buf[:0], t0, seq) })
	if allocs != 0 {
		t.Errorf("AppendStream allocates %.0f times", allocs)
	}
}
