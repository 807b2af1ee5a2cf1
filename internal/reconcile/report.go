package reconcile

import (
	"slices"
	"strings"
	"time"
)

// Outcome is what reconcile found for one item.
type Outcome uint8

const (
	// Equal: the lake's folded state is the live item.
	Equal Outcome = iota + 1
	// MissingFromLake: the live table has the item; the lake has no line
	// of it, or its last line removed it.
	MissingFromLake
	// OnlyInLake: the lake says the item exists; the live table has no
	// such item.
	OnlyInLake
	// Different: both have the item, with different values.
	Different
	// InFlight: the item differed, and the recheck found the lake holding
	// the live value it read then: a change the pipeline had not yet
	// delivered during the first pass, not a difference.
	InFlight
	// Unverified: the item exists on both sides but the lake's last line
	// of it has no image (a KEYS_ONLY or OLD_IMAGE stream), so its values
	// cannot be compared.
	Unverified
	// Conflict: two lake lines of the item share the greatest order key
	// but disagree; the pipeline never writes that, so the lake was
	// altered or written by something else.
	Conflict
)

// outcomes lists the outcomes in report order.
var outcomes = []Outcome{Equal, MissingFromLake, OnlyInLake, Different, InFlight, Unverified, Conflict}

// String names the outcome as reports print it.
func (o Outcome) String() string {
	switch o {
	case Equal:
		return "equal"
	case MissingFromLake:
		return "missing from lake"
	case OnlyInLake:
		return "only in lake"
	case Different:
		return "different"
	case InFlight:
		return "in flight"
	case Unverified:
		return "unverified"
	case Conflict:
		return "conflict"
	}
	return "invalid"
}

// Example is one item of an outcome, for a person to look at.
type Example struct {
	Outcome Outcome
	// Keys is the item's keys, as a lake line's keys field has them.
	Keys string
	// LakeOrderKey is the order key of the lake line that decided the
	// item's lake state; empty when the lake has no line of it.
	LakeOrderKey string
	// Lake and Live are the item's images, in the lake's image format,
	// only when Config.ShowValues is set; empty when that side has no
	// item.
	Lake, Live string
}

// Malformed is a lake line the fold could not use.
type Malformed struct {
	// Object is the object's key and Line the line's number in it, from 1.
	Object string
	Line   int
	// Reason says what is wrong with it; it never quotes the line.
	Reason string
}

// Report is the result of one run. A lake that equals the table has
// Differences() == 0; Unverified items are not differences but are not
// proven equal either.
type Report struct {
	Table string
	// Started is when the run began; ScanStarted when the Scan did (a
	// change after it may be in flight); Duration the whole run.
	Started, ScanStarted time.Time
	Duration             time.Duration

	// Objects, LakeBytes and Lines describe the lake read by the first
	// pass: data objects, their stored (compressed) bytes, their lines.
	Objects, LakeBytes, Lines int64
	// MalformedLines counts lines the fold could not use; they are
	// differences, since the lake's state of their items is unknowable.
	MalformedLines int64
	// Scanned is the number of live items the Scan returned.
	Scanned int64
	// Segments is the number of parallel Scan segments used.
	Segments int

	// Counts of items by outcome. Equal items exist on both sides; items
	// absent from both are not counted.
	Equal, MissingFromLake, OnlyInLake, Different, InFlight, Unverified, Conflict int64

	// Rechecked counts the differing items the second pass read again;
	// NotRechecked those over Config.MaxRecheck, reported as first found.
	// RecheckObjects counts the objects written after the first listing
	// that the recheck read; Settled says whether the pipeline had caught
	// up with the recheck's reads when it looked (false: Settle ran out).
	Rechecked, NotRechecked, RecheckObjects int64
	Settled                                 bool

	// ScanRCU and RecheckRCU are the read capacity consumed, as DynamoDB
	// reported it; EstimatedScanRCU is what the Scan was expected to cost
	// from DescribeTable's TableSizeBytes (updated about every six hours).
	ScanRCU, RecheckRCU, EstimatedScanRCU float64

	// Partitions is the number of spill partitions; FoldedPartitions
	// counts those folded, including pieces of partitions split for the
	// memory budget; SpillBytes is what was written to disk.
	Partitions, FoldedPartitions int
	SpillBytes                   int64

	// Examples are the first Config.Examples items of each outcome but
	// Equal, by keys, in outcome order. Malformed are the first malformed
	// lines by object and line.
	Examples  []Example
	Malformed []Malformed

	// KeyTextDiffers counts the rechecked items that the lake keys with
	// other number text than the table (1E+2 for 100): each is counted
	// once only in the lake and once missing from the lake, since every
	// consumer of the lake matches keys byte for byte (keytext.go).
	// KeyTextExamples are the first Config.Examples of them, by the
	// lake's keys.
	KeyTextDiffers  int64
	KeyTextExamples []KeyTextPair

	// ThrottledRequests counts the Scan and BatchGetItem requests that
	// DynamoDB throttled after the SDK's own retries, and that reconcile
	// retried (throttle.go); ThrottleWait is the time it waited for them,
	// summed over requests (the segments wait in parallel).
	ThrottledRequests int64
	ThrottleWait      time.Duration
}

