package fold

import (
	"bytes"
	"fmt"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// Status is an item's folded state.
type Status uint8

const (
	// StatusAbsent: the winning line is a REMOVE.
	StatusAbsent Status = iota + 1
	// StatusPresent: the winning line carries a newImage, the item's state.
	StatusPresent
	// StatusUnknown: the item exists, but its winning line has no image
	// (KEYS_ONLY or OLD_IMAGE streams), so its state cannot be compared.
	StatusUnknown
	// StatusConflict: two lines share the greatest orderKey but disagree.
	// The pipeline never writes that (duplicates are byte-identical), so
	// the lake was altered or written by something else.
	StatusConflict
)

// String names the status, for reports and test failures.
func (s Status) String() string {
	switch s {
	case StatusAbsent:
		return "absent"
	case StatusPresent:
		return "present"
	case StatusUnknown:
		return "unknown"
	case StatusConflict:
		return "conflict"
	}
	return "invalid"
}

// statusOf is the state a line would give its item if it won.
func statusOf(k Kind) Status {
	switch k {
	case Put:
		return StatusPresent
	case Remove:
		return StatusAbsent
	}
	return StatusUnknown
}

// State is one item's folded state. Its slices alias the Table that
// produced it and are valid until the table is reset.
type State struct {
	// Keys is the item's keys field, its identity.
	Keys string
	// OrderKey is the winning line's order key.
	OrderKey []byte
	Status   Status
	// Image is the winning newImage when Status is StatusPresent.
	Image []byte
}

// Winner applies the rule to two lines of one item, so that code outside
// a Table (a recheck folding a few new lines into a known state) uses the
// rule itself rather than a copy of it: it returns the status and image
// after line b (orderKey bk, kind, image) is applied to state a.
// The result for a tie is StatusConflict unless both say the same.
func Winner(a State, bk []byte, kind Kind, image []byte) State {
	if kind != Put {
		image = nil
	}
	c := bytes.Compare(bk, a.OrderKey)
	switch {
	case a.Status == 0 || c > 0:
		st := State{Keys: a.Keys, OrderKey: bk, Status: statusOf(kind)}
		if kind == Put {
			st.Image = image
		}
		return st
	case c < 0:
		return a
	}
	if a.Status == StatusConflict || a.Status != statusOf(kind) || !bytes.Equal(a.Image, image) {
		a.Status, a.Image = StatusConflict, nil
	}
	return a
}

// entry is one item of a Table.
type entry struct {
	key      string
	orderKey [orderkey.Len]byte
	status   Status
	claimed  bool
	// The winning image is arena[img : img+n]; slot is the room its
	// place has, so that a later image of no greater size reuses it.
	img, n, slot int
}

// Table is the folded state of the items of one partition. It keeps one
// entry per item and the winning images in an arena that a smaller later
// image overwrites in place, so its size is bounded by the partition's
// spill. Reset empties it and keeps its memory for the next partition.
type Table struct {
	idx   map[string]int32
	ents  []entry
	arena []byte
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{idx: make(map[string]int32)} }

// Reset empties the table, keeping its capacity.
func (t *Table) Reset() {
	clear(t.idx)
	clear(t.ents) // drop the keys, so the collector can free them
	t.ents = t.ents[:0]
	t.arena = t.arena[:0]
}

// Len is the number of items seen.
func (t *Table) Len() int { return len(t.ents) }

// Apply folds one line into the table by the rule (see the package
// documentation). orderKey must be orderkey.Len bytes, as Parse
// guarantees; the table copies what it keeps.
func (t *Table) Apply(keys, orderKey []byte, kind Kind, image []byte) {
	if kind != Put {
		image = nil
	}
	i, ok := t.idx[string(keys)]
	if !ok {
		t.ents = append(t.ents, entry{key: string(keys)})
		i = int32(len(t.ents) - 1)
		t.idx[t.ents[i].key] = i
		e := &t.ents[i]
		t.set(e, orderKey, kind, image)
		return
	}
	e := &t.ents[i]
	switch c := bytes.Compare(orderKey, e.orderKey[:]); {
	case c > 0:
		t.set(e, orderKey, kind, image)
	case c == 0:
		if e.status != StatusConflict && (e.status != statusOf(kind) || !bytes.Equal(t.arena[e.img:e.img+e.n], image)) {
			e.status, e.n = StatusConflict, 0
		}
	}
}

// set makes the line the entry's winner.
func (t *Table) set(e *entry, orderKey []byte, kind Kind, image []byte) {
	copy(e.orderKey[:], orderKey)
	e.status = statusOf(kind)
	if kind != Put {
		image = nil
	}
	if len(image) <= e.slot {
		copy(t.arena[e.img:], image)
		e.n = len(image)
		return
	}
	e.img, e.n, e.slot = len(t.arena), len(image), len(image)
	t.arena = append(t.arena, image...)
}

// Lookup returns the state of the item with these keys.
func (t *Table) Lookup(keys []byte) (State, bool) {
	i, ok := t.idx[string(keys)]
	if !ok {
		return State{}, false
	}
	return t.state(&t.ents[i]), true
}

func (t *Table) state(e *entry) State {
	st := State{Keys: e.key, OrderKey: e.orderKey[:], Status: e.status}
	if e.status == StatusPresent {
		st.Image = t.arena[e.img : e.img+e.n : e.img+e.n]
	}
	return st
}

// Claim returns the state of the item with these keys, as Lookup does,
// and marks it claimed, so that a comparison with another source can
// afterwards visit the items that source did not have (EachUnclaimed).
func (t *Table) Claim(keys []byte) (State, bool) {
	i, ok := t.idx[string(keys)]
	if !ok {
		return State{}, false
	}
	e := &t.ents[i]
	e.claimed = true
	return t.state(e), true
}

// EachUnclaimed calls fn for every item not claimed, in the order the
// table first saw them, stopping at fn's first error.
func (t *Table) EachUnclaimed(fn func(State) error) error {
	for i := range t.ents {
		if t.ents[i].claimed {
			continue
		}
		if err := fn(t.state(&t.ents[i])); err != nil {
			return err
		}
	}
	return nil
}

// Each calls fn for every item in the order the table first saw them,
// stopping at fn's first error.
func (t *Table) Each(fn func(State) error) error {
	for i := range t.ents {
		if err := fn(t.state(&t.ents[i])); err != nil {
			return err
		}
	}
	return nil
}

// Lines folds lines in memory into a new table: the rule applied with no
// partitioning, for small inputs and as the reference the partitioned
// fold (Spill, Walk) and other implementations of the rule are tested
// against. A line that does not parse is an error naming its index.
func Lines(lines [][]byte) (*Table, error) {
	t := NewTable()
	for i, line := range lines {
		l, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i, err)
		}
		t.Apply(l.Keys, l.OrderKey, l.Kind, l.Image)
	}
	return t, nil
}

// DeletedBySnapshot reports whether a table export whose rows rank at
// snapshot (orderkey.Snapshot of its export time) proves the item absent
// when the export does not hold it: the item's winning line ranks below
// the snapshot (an exported item has a row at exactly that rank, which
// would win) and is not already a REMOVE. ddbstream backfill writes a
// REMOVE at the snapshot's rank for each such item (README, "Backfill").
func (s State) DeletedBySnapshot(snapshot string) bool {
	return s.Status != StatusAbsent && string(s.OrderKey) < snapshot
}
