package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/record"
)

// run is one reconciliation in progress.
type run struct {
	cfg      Config
	rep      *Report
	keys     record.KeySchema
	keyTypes map[string]types.ScalarAttributeType
	lim      *limiter

	phase          atomic.Value // Phase
	phaseChanged   chan struct{}
	objectsListed  atomic.Int64
	objectsRead    atomic.Int64
	linesRead      atomic.Int64
	scanned        atomic.Int64
	estimatedItems int64
	partsDone      atomic.Int64
	parts          atomic.Int64
	rechecking     atomic.Int64

	mu         sync.Mutex // guards what follows
	scanRCU    float64
	recheckRCU float64
	malformed  []Malformed
	malformedN int64

	// Used by the compare and recheck phases, one goroutine at a time.
	ex         examples
	cands      map[string]*candidate
	candOrder  []string
	renderConv *record.Converter
}

// Run reconciles the lake with the live table: it folds the table's lake
// objects into each item's state (package fold), scans the table, compares
// item by item, reads the differing items again after the pipeline has had
// time to deliver what was in flight, and reports. A Report with
// Differences() > 0 means the lake does not equal the table. An error
// means the run could not finish (an AWS call failed, the disk filled):
// no conclusion can be drawn from it.
//
// Memory stays bounded as the table grows: both sides are spilled to disk
// hash-partitioned by key, and compared one partition at a time (the lake's
// partition folded within Config.PartitionMemory, the live partition
// streamed past it).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{
		cfg:          cfg,
		rep:          &Report{Table: cfg.Table, Started: cfg.Now()},
		phaseChanged: make(chan struct{}, 1),
		ex:           examples{n: cfg.Examples},
		cands:        map[string]*candidate{},
		renderConv:   record.NewConverter(record.WithImageFormat(cfg.ImageFormat)),
	}
	r.phase.Store(PhaseList)
	r.lim = newLimiter(cfg.ReadRate, cfg.Now, cfg.Sleep)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.reportProgress()
	err = r.run(ctx)
	r.setPhase(PhaseDone)
	stop()
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: %w", cfg.Table, err)
	}
	return r.rep, nil
}

func (r *run) run(ctx context.Context) error {
	if err := r.describe(ctx); err != nil {
		return err
	}
	objects, err := r.list(ctx)
	if err != nil {
		return err
	}
	for _, o := range objects {
		r.rep.LakeBytes += o.Size
	}
	r.rep.Objects = int64(len(objects))

	dir, err := os.MkdirTemp(r.cfg.TempDir, "reconcile-")
	if err != nil {
		return fmt.Errorf("spill directory: %w", err)
	}
	defer os.RemoveAll(dir)
	n := r.cfg.Partitions
	if n == 0 {
		n = fold.ChoosePartitions(r.rep.LakeBytes*spillPerStoredByte, r.cfg.PartitionMemory)
	}
	r.rep.Partitions = n
	lake, err := fold.NewSpill(dir, n)
	if err != nil {
		return err
	}
	defer lake.Remove()
	live, err := fold.NewSpill(dir, n)
	if err != nil {
		return err
	}
	defer live.Remove()

	r.setPhase(PhaseRead)
	g := newGroup(ctx)
	g.run(func(ctx context.Context) error {
		return r.readObjects(ctx, objects, func(l fold.Line) error {
			return lake.Add(fold.Rec(l))
		})
	})
	g.run(func(ctx context.Context) error { return r.scan(ctx, live) })
	if err := g.wait(); err != nil {
		return err
	}
	r.rep.Lines = r.linesRead.Load()
	r.rep.Scanned = r.scanned.Load()
	for _, s := range []*fold.Spill{lake, live} {
		if err := s.Finish(); err != nil {
			return err
		}
	}
	r.rep.SpillBytes = lake.Bytes() + live.Bytes()

	r.setPhase(PhaseCompare)
	r.parts.Store(int64(n))
	stats, err := fold.Walk(lake, []*fold.Spill{live}, r.cfg.PartitionMemory, r.comparePartition)
	if err != nil {
		return err
	}
	r.rep.FoldedPartitions = stats.Partitions
	// The spills are no longer needed: free the disk before the recheck,
	// which may wait.
	_ = lake.Remove()
	_ = live.Remove()

	if len(r.cands) > 0 {
		if err := r.recheck(ctx, objects); err != nil {
			return err
		}
	}
	r.rep.Examples = r.ex.list()
	r.mu.Lock()
	r.rep.Malformed = slices.Clone(r.malformed)
	r.rep.MalformedLines = r.malformedN
	r.rep.ScanRCU, r.rep.RecheckRCU = r.scanRCU, r.recheckRCU
	r.mu.Unlock()
	r.rep.Duration = r.cfg.Now().Sub(r.rep.Started)
	return nil
}