// Differences is the number of items, and malformed lines, that make the
// lake unequal to the table: missing from the lake, only in the lake,
// different, conflicting. In-flight and unverified items are not
// differences. A command exits with status 1 when this is not zero.
func (r *Report) Differences() int64 {
	return r.MissingFromLake + r.OnlyInLake + r.Different + r.Conflict + r.MalformedLines
}

// ConsumedRCU is the read capacity the run consumed.
func (r *Report) ConsumedRCU() float64 { return r.ScanRCU + r.RecheckRCU }

// Count returns the number of items with the outcome.
func (r *Report) Count(o Outcome) int64 {
	switch o {
	case Equal:
		return r.Equal
	case MissingFromLake:
		return r.MissingFromLake
	case OnlyInLake:
		return r.OnlyInLake
	case Different:
		return r.Different
	case InFlight:
		return r.InFlight
	case Unverified:
		return r.Unverified
	case Conflict:
		return r.Conflict
	}
	return 0
}

func (r *Report) add(o Outcome, n int64) {
	switch o {
	case Equal:
		r.Equal += n
	case MissingFromLake:
		r.MissingFromLake += n
	case OnlyInLake:
		r.OnlyInLake += n
	case Different:
		r.Different += n
	case InFlight:
		r.InFlight += n
	case Unverified:
		r.Unverified += n
	case Conflict:
		r.Conflict += n
	}
}

// examples keeps the n examples with the smallest keys of each outcome.
type examples struct {
	n  int
	by map[Outcome][]Example
}

func (e *examples) offer(x Example) {
	if e.n <= 0 {
		return
	}
	if e.by == nil {
		e.by = map[Outcome][]Example{}
	}
	l := e.by[x.Outcome]
	if len(l) == e.n && x.Keys >= l[len(l)-1].Keys {
		return
	}
	i, _ := slices.BinarySearchFunc(l, x.Keys, func(a Example, k string) int { return strings.Compare(a.Keys, k) })
	l = slices.Insert(l, i, x)
	if len(l) > e.n {
		l = l[:e.n]
	}
	e.by[x.Outcome] = l
}

func (e *examples) list() []Example {
	var all []Example
	for _, o := range outcomes {
		all = append(all, e.by[o]...)
	}
	return all
}

// Phase is a stage of a run, for progress reports.
type Phase string

// The phases, in order. Reading the lake and scanning the table run at
// the same time, in PhaseRead.
const (
	PhaseList    Phase = "list"
	PhaseRead    Phase = "read"
	PhaseCompare Phase = "compare"
	PhaseRecheck Phase = "recheck"
	PhaseSettle  Phase = "settle"
	PhaseDone    Phase = "done"
)

// Progress is a snapshot of a run, for a progress bar.
type Progress struct {
	Phase Phase
	// ObjectsListed and ObjectsRead count lake objects; LinesRead their
	// lines.
	ObjectsListed, ObjectsRead, LinesRead int64
	// ItemsScanned counts live items; EstimatedItems is DescribeTable's
	// ItemCount (approximate, updated about every six hours), the
	// progress bar's end.
	ItemsScanned, EstimatedItems int64
	// ConsumedRCU is the read capacity consumed so far.
	ConsumedRCU float64
	// PartitionsCompared of Partitions, in the compare phase.
	PartitionsCompared, Partitions int
	// Rechecking is the number of items the recheck reads again.
	Rechecking int
}
