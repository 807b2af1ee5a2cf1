// Command foldbench measures the reconcile fold (internal/fold) on one
// core: it generates the lake of a table of N items, as the pipeline
// would have written it, and folds it with the real code, reading gzip
// objects from disk, parsing, spilling to partitions and folding each.
//
//	go run ./cmd/foldbench                       # 1,000,000 items
//	go run ./cmd/foldbench -items 100000 -budget-mb 16
//
// The lake: half of the items come from a table export (snapshot lines,
// exported at T), the rest are inserted from the stream; then every item
// is modified 1 to 2×-changes times, one in ten is removed and a fifth of
// those inserted again. Changes are interleaved across items in time, as
// a real stream's are, written in objects of -batch lines, and the
// stream's sequence numbers grow from 21 to 28 digits halfway (a shard
// split). The generator knows each item's final state and foldbench
// checks the fold against it.
//
// It prints the generated lake, then what the fold did, and last
//
//	foldbench: lines=N seconds=X lines_per_s=Y peak_rss_mib=Z gomaxprocs=1
//
// where seconds cover reading, decompressing, parsing, spilling and
// folding, and peak RSS is measured from after generation. -min-lines-per-s
// and -max-rss-mb turn targets into a failing exit status.
package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
	"github.com/ddbstream/pipeline/internal/testing/procstat"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "foldbench:", err)
		os.Exit(1)
	}
}

type options struct {
	items, changes, batch, itemBytes int
	format                           record.ImageFormat
	seed                             uint64
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("foldbench", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.items, "items", 1_000_000, "items in the generated table")
	fs.IntVar(&o.changes, "changes", 2, "mean modifications per item (each item gets 1 to 2×changes)")
	fs.IntVar(&o.batch, "batch", 1000, "lines per object")
	fs.IntVar(&o.itemBytes, "item-bytes", 200, "approximate size of an item image in DynamoDB JSON")
	format := fs.String("image-format", "plain", "plain or dynamodb")
	fs.Uint64Var(&o.seed, "seed", 1, "generator seed")
	dir := fs.String("dir", "", "directory for the objects and spill files (default: a new temporary directory, removed at the end)")
	budgetMB := fs.Int("budget-mb", 64, "memory budget for folding one partition, MiB")
	partitions := fs.Int("partitions", 0, "spill partitions (0: chosen from the objects' size and the budget)")
	procs := fs.Int("procs", 1, "GOMAXPROCS (the targets are for one core)")
	minRate := fs.Float64("min-lines-per-s", 0, "fail below this many lines folded per second (0: no check)")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail if peak RSS exceeds this many MiB (0: no check)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the fold to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.items < 1 || o.changes < 1 || o.batch < 1 || o.itemBytes < 1 || *budgetMB < 1 {
		return errors.New("-items, -changes, -batch, -item-bytes and -budget-mb must be at least 1")
	}
	var err error
	if o.format, err = record.ParseImageFormat(*format); err != nil {
		return err
	}
	runtime.GOMAXPROCS(*procs)

	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "foldbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	objDir := filepath.Join(work, "objects")
	if err := os.MkdirAll(objDir, 0o755); err != nil {
		return err
	}
	lake, err := generate(o, objDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "foldbench: generated items=%d lines=%d objects=%d gz_bytes=%d image_format=%s\n",
		o.items, lake.lines, len(lake.objects), lake.gzBytes, o.format)

	n := *partitions
	budget := int64(*budgetMB) << 20
	if n == 0 {
		n = fold.ChoosePartitions(lake.gzBytes*spillPerGzipByte, budget)
	}
	runtime.GC()
	debug.FreeOSMemory()
	procstat.ResetPeakRSS()

	stopProfile, err := procstat.CPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := foldLake(lake.objects, work, n, budget)
	elapsed := time.Since(start)
	stopProfile()
	if err != nil {
		return err
	}
	rss := procstat.PeakRSS()
	rate := float64(res.lines) / elapsed.Seconds()
	fmt.Fprintf(stdout, "foldbench: folded objects=%d spill_bytes=%d partitions=%d splits=%d folded_partitions=%d max_table_items=%d\n",
		len(lake.objects), res.spillBytes, n, res.walk.Splits, res.walk.Partitions, res.walk.MaxItems)
	fmt.Fprintf(stdout, "foldbench: items present=%d absent=%d unknown=%d conflict=%d (expected present=%d absent=%d)\n",
		res.count[fold.StatusPresent], res.count[fold.StatusAbsent], res.count[fold.StatusUnknown], res.count[fold.StatusConflict],
		lake.present, o.items-lake.present)
	fmt.Fprintf(stdout, "foldbench: lines=%d seconds=%.2f lines_per_s=%.0f peak_rss_mib=%.1f gomaxprocs=%d\n",
		res.lines, elapsed.Seconds(), rate, float64(rss)/(1<<20), runtime.GOMAXPROCS(0))

	if res.lines != lake.lines {
		return fmt.Errorf("folded %d lines, generated %d", res.lines, lake.lines)
	}
	if res.count[fold.StatusPresent] != lake.present || res.count[fold.StatusAbsent] != o.items-lake.present || res.wrong > 0 {
		return fmt.Errorf("the fold disagrees with the generated state (%d items with the wrong image)", res.wrong)
	}
	var missed []string
	if *minRate > 0 && rate < *minRate {
		missed = append(missed, fmt.Sprintf("rate %.0f lines/s < %.0f", rate, *minRate))
	}
	if *maxRSS > 0 && float64(rss)/(1<<20) > *maxRSS {
		missed = append(missed, fmt.Sprintf("peak RSS %.1f MiB > %.1f MiB", float64(rss)/(1<<20), *maxRSS))
	}
	if len(missed) > 0 {
		return fmt.Errorf("targets missed: %s", strings.Join(missed, "; "))
	}
	return nil
}