// spillPerStoredByte estimates the spill per stored (gzip) lake byte: a
// spill record keeps a line's keys, order key and newImage, about half of
// it, and gzip shrinks JSON lines four- to eightfold. Walk corrects a
// wrong estimate by splitting partitions.
const spillPerStoredByte = 4

// describe reads the key schema, the key attributes' types and the
// table's approximate size.
func (r *run) describe(ctx context.Context) error {
	out, err := r.cfg.Describe.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.cfg.Table)})
	if err != nil {
		return fmt.Errorf("describe table: %w", err)
	}
	t := out.Table
	if t == nil {
		return errors.New("describe table: no table description")
	}
	for _, k := range t.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			r.keys.PartitionKey = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			r.keys.SortKey = aws.ToString(k.AttributeName)
		}
	}
	if err := r.keys.Validate(); err != nil {
		return fmt.Errorf("describe table: %w", err)
	}
	r.keyTypes = map[string]types.ScalarAttributeType{}
	for _, d := range t.AttributeDefinitions {
		name := aws.ToString(d.AttributeName)
		if name == r.keys.PartitionKey || name == r.keys.SortKey {
			r.keyTypes[name] = d.AttributeType
		}
	}
	for _, name := range []string{r.keys.PartitionKey, r.keys.SortKey} {
		if _, ok := r.keyTypes[name]; name != "" && !ok {
			return fmt.Errorf("describe table: no attribute definition for key %q", name)
		}
	}
	size := aws.ToInt64(t.TableSizeBytes)
	r.estimatedItems = aws.ToInt64(t.ItemCount)
	// Scan cost: 0.5 RCU per 4 KB of items read eventually consistent,
	// 1 strongly consistent (see README, "Reconcile").
	perUnit := 0.5
	if r.cfg.ConsistentRead {
		perUnit = 1
	}
	r.rep.EstimatedScanRCU = math.Ceil(float64(size)/4096) * perUnit
	r.rep.Segments = r.cfg.TotalSegments
	if r.rep.Segments == 0 {
		// AWS's guidance for parallel scans: a segment per 2 GB or so.
		r.rep.Segments = int(max(4, min(1_000_000, (size+(2<<30)-1)/(2<<30))))
	}
	return nil
}

// comparePartition compares one partition: the lake's items folded in t,
// the live items streamed from others[0].
func (r *run) comparePartition(t *fold.Table, others []fold.Part) error {
	err := others[0].Read(func(rec fold.Rec) error {
		st, ok := t.Claim(rec.Keys)
		if !ok {
			return r.found(MissingFromLake, string(rec.Keys), fold.State{}, rec.Image)
		}
		switch st.Status {
		case fold.StatusAbsent:
			return r.found(MissingFromLake, st.Keys, st, rec.Image)
		case fold.StatusUnknown:
			return r.found(Unverified, st.Keys, st, rec.Image)
		case fold.StatusConflict:
			return r.found(Conflict, st.Keys, st, rec.Image)
		}
		same, err := sameImage(st.Image, r.cfg.ImageFormat, rec.Image)
		if err != nil {
			return err
		}
		if same {
			r.rep.Equal++
			return nil
		}
		return r.found(Different, st.Keys, st, rec.Image)
	})
	if err != nil {
		return err
	}
	err = t.EachUnclaimed(func(st fold.State) error {
		switch st.Status {
		case fold.StatusPresent, fold.StatusUnknown:
			return r.found(OnlyInLake, st.Keys, st, nil)
		case fold.StatusConflict:
			return r.found(Conflict, st.Keys, st, nil)
		}
		return nil // absent from both
	})
	r.partsDone.Add(1)
	return err
}

