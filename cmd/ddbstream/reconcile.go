package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ddbstream/pipeline/internal/progress"
	"github.com/ddbstream/pipeline/internal/reconcile"
	"github.com/ddbstream/pipeline/internal/record"
)

const reconcileHelp = `Usage: ddbstream reconcile [flags]

Compares the lake with the live table, item by item, and reports every
difference: it folds the table's objects under <prefix>/table=<table>/ into
each item's latest state (stream records and backfill snapshots, by order
key), scans the table, compares, and reads the differing items again after
the pipeline has had --settle to deliver changes that were in flight, so
that only real differences are reported. Memory stays bounded: both sides
spill to --temp-dir.

The scan reads the whole table: cap its read capacity with --read-rate on a
table that serves traffic. A page DynamoDB throttles is retried with a
capped backoff, beyond the SDK's own attempts, for up to --max-throttle-wait.

Numbers compare as decimals, as DynamoDB stores them (1.50 equals 1.5, 1E+2
equals 100), in images at any depth and in number sets; sets compare
regardless of order. Keys are the item's identity byte for byte, as every
consumer of the lake matches them: a key number the lake spells otherwise
than DynamoDB (1E+2 for 100) is reported as "key text differs".

With --stack it reads the outputs TableName, BucketName and Prefix, and
ImageFormat when the stack has it.

AWS calls: cloudformation:DescribeStacks (with --stack); dynamodb:DescribeTable,
Scan, BatchGetItem; s3:ListBucket and s3:GetObject on the data prefix.

Flags:
%s
Examples:
  ddbstream reconcile --stack DdbStreamPipeline --read-rate 500
  ddbstream reconcile --stack DdbStreamPipeline --examples 50 --show-values
  ddbstream reconcile --table Orders --bucket my-lake --prefix cdc --image-format dynamodb

Exit status: 0 the lake equals the table; 4 differences found (the summary
lists them, with examples); 1 the run failed (the message says what to do),
so nothing is known of the differences; 2 bad usage; 130 interrupted.
`

// differencesError is reconcile's finding that the lake and the table
// differ. It is a result, not a failure of the run, so it has its own exit
// status: a script tells "the lake needs a repair" from "reconcile could
// not tell".
type differencesError struct {
	table string
	n     int64
}

func (e *differencesError) Error() string {
	return fmt.Sprintf("the lake differs from table %s: %d differences", e.table, e.n)
}

// differencesRemedy is what to do about a differencesError.
const differencesRemedy = "items missing from the lake or different are repaired by a backfill (ddbstream backfill, same settings); look at the examples' keys and order keys for the rest, and at the pipeline's failure queues for records it gave up on"

func runReconcile(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	var c common
	c.register(fs, 24*time.Hour)
	imageFormat := fs.String("image-format", "", "the pipeline's IMAGE_FORMAT, plain or dynamodb (default: the stack's ImageFormat output, else plain)")
	readRate := fs.Float64("read-rate", 0, "cap on the read capacity units per second the scan and recheck consume (0: no cap)")
	segments := fs.Int("segments", 0, "parallel scan segments (0: one per 2 GiB of table, at least 4)")
	pageLimit := fs.Int("page-limit", 0, "items per scan page (0: DynamoDB's 1 MB pages); lower smooths consumption under a small --read-rate")
	consistent := fs.Bool("consistent-read", false, "scan with strongly consistent reads, at twice the read capacity")
	throttleWait := fs.Duration("max-throttle-wait", 15*time.Minute, "how long one scan page may stay throttled, retried with backoff, before the run fails")
	readers := fs.Int("readers", 0, "lake objects read at once (0: 16)")
	tempDir := fs.String("temp-dir", "", "folder for the spill files (default: the system's temporary folder)")
	memoryMB := fs.Int64("memory-mb", 0, "memory budget for folding one partition, in MiB (0: the default)")
	settle := fs.Duration("settle", time.Minute, "how long the pipeline may take to deliver changes in flight before the recheck")
	maxRecheck := fs.Int("max-recheck", 0, "differing items read again at most (0: 10,000)")
	examples := fs.Int("examples", 10, "examples kept of each kind of difference (0: none)")
	showValues := fs.Bool("show-values", false, "show the lake's and the live values in the examples (they may be sensitive; keys are always shown)")
	if done, code := parse(fs, args, reconcileHelp, e); done {
		return code
	}
	if err := c.check(); err != nil {
		return fail(e, "reconcile", err)
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "reconcile", err)
	}
	t, err := resolve(ctx, fs, c, cl.stacks)
	if err != nil {
		return fail(e, "reconcile", err)
	}
	format, err := record.ParseImageFormat(first(*imageFormat, t.outputs["ImageFormat"], "plain"))
	if err != nil {
		return fail(e, "reconcile", &usageError{msg: "--image-format: " + err.Error()})
	}
	if *examples == 0 {
		*examples = -1 // the library's "none"
	}
	meter := progress.New(e.stderr, "ddbstream reconcile", e.terminal, c.progressEvery)
	cfg := reconcile.Config{
		Table: t.table, Bucket: t.bucket, Prefix: t.prefix, ImageFormat: format,
		List: cl.s3, Get: cl.s3, Scan: cl.dynamodb, BatchGet: cl.dynamodb, Describe: cl.dynamodb,
		ReadRate: *readRate, TotalSegments: *segments, PageLimit: int32(*pageLimit), ConsistentRead: *consistent, MaxThrottleWait: *throttleWait,
		Readers: *readers, TempDir: *tempDir, PartitionMemory: *memoryMB << 20, Settle: *settle, MaxRecheck: *maxRecheck,
		Examples: *examples, ShowValues: *showValues,
		Progress: func(p reconcile.Progress) { meter.Update(reconcileState(p)) },
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	fmt.Fprintf(e.stderr, "ddbstream reconcile: table %s against s3://%s/%s\n", cfg.Table, cfg.Bucket, t.prefix)
	rep, err := reconcile.Run(ctx, cfg)
	meter.Done()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		err = &remedyError{msg: "reconcile did not finish within --timeout " + c.timeout.String(), err: err,
			remedy: "run it again with a longer --timeout, or a higher --read-rate if the table can spare the capacity"}
	case errors.Is(err, reconcile.ErrThrottled):
		err = &remedyError{msg: "DynamoDB throttled the reads for longer than --max-throttle-wait " + throttleWait.String(), err: err,
			remedy: "run it again with a lower --read-rate (and --page-limit), at a quieter time, or after raising the table's read capacity; a longer --max-throttle-wait waits it out"}
	}
	if err != nil {
		return fail(e, "reconcile", err)
	}
	reconcileSummary(rep).WriteTo(e.stdout)
	if n := rep.Differences(); n > 0 {
		return fail(e, "reconcile", &differencesError{table: cfg.Table, n: n})
	}
	return exitOK
}

