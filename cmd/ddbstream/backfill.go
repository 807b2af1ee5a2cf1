package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/progress"
)

var backfillHelp = `Usage: ddbstream backfill [flags]

Loads the table's whole current state into the lake. It checks that
point-in-time recovery and the table's stream are on, and that the event
source mapping that carries the stream into the lake has been reading it
since at least ` + orderkey.SnapshotMargin.String() + ` before the export time (a LATEST mapping reads from
when it was created or last changed, a TRIM_HORIZON one up to a day before;
otherwise a change made between the two could be in neither, so it refuses
and says when it can run); starts a full point-in-time export, DynamoDB
JSON, into the pipeline's bucket under the export prefix (outside the data
prefix), encrypted with the bucket's KMS key; and follows the export, then
its conversion into snapshot objects under <prefix>/table=<table>/, to the
end. If no data file is converted --stall-wait after the export completed
(the summary's event never reached the planner, or Lambda gave up on it), it
invokes the export planner itself, once.

Once the export is wholly converted, it folds the table's lake (as reconcile
does, on local disk) and writes one more object beside the snapshot objects:
a REMOVE line, at the snapshot's rank, for every item the lake holds whose
newest line is older than the snapshot and which the export does not hold
(an item whose delete the lake lost). Every consumer then drops it.

Running it again attaches to the same export and conversion instead of
starting another: an export in progress, or a completed one not yet
converted, is followed. Once this hour's export is converted and its delete
lines written, running it again reports that export and starts nothing; in a
later hour it takes a new one. Ctrl-C or --timeout leave the export and
conversion running in AWS; the same command attaches to them.

With --stack it reads the outputs TableName, BucketName and Prefix, and,
when the stack has them, ExportPrefix, BucketKeyArn, StreamArn (the stream
the pipeline reads, which must be the table's current one),
StreamerFunctionName, ExportPlannerFunctionName and
ExportConverterReservedConcurrency (how many data files convert at once, for
the time estimate).

AWS calls: cloudformation:DescribeStacks (with --stack);
dynamodb:DescribeTable, DescribeContinuousBackups, ListExports,
DescribeExport, ExportTableToPointInTime; lambda:ListEventSourceMappings,
and lambda:InvokeFunction on the export planner when the conversion stalls;
s3:GetObject and s3:ListBucket on the bucket, s3:PutObject for the delete
lines; with a KMS key, the permissions DynamoDB needs to write with it
(kms:GenerateDataKey, kms:Decrypt).

Flags:
%s
Examples:
  ddbstream backfill --stack DdbStreamPipeline
  ddbstream backfill --stack DdbStreamPipeline --timeout 6h --temp-dir /mnt/big
  ddbstream backfill --table Orders --bucket my-lake --prefix cdc --streamer-function my-streamer \
      --kms-key arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
  AWS_PROFILE=prod ddbstream backfill --stack DdbStreamPipeline --region eu-west-1

Exit status: 0 done or already done; 1 failed (the message says what to do);
2 bad usage; 3 not finished within --timeout (run it again to attach);
130 interrupted.
`

