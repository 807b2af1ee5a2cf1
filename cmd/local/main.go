// Command local runs the whole pipeline on this machine (make local):
// DynamoDB Local behind the exports endpoint, versitygw, the four
// functions under the Runtime API emulator, and a fake Databricks
// workspace (or a real one, given a secret). It preloads items before the
// table's stream exists, writes a mix of changes while ddbstream
// backfill's logic exports the table and the planner and converter turn
// the export into snapshot objects, waits for everything to arrive, and
// prints whether every change arrived exactly once and whether
// ddbstream reconcile's logic finds the lake equal to the table. Every
// process it starts is stopped when it ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbstream/pipeline/integration"
	"github.com/ddbstream/pipeline/internal/backfill"
)

func main() {
	os.Exit(run())
}

func run() int {
	changes := flag.Int("changes", 10000, "changes to write (inserts, updates, deletes, TTL-style deletes)")
	preload := flag.Int("preload", 3000, "items written before the table's stream is enabled: only the backfill brings them into the lake")
	batchSize := flag.Int("batch-size", 1000, "event source mapping batch size")
	window := flag.Duration("batching-window", time.Second, "event source mapping batching window")
	secretFile := flag.String("databricks-secret", "", "a JSON `file` with a real workspace's secret ({\"host\", \"token\"} or OAuth); default: a fake workspace")
	volumePath := flag.String("volume-path", "/Volumes/main/cdc/landing/{key}", "forwarder destination template")
	workDir := flag.String("workdir", "", "keep binaries, S3 data and logs in this folder (default: a temporary folder, removed)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	dir := *workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ddbstream-local-*"); err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	opts := integration.Options{Root: root, WorkDir: dir, BatchSize: *batchSize, BatchingWindow: *window, VolumePath: *volumePath}
	seed := uint64(time.Now().UnixNano())
	if *preload > 0 {
		opts.Preload = func(ctx context.Context, db *dynamodb.Client, table string) error {
			fmt.Printf("local: preloading %d items into table %s before its stream is enabled\n", *preload, table)
			return integration.Preload(ctx, db, table, *preload, seed)
		}
	}
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fail(err)
		}
		opts.DatabricksSecret = strings.TrimSpace(string(b))
	}

	fmt.Println("local: building the functions and starting DynamoDB Local, the exports and Lambda endpoints, versitygw, the Secrets Manager endpoint and Databricks...")
	start := time.Now()
	p, err := integration.Start(ctx, opts)
	if err != nil {
		return fail(err)
	}
	defer p.Stop()
	fmt.Printf("local: running in %s (logs in %s)\n", time.Since(start).Round(100*time.Millisecond), dir)
	if p.Workspace == nil {
		fmt.Println("local: delivering to the real Databricks workspace named by", *secretFile)
	}

	fmt.Printf("local: writing %d changes to table %s; the backfill starts once the first are written\n", *changes, p.Opts.Table)
	writeStart := time.Now()
	loadStarted := make(chan struct{})
	var once sync.Once
	type loaded struct {
		load *integration.Load
		err  error
	}
	loadDone := make(chan loaded, 1)
	go func() {
		load, err := integration.Generate(ctx, p.DynamoDB, p.Opts.Table, *changes, seed, func(done int) {
			if done >= min(1000, *changes/4) {
				once.Do(func() { close(loadStarted) })
			}
			if done%1000 == 0 {
				fmt.Printf("local: written %d/%d changes\n", done, *changes)
			}
		})
		once.Do(func() { close(loadStarted) })
		loadDone <- loaded{load, err}
	}()
	// The backfill runs while changes keep being written: the export
	// scans a table that is changing, and the lake must still come out
	// equal to it.
	<-loadStarted
	fmt.Println("local: backfill: exporting the table and converting the export while changes are written")
	phase := backfill.Phase("")
	bf, bfErr := p.Backfill(ctx, func(pr backfill.Progress) {
		if pr.Phase != phase {
			phase = pr.Phase
			fmt.Printf("local: backfill: %s (%s)\n", pr.Phase, pr.Status)
		}
	})
	l := <-loadDone
	if l.err != nil {
		return fail(l.err)
	}
	if bfErr != nil {
		return fail(fmt.Errorf("backfill: %w", bfErr))
	}
	load := l.load
	writeTime := time.Since(writeStart)
	fmt.Printf("local: wrote %d changes in %s (%.0f/s); backfill done; waiting for S3 and Databricks\n", load.Total, writeTime.Round(time.Millisecond), float64(load.Total)/writeTime.Seconds())
	drainCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	err = p.Drain(drainCtx, load.Total, func(s integration.Status) {
		fmt.Printf("local: stream records %d, processed %d, S3 objects %d, delivered %d, conversions %d\n", s.StreamRecords, s.Processed, s.ObjectEvents, s.Delivered, s.Conversions)
	})
	if err != nil {
		return fail(err)
	}
	total := time.Since(writeStart)
	r, err := p.Verify(ctx, load)
	if err != nil {
		return fail(err)
	}
	fmt.Println("local: reconciling the lake with the table")
	rec, err := p.Reconcile(ctx)
	if err != nil {
		return fail(err)
	}
	fmt.Println()
	fmt.Printf("items preloaded:              %d (before the stream existed: only the backfill carries them)\n", *preload)
	fmt.Print(r)
	if p.Workspace == nil {
		fmt.Printf("delivered (forwarder logs):   %d objects\n", strings.Count(p.ForwarderLogs.String(), `"msg":"object delivered"`))
	}
	fmt.Printf("end-to-end throughput:        %.0f changes/s (%d changes, first write to last delivery %s)\n",
		float64(load.Total)/total.Seconds(), load.Total, total.Round(time.Millisecond))
	fmt.Print(integration.BackfillSummary(bf))
	fmt.Print(integration.ReconcileSummary(rec))
	// Every AWS request the run made, by each function and ddbstream
	// subcommand, against what the stack would deploy. Stopped first, so
	// that no request is still in flight.
	p.Stop()
	authorized := false
	if auth, err := integration.Authorize(ctx, root, p.Opts, p.Recorded("make local")); err != nil {
		fmt.Printf("AWS requests allowed:         unknown: %v\n", err)
	} else {
		fmt.Print(auth.Summary())
		if err := auth.Err(); err != nil {
			fmt.Printf("AWS requests allowed:         NO: %v\n", err)
		} else {
			authorized = true
			fmt.Printf("AWS requests allowed:         YES (%d distinct requests, by the stack's and the operator policies)\n", auth.Requests)
		}
	}
	if !r.ExactlyOnce || rec.Differences() > 0 || !authorized {
		return 1
	}
	return 0
}

func fail(err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "local: interrupted; stopped everything")
		return 130
	}
	fmt.Fprintln(os.Stderr, "local:", err)
	if strings.Contains(err.Error(), "install-tools") {
		fmt.Fprintln(os.Stderr, "local: run", filepath.Join("integration", "scripts", "install-tools.sh"), "or make tools")
	}
	return 1
}