func reconcileState(p reconcile.Progress) progress.State {
	s := progress.State{Phase: string(p.Phase)}
	switch p.Phase {
	case reconcile.PhaseList:
		s.Detail = fmt.Sprintf("%d lake objects listed", p.ObjectsListed)
	case reconcile.PhaseRead:
		s.Done, s.Total, s.Unit = int(p.ObjectsRead), int(p.ObjectsListed), "lake objects read"
		s.Detail = fmt.Sprintf("%d items scanned of about %d, %.0f RCU", p.ItemsScanned, p.EstimatedItems, p.ConsumedRCU)
	case reconcile.PhaseCompare:
		s.Done, s.Total, s.Unit = p.PartitionsCompared, p.Partitions, "partitions compared"
	case reconcile.PhaseSettle:
		s.Detail = "waiting for the pipeline to deliver the changes in flight"
	case reconcile.PhaseRecheck:
		s.Detail = fmt.Sprintf("reading %d differing items again", p.Rechecking)
	}
	return s
}

func reconcileSummary(r *reconcile.Report) *progress.Summary {
	var s progress.Summary
	if n := r.Differences(); n > 0 {
		s.Addf("reconcile", "%d differences", n)
	} else {
		s.Add("reconcile", "the lake equals the table")
	}
	s.Add("table", r.Table)
	s.Addf("lake", "%d objects, %d lines, %d bytes", r.Objects, r.Lines, r.LakeBytes)
	s.Addf("scanned", "%d items in %d segments", r.Scanned, r.Segments)
	for _, o := range []struct {
		name string
		n    int64
	}{
		{"equal", r.Equal}, {"missing from lake", r.MissingFromLake}, {"only in lake", r.OnlyInLake},
		{"different", r.Different}, {"in flight", r.InFlight}, {"unverified", r.Unverified}, {"conflict", r.Conflict},
		{"malformed lines", r.MalformedLines},
	} {
		s.Addf(o.name, "%d", o.n)
	}
	s.Addf("rechecked", "%d (not rechecked: %d)", r.Rechecked, r.NotRechecked)
	if r.KeyTextDiffers > 0 {
		s.Addf("key text differs", "%d items: the lake spells a key number otherwise than DynamoDB stores it, so its consumers see a second item (counted once only in lake and once missing from lake)", r.KeyTextDiffers)
	}
	if r.ThrottledRequests > 0 {
		s.Addf("throttled", "%d requests retried, %s waited in all", r.ThrottledRequests, duration(r.ThrottleWait))
	}
	s.Addf("read capacity", "%.0f RCU (scan estimated at %.0f)", r.ConsumedRCU(), r.EstimatedScanRCU)
	s.Add("took", duration(r.Duration))
	for _, x := range r.Examples {
		v := x.Keys
		if x.LakeOrderKey != "" {
			v += ", lake order key " + x.LakeOrderKey
		}
		if x.Lake != "" || x.Live != "" {
			v += fmt.Sprintf(", lake %s, live %s", first(x.Lake, "-"), first(x.Live, "-"))
		}
		s.Add("example "+x.Outcome.String(), v)
	}
	for _, k := range r.KeyTextExamples {
		s.Addf("example key text differs", "lake %s, table %s", k.Lake, k.Live)
	}
	for _, m := range r.Malformed {
		s.Addf("malformed", "%s line %d: %s", m.Object, m.Line, m.Reason)
	}
	return &s
}