func runBackfill(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	var c common
	c.register(fs, 2*time.Hour)
	exportPrefix := fs.String("export-prefix", "", "key prefix of the export's files, outside the data prefix (default: the stack's ExportPrefix output, else <prefix>-exports)")
	kmsKey := fs.String("kms-key", "", "KMS key ARN the export is written with (default: the stack's BucketKeyArn output; none: the bucket's default encryption)")
	poll := fs.Duration("poll", 15*time.Second, "how often to check the export and the conversion")
	streamer := fs.String("streamer-function", "", "the function the stream's event source mapping invokes (default: the stack's StreamerFunctionName output, else the one mapping on the stream)")
	planner := fs.String("planner-function", "", "the export planner, invoked when no data file is converted --stall-wait after the export completed (default: the stack's ExportPlannerFunctionName output; none: never)")
	stallWait := fs.Duration("stall-wait", backfill.DefaultStallWait, "how long after the export completed to wait for a first converted data file before invoking the planner")
	concurrency := fs.Int("converter-concurrency", 0, "how many data files convert at once, for the time estimate (default: the stack's ExportConverterReservedConcurrency output)")
	tempDir := fs.String("temp-dir", "", "where the lake is folded to find the items the export lacks (about 1 GB per million items; default: the system's temporary directory)")
	if done, code := parse(fs, args, backfillHelp, e); done {
		return code
	}
	if err := c.check(); err != nil {
		return fail(e, "backfill", err)
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "backfill", err)
	}
	t, err := resolve(ctx, fs, c, cl.stacks)
	if err != nil {
		return fail(e, "backfill", err)
	}
	cfg := backfill.Config{
		Table: t.table, Bucket: t.bucket, Prefix: t.prefix,
		ExportPrefix: first(*exportPrefix, t.outputs["ExportPrefix"]), KMSKey: first(*kmsKey, t.outputs["BucketKeyArn"]),
		StreamARN: t.outputs["StreamArn"], Timeout: c.timeout, Poll: *poll,
		Lambda: cl.lambda, StreamerFunction: first(*streamer, t.outputs["StreamerFunctionName"]),
		PlannerFunction: first(*planner, t.outputs["ExportPlannerFunctionName"]), StallWait: *stallWait,
		ConverterConcurrency: *concurrency, TempDir: *tempDir,
	}
	if cfg.ConverterConcurrency == 0 {
		if n, err := strconv.Atoi(t.outputs["ExportConverterReservedConcurrency"]); err == nil {
			cfg.ConverterConcurrency = n
		}
	}
	meter := progress.New(e.stderr, "ddbstream backfill", e.terminal, c.progressEvery)
	cfg.Progress = func(p backfill.Progress) { meter.Update(backfillState(p)) }
	fmt.Fprintf(e.stderr, "ddbstream backfill: table %s, exports to s3://%s/%s/\n", cfg.Table, cfg.Bucket, first(cfg.ExportPrefix, backfill.DefaultExportPrefix(cfg.Prefix)))
	r, err := backfill.Run(ctx, cfg, cl.dynamodb, cl.s3)
	meter.Done()
	if r.ExportARN != "" || err == nil {
		backfillSummary(r, err).WriteTo(e.stdout)
	}
	if err != nil {
		return fail(e, "backfill", err)
	}
	return exitOK
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func backfillState(p backfill.Progress) progress.State {
	switch p.Phase {
	case backfill.PhaseExport:
		return progress.State{Phase: "export", Detail: fmt.Sprintf("%s for %s", p.Status, p.Elapsed.Round(time.Second))}
	case backfill.PhaseDeletes:
		return progress.State{Phase: "deletes", Detail: "folding the lake for the items the export lacks"}
	}
	s := progress.State{Phase: "convert", Done: p.Converted, Total: p.ToConvert, Unit: "data files converted"}
	var detail []string
	if p.Concurrency > 0 {
		detail = append(detail, fmt.Sprintf("at most %d at a time", p.Concurrency))
	}
	if p.Remaining > 0 {
		detail = append(detail, "about "+p.Remaining.String()+" left")
	}
	if p.Errors > 0 {
		detail = append(detail, fmt.Sprintf("%d errors objects", p.Errors))
	}
	s.Detail = strings.Join(detail, ", ")
	return s
}

func backfillSummary(r backfill.Report, err error) *progress.Summary {
	var s progress.Summary
	var be *backfill.Error
	switch {
	case err == nil && r.AlreadyDone:
		s.Add("backfill", "already done: this hour's export is converted; nothing was started")
	case err == nil:
		s.Add("backfill", "done")
	case errors.As(err, &be) && be.Unfinished:
		s.Add("backfill", "not finished: it goes on in AWS")
	default:
		s.Add("backfill", "failed")
	}
	s.Add("export", r.ExportARN)
	if r.Attached {
		s.Add("attached", "yes: followed an export started earlier")
	}
	s.Add("status", r.Status)
	if !r.ExportTime.IsZero() {
		s.Add("export time", r.ExportTime.UTC().Format(time.RFC3339))
	}
	s.Add("client token", r.ClientToken)
	s.Add("export files", r.ExportDir)
	if r.DataFiles > 0 {
		s.Addf("items", "%d", r.Items)
		s.Addf("data files", "%d (%d empty)", r.DataFiles, r.EmptyFiles)
		s.Addf("converted", "%d of %d data files with items", r.Converted, r.DataFiles-r.EmptyFiles)
		s.Addf("snapshot objects", "%d", r.DataObjects)
		s.Addf("errors objects", "%d", r.ErrorObjects)
	}
	if r.PlannerInvoked {
		s.Addf("planner invoked", "yes: no data file was converted in time; it started %d conversions", r.PlannerDispatched)
	}
	switch {
	case r.DeletesAlready:
		s.Add("delete lines", "written before, in "+r.DeletesKey)
	case r.DeletesKey != "" && err == nil:
		s.Addf("delete lines", "%d items the export lacks (of %d in %d lake objects), in %s", r.Deleted, r.LakeItems, r.LakeObjects, r.DeletesKey)
	}
	if r.MalformedLines > 0 {
		s.Addf("malformed lake lines", "%d (not folded; ddbstream reconcile lists them)", r.MalformedLines)
	}
	s.Add("export took", duration(r.ExportDuration))
	s.Add("this run took", duration(r.Duration))
	return &s
}