// spillPerGzipByte estimates spilled bytes per compressed lake byte: the
// spill keeps keys, order key and newImage, about half of a line, and
// gzip shrinks the lines four- to eightfold.
const spillPerGzipByte = 4

// folded is what the fold found.
type folded struct {
	lines      int
	spillBytes int64
	walk       fold.WalkStats
	count      map[fold.Status]int
	// wrong counts present items whose image is not their last version.
	wrong int
}

// foldLake is the measured code: the fold as reconcile runs it, on one
// goroutine.
func foldLake(objects []string, dir string, partitions int, budget int64) (folded, error) {
	res := folded{count: map[fold.Status]int{}}
	spill, err := fold.NewSpill(dir, partitions)
	if err != nil {
		return res, err
	}
	defer spill.Remove()
	r := fold.NewObjectReader()
	for _, name := range objects {
		f, err := os.Open(name)
		if err != nil {
			return res, err
		}
		n, err := r.Read(f, func(no int, line []byte) error {
			if err := spill.AddLine(line); err != nil {
				return fmt.Errorf("%s line %d: %w", name, no, err)
			}
			return nil
		})
		f.Close()
		if err != nil {
			return res, err
		}
		res.lines += n
	}
	if err := spill.Finish(); err != nil {
		return res, err
	}
	res.spillBytes = spill.Bytes()
	res.walk, err = fold.Walk(spill, nil, budget, func(t *fold.Table, _ []fold.Part) error {
		return t.Each(func(s fold.State) error {
			res.count[s.Status]++
			if s.Status == fold.StatusPresent && !finalVersion(s.Image) {
				res.wrong++
			}
			return nil
		})
	})
	return res, err
}

// finalVersion reports whether an image carries the "final" marker the
// generator puts in each item's last version, in either image format.
func finalVersion(image []byte) bool {
	return bytes.Contains(image, []byte(`"final":true`)) || bytes.Contains(image, []byte(`"final":{"BOOL":true}`))
}

// lake is the generated archive.
type lake struct {
	objects []string
	lines   int
	gzBytes int64
	// present counts items whose last change leaves them in the table.
	present int
}

// itemPlan is one item's history.
type itemPlan struct {
	snapshot bool // comes from the export rather than an INSERT
	modifies int
	remove   bool
	reinsert bool
}

func (p itemPlan) changes() int {
	n := p.modifies
	if !p.snapshot {
		n++
	}
	if p.remove {
		n++
	}
	if p.reinsert {
		n++
	}
	return n
}

