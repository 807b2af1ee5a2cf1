// Command streambench measures the streamer's real handler code path
// (convert, compress, put) on one batch against an in-memory object store.
//
//	go run ./cmd/streambench                       # a generated 6 MB batch
//	go run ./cmd/streambench -event batch.json     # a captured event
//	go run ./cmd/streambench -records 100 -item-bytes 4000 -write-event e.json
//
// It prints, for the last batch, one line per object written:
//
//	streambench: object kind=data|errors|malformed records=N bytes=N key=K
//
// then how the records went and what a batch allocates, cold and warm:
//
//	streambench: converted=N diverted=N objects=N first_batch_alloc_bytes=N alloc_bytes_per_batch=N
//
// and last
//
//	streambench: records=N in_bytes=N out_bytes=N median_ms=X mb_per_s=Y alloc_bytes_per_batch=Z
//
// where records is converted plus diverted (the records the handler took
// from the event), out_bytes the bytes of every object written,
// mb_per_s event input (10^6 bytes) per second at the median and
// alloc_bytes_per_batch the mean over the timed (warm) batches. Diverted
// records went to _errors/ instead of the data object: a batch with many
// of them measures the error path, not the converter, and a note says so.
// The first line gives the peak RSS of the process, measured from after
// the event is loaded, as Lambda holds the payload before the handler
// runs. The -max-* and -min-* flags turn targets into a failing exit
// status.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/streamer"
	"github.com/ddbstream/pipeline/internal/testing/eventgen"
	"github.com/ddbstream/pipeline/internal/testing/procstat"
)

// memStore keeps the objects of the last batch, as an SDK client would
// stream them, reusing its buffers so that it adds no allocation to the
// batches it measures.
type memStore struct {
	objects []object // of the current batch: objects[:n]
	n       int
}

// object is one object written, and what streambench reports of it.
type object struct {
	key     string
	records int // its "records" metadata
	body    bytes.Buffer
}

// kind says where the object's records went: the data object, the errors
// object (records not converted), or a malformed event kept whole.
func (o *object) kind() string {
	p, err := objectkey.Parse(o.key)
	switch {
	case err != nil:
		return "malformed"
	case p.Errors:
		return "errors"
	}
	return "data"
}

// begin starts a batch: the objects written from now on replace the last
// batch's.
func (m *memStore) begin() { m.n = 0 }

// written returns the current batch's objects.
func (m *memStore) written() []object { return m.objects[:m.n] }

func (m *memStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if m.n == len(m.objects) {
		m.objects = append(m.objects, object{})
	}
	o := &m.objects[m.n]
	o.body.Reset()
	if _, err := io.Copy(&o.body, in.Body); err != nil {
		return nil, err
	}
	records, err := strconv.Atoi(in.Metadata["records"])
	if err != nil {
		return nil, fmt.Errorf("object %s: records metadata: %w", aws.ToString(in.Key), err)
	}
	o.key, o.records = aws.ToString(in.Key), records
	m.n++
	return &s3.PutObjectOutput{}, nil
}

// tally is how one batch's records went, from the objects it wrote.
type tally struct {
	converted, diverted, bytes int
}

