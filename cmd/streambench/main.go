// Command streambench measures the streamer's real handler code path
// (convert, compress, put) on one batch against an in-memory object store.
//
//	go run ./cmd/streambench                       # a generated 6 MB batch
//	go run ./cmd/streambench -event batch.json     # a captured event
//	go run ./cmd/streambench -records 100 -item-bytes 4000 -write-event e.json
//
// Its last line is
//
//	streambench: records=N in_bytes=N out_bytes=N median_ms=X mb_per_s=Y alloc_bytes_per_batch=Z
//
// where mb_per_s is event input (10^6 bytes) per second at the median. The
// line before it gives the peak RSS of the process, measured from after the
// event is loaded, as Lambda holds the payload before the handler runs. The
// -max-* and -min-* flags turn targets into a failing exit status.
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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/testing/eventgen"
	"github.com/ddbstream/pipeline/internal/testing/procstat"
	"github.com/ddbstream/pipeline/internal/streamer"
)

// memStore keeps the last object written, as an SDK client would stream it.
type memStore struct {
	last    bytes.Buffer
	objects int
}

func (m *memStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	m.last.Reset()
	if _, err := io.Copy(&m.last, in.Body); err != nil {
		return nil, err
	}
	m.objects++
	return &s3.PutObjectOutput{}, nil
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
	var ms0, ms1 runtime.MemStats
	for i := 0; i <= *iterations; i++ {
		if i == 1 { // the first batch warms the pools
			runtime.ReadMemStats(&ms0)
		}
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
	rss := procstat.PeakRSS()
	n := bytes.Count(payload, []byte(`"eventID"`))

	fmt.Fprintf(stdout, "streambench: peak_rss_mib=%.1f gomaxprocs=%d gzip_level=%d iterations=%d\n", float64(rss)/(1<<20), *procs, *level, *iterations)
	fmt.Fprintf(stdout, "streambench: records=%d in_bytes=%d out_bytes=%d median_ms=%.2f mb_per_s=%.1f alloc_bytes_per_batch=%d\n",
		n, len(payload), store.last.Len(), medianMS, rate, alloc)

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
