package fold

import "fmt"

// DefaultBudget is the default memory budget for folding one partition.
const DefaultBudget = 256 << 20

// maxLevels bounds re-partitioning: four levels of up to MaxPartitions
// each separate any realistic archive; a partition still too large after
// that holds a few items with very many lines, whose folded state is
// small anyway.
const maxLevels = 4

// ChoosePartitions returns how many partitions to spill estimate bytes
// into so that each partition folds within budget bytes of memory. A
// folded partition takes at most about twice its spill (one entry per
// item, its key and winning image; less when items have several lines),
// hence the factor. Walk splits any partition that turns out larger, so
// the estimate need not be exact.
func ChoosePartitions(estimate, budget int64) int {
	if budget <= 0 {
		budget = DefaultBudget
	}
	n := (2*estimate + budget - 1) / budget
	return int(max(1, min(n, MaxPartitions)))
}

// Part is one partition of a spill walked alongside the folded one.
type Part struct {
	s *Spill
	p int
}

// Read calls fn for each of the partition's records (Spill.Read).
func (p Part) Read(fn func(Rec) error) error { return p.s.Read(p.p, fn) }

// Size is the partition's spilled bytes.
func (p Part) Size() int64 { return p.s.Size(p.p) }

// WalkStats says what a walk did, for benchmarks and reports.
type WalkStats struct {
	// Partitions is the number of partitions folded, splits included.
	Partitions int
	// Splits is the number of partitions re-partitioned for the budget.
	Splits int
	// MaxItems is the largest number of items one folded table held.
	MaxItems int
}

// Walk folds spill one partition at a time into a Table and calls fn with
// it and the same partition of each of others, which must have been made
// with the same number of partitions: an item's records are in the same
// partition in all of them. A partition whose spill exceeds half of budget
// (see ChoosePartitions) is re-partitioned first, together with the
// others' (one more level of hashing), and walked in its pieces. Every
// spill must be finished. fn must not keep the table or its states.
func Walk(spill *Spill, others []*Spill, budget int64, fn func(t *Table, others []Part) error) (WalkStats, error) {
	if budget <= 0 {
		budget = DefaultBudget
	}
	for _, o := range others {
		if o.Partitions() != spill.Partitions() || o.level != spill.level {
			return WalkStats{}, fmt.Errorf("walk: spills of %d and %d partitions are not partitioned alike", spill.Partitions(), o.Partitions())
		}
	}
	w := walker{t: NewTable(), budget: budget, fn: fn}
	for p := range spill.Partitions() {
		if err := w.part(spill, others, p, true); err != nil {
			return w.stats, err
		}
	}
	return w.stats, nil
}

type walker struct {
	t      *Table
	budget int64
	fn     func(*Table, []Part) error
	stats  WalkStats
}

func (w *walker) part(s *Spill, others []*Spill, p int, splittable bool) error {
	size := s.Size(p)
	if splittable && 2*size > w.budget && s.level < maxLevels {
		return w.split(s, others, p, size)
	}
	w.t.Reset()
	err := s.Read(p, func(r Rec) error {
		if len(r.OrderKey) == 0 {
			return fmt.Errorf("walk: partition %d holds a record without an order key", p)
		}
		w.t.Apply(r.Keys, r.OrderKey, r.Kind, r.Image)
		return nil
	})
	if err != nil {
		return err
	}
	w.stats.Partitions++
	w.stats.MaxItems = max(w.stats.MaxItems, w.t.Len())
	parts := make([]Part, len(others))
	for i, o := range others {
		parts[i] = Part{o, p}
	}
	return w.fn(w.t, parts)
}

// split re-partitions partition p of s and of the others, walks the
// pieces and removes them.
func (w *walker) split(s *Spill, others []*Spill, p int, size int64) (err error) {
	k := ChoosePartitions(size, w.budget)
	k = max(k, 2)
	subs := make([]*Spill, 0, 1+len(others))
	defer func() {
		for _, sub := range subs {
			if e := sub.Remove(); err == nil {
				err = e
			}
		}
	}()
	for _, o := range append([]*Spill{s}, others...) {
		sub, err := o.split(p, k)
		if err != nil {
			return err
		}
		subs = append(subs, sub)
	}
	w.stats.Splits++
	for q := range k {
		// A piece holding nearly all of its parent is a few items with
		// very many lines: splitting again would not separate them.
		splittable := subs[0].Size(q) < size*9/10
		if err := w.part(subs[0], subs[1:], q, splittable); err != nil {
			return err
		}
	}
	return nil
}
