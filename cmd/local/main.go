// Command local runs the whole pipeline on this machine (make local):
// DynamoDB Local, versitygw, both functions under the Runtime API
// emulator, and a fake Databricks workspace (or a real one, given a
// secret). It writes a mix of changes, waits for them to arrive, and
// prints whether every change arrived exactly once. Every process it
// starts is stopped when it ends, also on Ctrl-C.
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
	"syscall"
	"time"

	"github.com/ddbstream/pipeline/integration"
)

func main() {
	os.Exit(run())
}

func run() int {
	changes := flag.Int("changes", 10000, "changes to write (inserts, updates, deletes, TTL-style deletes)")
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
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fail(err)
		}
		opts.DatabricksSecret = strings.TrimSpace(string(b))
	}

	fmt.Println("local: building the functions and starting DynamoDB Local, versitygw, the Secrets Manager endpoint and Databricks...")
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

	fmt.Printf("local: writing %d changes to table %s\n", *changes, p.Opts.Table)
	writeStart := time.Now()
	load, err := integration.Generate(ctx, p.DynamoDB, p.Opts.Table, *changes, uint64(time.Now().UnixNano()), func(done int) {
		fmt.Printf("local: written %d/%d changes\n", done, *changes)
	})
	if err != nil {
		return fail(err)
	}
	writeTime := time.Since(writeStart)
	fmt.Printf("local: wrote %d changes in %s (%.0f/s); waiting for S3 and Databricks\n", load.Total, writeTime.Round(time.Millisecond), float64(load.Total)/writeTime.Seconds())
	drainCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	err = p.Drain(drainCtx, load.Total, func(s integration.Status) {
		fmt.Printf("local: stream records %d, processed %d, S3 objects %d, delivered %d\n", s.StreamRecords, s.Processed, s.ObjectEvents, s.Delivered)
	})
	if err != nil {
		return fail(err)
	}
	total := time.Since(writeStart)
	r, err := p.Verify(ctx, load)
	if err != nil {
		return fail(err)
	}
	fmt.Println()
	fmt.Print(r)
	if p.Workspace == nil {
		fmt.Printf("delivered (forwarder logs):   %d objects\n", strings.Count(p.ForwarderLogs.String(), `"msg":"object delivered"`))
	}
	fmt.Printf("end-to-end throughput:        %.0f changes/s (%d changes, first write to last delivery %s)\n",
		float64(load.Total)/total.Seconds(), load.Total, total.Round(time.Millisecond))
	if !r.ExactlyOnce {
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