// found handles an item that is not equal: differences become candidates
// for the recheck, up to MaxRecheck; the rest is final.
func (r *run) found(o Outcome, keys string, lake fold.State, live []byte) error {
	recheckable := o == MissingFromLake || o == OnlyInLake || o == Different
	if recheckable && len(r.cands) < r.cfg.MaxRecheck {
		c := &candidate{keys: keys, first: o, lake: ownState(lake)}
		if live != nil {
			c.liveFirst = slices.Clone(live)
		}
		r.cands[keys] = c
		r.candOrder = append(r.candOrder, keys)
		return nil
	}
	if recheckable {
		r.rep.NotRechecked++
	}
	r.rep.add(o, 1)
	return r.offer(o, keys, lake, live)
}

// offer proposes an example, rendering the values when they are shown.
func (r *run) offer(o Outcome, keys string, lake fold.State, live []byte) error {
	if r.cfg.Examples <= 0 {
		return nil
	}
	x := Example{Outcome: o, Keys: keys, LakeOrderKey: string(lake.OrderKey)}
	if r.cfg.ShowValues {
		x.Lake = string(lake.Image)
		if live != nil {
			img, err := r.renderConv.AppendImage(nil, live)
			if err != nil {
				return fmt.Errorf("render live item %s: %w", keys, err)
			}
			x.Live = string(img)
		}
	}
	r.ex.offer(x)
	return nil
}

// ownState copies a state out of the table that holds it.
func ownState(s fold.State) fold.State {
	s.OrderKey = slices.Clone(s.OrderKey)
	s.Image = slices.Clone(s.Image)
	return s
}

// addRCU accounts consumed capacity.
func (r *run) addRCU(scan bool, units float64) {
	r.mu.Lock()
	if scan {
		r.scanRCU += units
	} else {
		r.recheckRCU += units
	}
	r.mu.Unlock()
	r.lim.spend(units)
}

// malformedLine records a lake line the fold cannot use.
func (r *run) malformedLine(object string, line int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.malformedN++
	if r.cfg.Examples <= 0 {
		return
	}
	m := Malformed{Object: object, Line: line, Reason: err.Error()}
	less := func(a, b Malformed) int {
		if a.Object != b.Object {
			if a.Object < b.Object {
				return -1
			}
			return 1
		}
		return a.Line - b.Line
	}
	i, _ := slices.BinarySearchFunc(r.malformed, m, less)
	if i >= r.cfg.Examples {
		return
	}
	r.malformed = slices.Insert(r.malformed, i, m)
	if len(r.malformed) > r.cfg.Examples {
		r.malformed = r.malformed[:r.cfg.Examples]
	}
}

// setPhase moves to the next phase and has progress reported.
func (r *run) setPhase(p Phase) {
	r.phase.Store(p)
	select {
	case r.phaseChanged <- struct{}{}:
	default:
	}
}

func (r *run) progress() Progress {
	r.mu.Lock()
	rcu := r.scanRCU + r.recheckRCU
	r.mu.Unlock()
	return Progress{
		Phase:              r.phase.Load().(Phase),
		ObjectsListed:      r.objectsListed.Load(),
		ObjectsRead:        r.objectsRead.Load(),
		LinesRead:          r.linesRead.Load(),
		ItemsScanned:       r.scanned.Load(),
		EstimatedItems:     r.estimatedItems,
		ConsumedRCU:        rcu,
		PartitionsCompared: int(r.partsDone.Load()),
		Partitions:         int(r.parts.Load()),
		Rechecking:         int(r.rechecking.Load()),
	}
}

// reportProgress calls Config.Progress from one goroutine, on a ticker and
// on phase changes, until the returned stop is called; stop returns after
// the last call, which reports the final phase.
func (r *run) reportProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(r.cfg.ProgressInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-r.phaseChanged:
			case <-done:
				r.cfg.Progress(r.progress())
				return
			}
			r.cfg.Progress(r.progress())
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// group runs functions concurrently; the first error cancels the others'
// context and is the group's.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel}
}

func (g *group) run(f func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(g.ctx); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
