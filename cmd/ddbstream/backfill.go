package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/progress"
)

var backfillHelp = `Usage: ddbstream backfill [flags]

Loads the table's whole current state into the lake. It checks that
point-in-time recovery and the table's stream are on, and that the stream
is at least ` + orderkey.SnapshotMargin.String() + ` older than the export time (otherwise a change made
between the two could be in neither, so it refuses and says when it can
run); starts a full point-in-time export, DynamoDB JSON, into the pipeline's
bucket under the export prefix (outside the data prefix), encrypted with the
bucket's KMS key; and follows the export, then its conversion into snapshot
objects under <prefix>/table=<table>/, to the end.

Running it again attaches to the same export and conversion instead of
starting another: an export in progress, or a completed one not yet
converted, is followed. Once this hour's export is converted, running it
again reports that export and starts nothing; in a later hour it takes a
new one. Ctrl-C or --timeout leave the export and conversion running in
AWS; the same command attaches to them.

With --stack it reads the outputs TableName, BucketName and Prefix, and,
when the stack has them, ExportPrefix, BucketKeyArn and StreamArn (the
stream the pipeline reads, which must be the table's current one).

AWS calls: cloudformation:DescribeStacks (with --stack);
dynamodb:DescribeTable, DescribeContinuousBackups, ListExports,
DescribeExport, ExportTableToPointInTime; s3:GetObject and s3:ListBucket on
the bucket; with a KMS key, the permissions DynamoDB needs to write with it
(kms:GenerateDataKey, kms:Decrypt).

Flags:
%s
Examples:
  ddbstream backfill --stack DdbStreamPipeline
  ddbstream backfill --stack DdbStreamPipeline --timeout 6h
  ddbstream backfill --table Orders --bucket my-lake --prefix cdc \
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
	if p.Phase == backfill.PhaseExport {
		return progress.State{Phase: "export", Detail: fmt.Sprintf("%s for %s", p.Status, p.Elapsed.Round(time.Second))}
	}
	s := progress.State{Phase: "convert", Done: p.Converted, Total: p.ToConvert, Unit: "data files converted"}
	if p.Errors > 0 {
		s.Detail = fmt.Sprintf("%d errors objects", p.Errors)
	}
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
	s.Add("export took", duration(r.ExportDuration))
	s.Add("this run took", duration(r.Duration))
	return &s
}