func count(objects []object) tally {
	var t tally
	for i := range objects {
		o := &objects[i]
		switch o.kind() {
		case "data":
			t.converted += o.records
		case "errors":
			t.diverted += o.records
		}
		t.bytes += o.body.Len()
	}
	return t
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "streambench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("streambench", flag.ContinueOnError)
	d := eventgen.DefaultOptions()
	eventFile := fs.String("event", "", "a Lambda DynamoDB Streams event `file` to process instead of a generated one")
	records := fs.Int("records", d.Records, "records in the generated event")
	itemBytes := fs.Int("item-bytes", d.ItemBytes, "approximate size of each generated item image")
	writeEvent := fs.String("write-event", "", "also write the generated event to this `file`")
	iterations := fs.Int("iterations", 40, "batches to time")
	procs := fs.Int("procs", 1, "GOMAXPROCS (the targets are for one core)")
	level := fs.Int("gzip-level", streamer.DefaultGzipLevel, "gzip level, 1-9")
	maxMedian := fs.Float64("max-median-ms", 0, "fail if the median batch takes longer (0: no check)")
	minRate := fs.Float64("min-mb-per-s", 0, "fail below this input rate (0: no check)")
	maxAlloc := fs.Int64("max-alloc-bytes", 0, "fail if a batch allocates more (0: no check)")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail if peak RSS exceeds this many MiB (0: no check)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *iterations < 1 {
		return errors.New("-iterations must be at least 1")
	}
	runtime.GOMAXPROCS(*procs)

	var payload []byte
	var err error
	if *eventFile != "" {
		if payload, err = os.ReadFile(*eventFile); err != nil {
			return err
		}
	} else {
		d.Records, d.ItemBytes = *records, *itemBytes
		payload = eventgen.Event(d)
		if *writeEvent != "" {
			if err := os.WriteFile(*writeEvent, payload, 0o644); err != nil {
				return err
			}
		}
	}

	cfg := streamer.DefaultConfig()
	cfg.Bucket, cfg.GzipLevel = "bench", *level
	cfg.ConditionalWrites = false
	store := &memStore{}
	h, err := streamer.New(store, cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	runtime.GC()
	debug.FreeOSMemory()
	procstat.ResetPeakRSS()

	var durations []time.Duration
	var cold, ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&cold)
	for i := 0; i <= *iterations; i++ {
		if i == 1 { // the first batch warms the pools
			runtime.ReadMemStats(&ms0)
		}
		store.begin()
		start := time.Now()
		resp, err := h.Invoke(ctx, payload)
		elapsed := time.Since(start)
		if err != nil {
			return err
		}
		if !bytes.Contains(resp, []byte(`"batchItemFailures":[]`)) {
			return fmt.Errorf("batch reported failures: %s", resp)
		}
		if i > 0 {
			durations = append(durations, elapsed)
		}
	}
	runtime.ReadMemStats(&ms1)
	slices.Sort(durations)
	median := durations[len(durations)/2]
	medianMS := float64(median.Microseconds()) / 1000
	rate := float64(len(payload)) / 1e6 / median.Seconds()
	alloc := int64(ms1.TotalAlloc-ms0.TotalAlloc) / int64(*iterations)
	firstAlloc := int64(ms0.TotalAlloc - cold.TotalAlloc)
	rss := procstat.PeakRSS()
	written := store.written()
	t := count(written)

	fmt.Fprintf(stdout, "streambench: peak_rss_mib=%.1f gomaxprocs=%d gzip_level=%d iterations=%d\n", float64(rss)/(1<<20), *procs, *level, *iterations)
	for i := range written {
		o := &written[i]
		fmt.Fprintf(stdout, "streambench: object kind=%s records=%d bytes=%d key=%s\n", o.kind(), o.records, o.body.Len(), o.key)
	}
	if t.diverted > 0 {
		fmt.Fprintf(stdout, "streambench: note: %d of %d records were not converted and went to _errors/; these figures measure the error path\n",
			t.diverted, t.converted+t.diverted)
	}
	fmt.Fprintf(stdout, "streambench: converted=%d diverted=%d objects=%d first_batch_alloc_bytes=%d alloc_bytes_per_batch=%d\n",
		t.converted, t.diverted, len(written), firstAlloc, alloc)
	fmt.Fprintf(stdout, "streambench: records=%d in_bytes=%d out_bytes=%d median_ms=%.2f mb_per_s=%.1f alloc_bytes_per_batch=%d\n",
		t.converted+t.diverted, len(payload), t.bytes, medianMS, rate, alloc)

	var missed []string
	if *maxMedian > 0 && medianMS > *maxMedian {
		missed = append(missed, fmt.Sprintf("median %.2f ms > %.2f ms", medianMS, *maxMedian))
	}
	if *minRate > 0 && rate < *minRate {
		missed = append(missed, fmt.Sprintf("rate %.1f MB/s < %.1f MB/s", rate, *minRate))
	}
	if *maxAlloc > 0 && alloc > *maxAlloc {
		missed = append(missed, fmt.Sprintf("alloc %d B/batch > %d B", alloc, *maxAlloc))
	}
	if *maxRSS > 0 && float64(rss)/(1<<20) > *maxRSS {
		missed = append(missed, fmt.Sprintf("peak RSS %.1f MiB > %.1f MiB", float64(rss)/(1<<20), *maxRSS))
	}
	if len(missed) > 0 {
		return fmt.Errorf("targets missed: %s", strings.Join(missed, "; "))
	}
	return nil
}