// generate writes the lake's objects into dir.
func generate(o options, dir string) (lake, error) {
	var lk lake
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	plans := make([]itemPlan, o.items)
	maxChanges := 0
	for i := range plans {
		p := itemPlan{snapshot: i%2 == 0, modifies: 1 + rng.IntN(2*o.changes)}
		p.remove = rng.IntN(10) == 0
		p.reinsert = p.remove && rng.IntN(5) == 0
		plans[i] = p
		maxChanges = max(maxChanges, p.changes())
		if !p.remove || p.reinsert {
			lk.present++
		}
	}
	export := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	padLen := max(0, o.itemBytes-150)
	raw := make([]byte, padLen)
	// pad is an incompressible note, like eventgen's, so that the objects
	// compress as real data does rather than a thousandfold.
	pad := func() string {
		for k := range raw {
			raw[k] = byte(rng.Uint32())
		}
		return base64.RawURLEncoding.EncodeToString(raw)[:padLen]
	}
	itemJSON := func(i, version int, final bool) string {
		return `{"pk":{"S":"customer#` + strconv.Itoa(i%50000) + `"},"sk":{"S":"order#` + fmt.Sprintf("%08d", i) +
			`"},"v":{"N":"` + strconv.Itoa(version) + `"},"total":{"N":"` + strconv.Itoa(rng.IntN(100000)) + `.` + strconv.Itoa(10+rng.IntN(90)) +
			`"},"status":{"S":"PAID"},"final":{"BOOL":` + strconv.FormatBool(final) + `},"tags":{"SS":["web","gift"]},"note":{"S":"` + pad() + `"}}`
	}
	keysJSON := func(i int) string {
		return `{"pk":{"S":"customer#` + strconv.Itoa(i%50000) + `"},"sk":{"S":"order#` + fmt.Sprintf("%08d", i) + `"}}`
	}

	var batch [][]byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		name := filepath.Join(dir, fmt.Sprintf("%07d.jsonl.gz", len(lk.objects)))
		body := foldtest.Gzip(batch)
		if err := os.WriteFile(name, body, 0o644); err != nil {
			return err
		}
		lk.objects = append(lk.objects, name)
		lk.gzBytes += int64(len(body))
		lk.lines += len(batch)
		batch = batch[:0]
		return nil
	}
	add := func(lines [][]byte) error {
		for _, l := range lines {
			batch = append(batch, l)
			if len(batch) == o.batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}

	// The export: snapshot lines of the items that existed before it.
	var items []string
	for i, p := range plans {
		if p.snapshot {
			items = append(items, itemJSON(i, 0, p.changes() == 0))
		}
		if len(items) == o.batch || (i == len(plans)-1 && len(items) > 0) {
			lines, err := foldtest.SnapshotLines(o.format, export, items...)
			if err != nil {
				return lk, err
			}
			if err := add(lines); err != nil {
				return lk, err
			}
			items = items[:0]
		}
	}
	// The stream: round r makes every item's r-th change, so an item's
	// lines spread over many objects. It starts inside the snapshot
	// margin, where stream records outrank the export.
	seq := uint64(0)
	created := export.Add(-2 * time.Minute)
	total := 0
	var changes []foldtest.Change
	for r := range maxChanges {
		for i, p := range plans {
			if r >= p.changes() {
				continue
			}
			seq++
			total++
			if total%5000 == 0 {
				created = created.Add(time.Second)
			}
			digits := 21
			if r >= maxChanges/2 {
				digits = 28 // after the shard split
			}
			c := foldtest.Change{Keys: keysJSON(i), Seq: foldtest.Seq(digits, seq), Created: created}
			final := r == p.changes()-1
			step := r
			if p.snapshot {
				step++ // the snapshot was the item's first state
			}
			switch {
			case step == 0:
				c.Event, c.New = "INSERT", itemJSON(i, 1, final)
			case step <= p.modifies:
				c.Event, c.New, c.Old = "MODIFY", itemJSON(i, step+1, final), itemJSON(i, step, false)
			case step == p.modifies+1 && p.remove:
				c.Event, c.Old = "REMOVE", itemJSON(i, step, false)
			default:
				c.Event, c.New = "INSERT", itemJSON(i, step+1, final)
			}
			changes = append(changes, c)
			if len(changes) == o.batch {
				if err := addChanges(o.format, changes, add); err != nil {
					return lk, err
				}
				changes = changes[:0]
			}
		}
	}
	if err := addChanges(o.format, changes, add); err != nil {
		return lk, err
	}
	return lk, flush()
}

func addChanges(format record.ImageFormat, changes []foldtest.Change, add func([][]byte) error) error {
	if len(changes) == 0 {
		return nil
	}
	lines, err := foldtest.StreamLines(format, changes...)
	if err != nil {
		return err
	}
	return add(lines)
}
