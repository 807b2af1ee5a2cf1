package fold

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

var t0 = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

// item renders a DynamoDB JSON item of the test key schema with a
// version attribute.
func item(pk string, sk int, v string) string {
	return fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":"%d"},"v":{"N":%q}}`, pk, sk, v)
}

func keys(pk string, sk int) string { return fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":"%d"}}`, pk, sk) }

// plainKeys is the keys field the converter writes for keys(pk, sk).
func plainKeys(pk string, sk int) string { return fmt.Sprintf(`{"pk":%q,"sk":%d}`, pk, sk) }

func plainImage(pk string, sk int, v string) string {
	return fmt.Sprintf(`{"pk":%q,"sk":%d,"v":%s}`, pk, sk, v)
}

func mustStream(t *testing.T, changes ...foldtest.Change) [][]byte {
	t.Helper()
	lines, err := foldtest.StreamLines(record.Plain, changes...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func mustSnapshot(t *testing.T, at time.Time, items ...string) [][]byte {
	t.Helper()
	lines, err := foldtest.SnapshotLines(record.Plain, at, items...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func ins(pk string, sk int, v string, seq string, at time.Time) foldtest.Change {
	return foldtest.Change{Event: "INSERT", Keys: keys(pk, sk), New: item(pk, sk, v), Seq: seq, Created: at}
}

func mod(pk string, sk int, v string, seq string, at time.Time) foldtest.Change {
	return foldtest.Change{Event: "MODIFY", Keys: keys(pk, sk), New: item(pk, sk, v), Old: item(pk, sk, "0"), Seq: seq, Created: at}
}

func rem(pk string, sk int, seq string, at time.Time) foldtest.Change {
	return foldtest.Change{Event: "REMOVE", Keys: keys(pk, sk), Old: item(pk, sk, "0"), Seq: seq, Created: at}
}

// outcome is what a test expects of one item.
type outcome struct {
	status Status
	image  string
}

// folded returns each item's outcome from a table.
func folded(t *testing.T, tab *Table) map[string]outcome {
	t.Helper()
	got := map[string]outcome{}
	err := tab.Each(func(s State) error {
		if _, dup := got[s.Keys]; dup {
			return fmt.Errorf("item %s twice", s.Keys)
		}
		got[s.Keys] = outcome{s.Status, string(s.Image)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// foldSpilled folds lines through a spill of n partitions walked with the
// given budget, and returns each item's outcome and the walk's figures.
func foldSpilled(t *testing.T, lines [][]byte, n int, budget int64) (map[string]outcome, WalkStats) {
	t.Helper()
	s, err := NewSpill(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	for _, l := range lines {
		if err := s.AddLine(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	got := map[string]outcome{}
	stats, err := Walk(s, nil, budget, func(tab *Table, _ []Part) error {
		for k, o := range folded(t, tab) {
			if _, dup := got[k]; dup {
				return fmt.Errorf("item %s in two partitions", k)
			}
			got[k] = o
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, stats
}

func checkOutcomes(t *testing.T, how string, got, expect map[string]outcome) {
	t.Helper()
	for k, e := range expect {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: item %s: got nothing, expect %v", how, k, e.status)
			continue
		}
		if g.status != e.status {
			t.Errorf("%s: item %s: status: got %v, expect %v", how, k, g.status, e.status)
		}
		if g.image != e.image {
			t.Errorf("%s: item %s: image: got %s, expect %s", how, k, g.image, e.image)
		}
	}
	for k := range got {
		if _, ok := expect[k]; !ok {
			t.Errorf("%s: item %s: got %v, expect no such item", how, k, got[k].status)
		}
	}
}

func TestRule(t *testing.T) {
	export := t0
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	tests := []struct {
		name   string
		lines  func(t *testing.T) [][]byte
		expect map[string]outcome
	}{
		{"insert, modify, remove", func(t *testing.T) [][]byte {
			return mustStream(t, ins("a", 1, "1", "100000000000000000001", sec(0)),
				mod("a", 1, "2", "100000000000000000002", sec(0)),
				rem("a", 1, "100000000000000000003", sec(1)))
		}, map[string]outcome{plainKeys("a", 1): {StatusAbsent, ""}}},
		{"remove, then insert again", func(t *testing.T) [][]byte {
			return mustStream(t, ins("a", 1, "1", "100000000000000000001", sec(0)),
				rem("a", 1, "100000000000000000002", sec(0)),
				ins("a", 1, "3", "100000000000000000003", sec(0)))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "3")}}},
		{"modify with many digits and an exponent", func(t *testing.T) [][]byte {
			return mustStream(t, ins("a", 1, "12345678901234567890123456789012345678", "100000000000000000001", sec(0)),
				mod("a", 1, "1E+125", "100000000000000000002", sec(0)))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "1E+125")}}},
		{"snapshot newer than the stream before its margin", func(t *testing.T) [][]byte {
			return slices.Concat(
				mustStream(t, ins("a", 1, "1", "100000000000000000001", export.Add(-orderkey.SnapshotMargin-time.Hour)),
					mod("a", 1, "2", "100000000000000000002", export.Add(-orderkey.SnapshotMargin-time.Second))),
				mustSnapshot(t, export, item("a", 1, "9")))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "9")}}},
		{"stream record at the margin's start beats the snapshot", func(t *testing.T) [][]byte {
			return slices.Concat(
				mustSnapshot(t, export, item("a", 1, "9")),
				mustStream(t, mod("a", 1, "2", "100000000000000000002", export.Add(-orderkey.SnapshotMargin))))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "2")}}},
		{"remove after the export deletes the snapshot's item", func(t *testing.T) [][]byte {
			return slices.Concat(
				mustSnapshot(t, export, item("a", 1, "9"), item("b", 2, "8")),
				mustStream(t, rem("a", 1, "100000000000000000002", export.Add(time.Minute))))
		}, map[string]outcome{
			plainKeys("a", 1): {StatusAbsent, ""},
			plainKeys("b", 2): {StatusPresent, plainImage("b", 2, "8")},
		}},
		{"the later of two snapshots wins", func(t *testing.T) [][]byte {
			return slices.Concat(
				mustSnapshot(t, export.Add(time.Hour), item("a", 1, "2")),
				mustSnapshot(t, export, item("a", 1, "1")))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "2")}}},
		{"duplicate lines", func(t *testing.T) [][]byte {
			l := mustStream(t, ins("a", 1, "1", "100000000000000000001", sec(0)),
				mod("a", 1, "2", "100000000000000000002", sec(0)))
			return [][]byte{l[0], l[1], l[1], l[0], l[1]}
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "2")}}},
		{"duplicate removes", func(t *testing.T) [][]byte {
			l := mustStream(t, ins("a", 1, "1", "100000000000000000001", sec(0)),
				rem("a", 1, "100000000000000000002", sec(0)))
			return [][]byte{l[0], l[1], l[1]}
		}, map[string]outcome{plainKeys("a", 1): {StatusAbsent, ""}}},
		{"same order key, different content", func(t *testing.T) [][]byte {
			return mustStream(t, ins("a", 1, "1", "100000000000000000001", sec(0)),
				mod("a", 1, "2", "100000000000000000002", sec(0)),
				mod("a", 1, "3", "100000000000000000002", sec(0)))
		}, map[string]outcome{plainKeys("a", 1): {StatusConflict, ""}}},
		{"a conflict is decided by a later line", func(t *testing.T) [][]byte {
			return mustStream(t, mod("a", 1, "2", "100000000000000000002", sec(0)),
				rem("a", 1, "100000000000000000002", sec(0)),
				mod("a", 1, "4", "100000000000000000003", sec(0)))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "4")}}},
		{"shard split: the child's longer numbers follow, same second", func(t *testing.T) [][]byte {
			return mustStream(t, ins("a", 1, "1", foldtest.Seq(21, 900), sec(0)),
				mod("a", 1, "2", foldtest.Seq(21, 917), sec(0)),
				mod("a", 1, "3", foldtest.Seq(28, 1), sec(0)),
				mod("a", 1, "4", foldtest.Seq(40, 1), sec(1)))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "4")}}},
		{"shard split: the parent's last record is not beaten by digit count", func(t *testing.T) [][]byte {
			// As strings "9…" > "1…": only the padded order key gets this right.
			return mustStream(t, mod("a", 1, "2", foldtest.Seq(21, 900), sec(0)),
				mod("a", 1, "3", "9"+foldtest.Seq(20, 1), sec(0)),
				mod("a", 1, "4", foldtest.Seq(22, 5), sec(0)))
		}, map[string]outcome{plainKeys("a", 1): {StatusPresent, plainImage("a", 1, "4")}}},
		{"keys-only stream: unknown state", func(t *testing.T) [][]byte {
			return mustStream(t, foldtest.Change{Event: "INSERT", Keys: keys("a", 1), Seq: "100000000000000000001", Created: sec(0), ViewType: "KEYS_ONLY"},
				foldtest.Change{Event: "INSERT", Keys: keys("b", 1), Seq: "100000000000000000002", Created: sec(0), ViewType: "KEYS_ONLY"},
				foldtest.Change{Event: "REMOVE", Keys: keys("b", 1), Seq: "100000000000000000003", Created: sec(0), ViewType: "KEYS_ONLY"})
		}, map[string]outcome{
			plainKeys("a", 1): {StatusUnknown, ""},
			plainKeys("b", 1): {StatusAbsent, ""},
		}},
		{"old-image stream after a snapshot: unknown", func(t *testing.T) [][]byte {
			return slices.Concat(mustSnapshot(t, export, item("a", 1, "1")),
				mustStream(t, foldtest.Change{Event: "MODIFY", Keys: keys("a", 1), Old: item("a", 1, "1"), Seq: "100000000000000000001", Created: export, ViewType: "OLD_IMAGE"}))
		}, map[string]outcome{plainKeys("a", 1): {StatusUnknown, ""}}},
		{"binary and numeric keys", func(t *testing.T) [][]byte {
			return mustStream(t, foldtest.Change{Event: "INSERT", Keys: `{"sk":{"N":"-0.5E-3"},"pk":{"B":"AAEC/w=="}}`,
				New: `{"pk":{"B":"AAEC/w=="},"sk":{"N":"-0.5E-3"}}`, Seq: "1", Created: sec(0)})
		}, map[string]outcome{`{"pk":"AAEC/w==","sk":-0.5E-3}`: {StatusPresent, `{"pk":"AAEC/w==","sk":-0.5E-3}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := tc.lines(t)
			tab, err := Lines(lines)
			if err != nil {
				t.Fatal(err)
			}
			checkOutcomes(t, "in order", folded(t, tab), tc.expect)
			// Winner, the rule for one item, agrees with the table.
			byWinner := map[string]State{}
			for _, line := range lines {
				l, err := Parse(line)
				if err != nil {
					t.Fatal(err)
				}
				byWinner[string(l.Keys)] = Winner(byWinner[string(l.Keys)], l.OrderKey, l.Kind, l.Image)
			}
			got := map[string]outcome{}
			for k, s := range byWinner {
				got[k] = outcome{s.Status, string(s.Image)}
			}
			checkOutcomes(t, "by Winner", got, tc.expect)
			// Objects arrive in any order: every order gives the same state.
			rng := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				shuffled := slices.Clone(lines)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				tab, err := Lines(shuffled)
				if err != nil {
					t.Fatal(err)
				}
				checkOutcomes(t, "shuffled", folded(t, tab), tc.expect)
			}
			slices.Reverse(lines)
			got, _ = foldSpilled(t, lines, 3, 300)
			checkOutcomes(t, "reversed, spilled", got, tc.expect)
		})
	}
}

// TestSpillMatchesMemory: many items folded through partitions under a
// budget far too small, so that every partition is split again, give
// exactly the in-memory fold.
func TestSpillMatchesMemory(t *testing.T) {
	var changes []foldtest.Change
	var snap []string
	rng := rand.New(rand.NewPCG(3, 4))
	seq := uint64(1000)
	for i := range 400 {
		pk := fmt.Sprintf("customer#%d", i%37)
		snap = append(snap, item(pk, i, "0"))
		for v := range 1 + rng.IntN(4) {
			seq++
			at := t0.Add(time.Duration(rng.IntN(600)-300) * time.Second)
			switch rng.IntN(5) {
			case 0:
				changes = append(changes, rem(pk, i, foldtest.Seq(21+rng.IntN(20), seq), at))
			default:
				changes = append(changes, mod(pk, i, fmt.Sprint(v+1), foldtest.Seq(21+rng.IntN(20), seq), at))
			}
		}
	}
	lines := slices.Concat(mustStream(t, changes...), mustSnapshot(t, t0, snap...))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	tab, err := Lines(lines)
	if err != nil {
		t.Fatal(err)
	}
	expect := folded(t, tab)
	if len(expect) != 400 {
		t.Fatalf("in memory: %d items, expect 400", len(expect))
	}
	tests := []struct {
		name        string
		partitions  int
		budget      int64
		expectSplit bool
	}{
		{"one partition, ample budget", 1, DefaultBudget, false},
		{"eight partitions, ample budget", 8, DefaultBudget, false},
		{"one partition, 4 KiB budget", 1, 4 << 10, true},
		{"five partitions, 1 KiB budget", 5, 1 << 10, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, stats := foldSpilled(t, lines, tc.partitions, tc.budget)
			checkOutcomes(t, "spilled", got, expect)
			if gotSplit := stats.Splits > 0; gotSplit != tc.expectSplit {
				t.Errorf("split: got %v (%+v), expect %v", gotSplit, stats, tc.expectSplit)
			}
			if tc.expectSplit && stats.MaxItems >= 400 {
				t.Errorf("largest table: got %d items, expect fewer than all 400", stats.MaxItems)
			}
		})
	}
}

// TestWalkKeepsOthersInStep: an item is in the same partition of every
// spill, splits included, so a comparison sees both sides of it together.
func TestWalkKeepsOthersInStep(t *testing.T) {
	dir := t.TempDir()
	lake, err := NewSpill(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	live, err := NewSpill(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	var changes []foldtest.Change
	for i := range 300 {
		changes = append(changes, ins("p", i, "1", foldtest.Seq(21, uint64(i+1)), t0))
	}
	for _, l := range mustStream(t, changes...) {
		if err := lake.AddLine(l); err != nil {
			t.Fatal(err)
		}
		p, _ := Parse(l)
		if err := live.Add(Rec{Keys: p.Keys, Image: p.Image}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Spill{lake, live} {
		if err := s.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	matched := 0
	stats, err := Walk(lake, []*Spill{live}, 2<<10, func(tab *Table, others []Part) error {
		err := others[0].Read(func(r Rec) error {
			st, ok := tab.Claim(r.Keys)
			if !ok {
				return fmt.Errorf("live item %s not in the lake's partition", r.Keys)
			}
			if string(st.Image) != string(r.Image) {
				return fmt.Errorf("item %s: images differ", r.Keys)
			}
			matched++
			return nil
		})
		if err != nil {
			return err
		}
		return tab.EachUnclaimed(func(s State) error { return fmt.Errorf("lake item %s unmatched", s.Keys) })
	})
	if err != nil {
		t.Fatal(err)
	}
	if matched != 300 {
		t.Errorf("matched: got %d, expect 300", matched)
	}
	if stats.Splits == 0 {
		t.Errorf("splits: got 0, expect the 2 KiB budget to split partitions")
	}
	for _, s := range []*Spill{lake, live} {
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWinnerIsTheRule(t *testing.T) {
	lines := mustStream(t, ins("a", 1, "1", "1", t0), mod("a", 1, "2", "2", t0), rem("a", 1, "3", t0), ins("a", 1, "4", "4", t0))
	rng := rand.New(rand.NewPCG(5, 6))
	for range 30 {
		rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		var st State
		for _, l := range lines {
			p, err := Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			st = Winner(st, p.OrderKey, p.Kind, p.Image)
		}
		if st.Status != StatusPresent || string(st.Image) != plainImage("a", 1, "4") {
			t.Fatalf("Winner: got %v %s, expect present %s", st.Status, st.Image, plainImage("a", 1, "4"))
		}
	}
}
