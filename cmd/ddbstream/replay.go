package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ddbstream/pipeline/internal/progress"
	"github.com/ddbstream/pipeline/internal/replay"
)

const replayHelp = `Usage: ddbstream replay [flags]

Delivers a table's objects of a time range to Databricks again, through
the forwarder's own code and settings (read from the deployed forwarder),
for example after a destination was fixed or recreated. Objects are
chosen by their keys, <prefix>/table=<table>/dt=<date>/hour=<HH>/, whose
hour is their first record's: --from is included, --to excluded, both UTC
and taken to the hour. Backfill snapshot objects of those hours are
included; _errors/ objects never are (see ddbstream errors).

Delivery is idempotent as the forwarder's is: in volume and dbfs mode the
same path is overwritten, copy-into's MERGE inserts no line twice, and in
job mode the run's idempotency token is derived from the object and
--replay-id: running the same replay again starts no second run per
object, and a new --replay-id runs the job again. --dry-run lists the
objects and delivers nothing.

With --stack it reads the outputs TableName, BucketName, Prefix and
ForwarderFunctionName; the flags override them.

AWS calls: cloudformation:DescribeStacks (with --stack);
lambda:GetFunctionConfiguration of the forwarder; s3:ListBucket,
s3:GetObject on the data keys; secretsmanager:GetSecretValue on the
Databricks secret; with a KMS key, kms:Decrypt through S3. The policy is
ddbstream-replay in iam/testdata/operator-policies.json.

Flags:
%s
Examples:
  ddbstream replay --stack DdbStreamPipeline --from 2026-11-23T00 --to 2026-11-24T00 --dry-run
  ddbstream replay --stack DdbStreamPipeline --since 6h
  ddbstream replay --stack DdbStreamPipeline --from 2026-11-23 --replay-id after-volume-fix

Exit status: 0 every object delivered (or skipped, as the forwarder skips
an object that no longer exists); 1 objects failed (the summary names
them) or the run failed; 2 bad usage; 3 not finished within --timeout (run
it again: delivery is idempotent); 130 interrupted.
`

func runReplay(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var c common
	c.register(fs, 6*time.Hour)
	from := fs.String("from", "", "first hour to deliver, UTC (2026-11-23T17, 2026-11-23, or RFC 3339)")
	to := fs.String("to", "", "end of the range, excluded (default: the next hour)")
	since := fs.Duration("since", 0, "deliver the last D instead of --from (such as 6h)")
	dryRun := fs.Bool("dry-run", false, "list the objects; deliver nothing")
	replayID := fs.String("replay-id", "1", "names the replay: the same ID starts no second job run per object, a new one runs the job again")
	forwarderFn := fs.String("forwarder-function", "", "the deployed forwarder, whose settings are used (default: the stack's ForwarderFunctionName)")
	show := fs.Int("show", 20, "objects listed in the summary (0: none; failures are always listed)")
	if done, code := parse(fs, args, replayHelp, e); done {
		return code
	}
	f, t, err := timeRange(*from, *to, *since, time.Now(), true)
	if err != nil {
		return fail(e, "replay", err)
	}
	if err := c.check(); err != nil {
		return fail(e, "replay", err)
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "replay", err)
	}
	tg, err := resolve(ctx, fs, c, cl.stacks)
	if err != nil {
		return fail(e, "replay", err)
	}
	cfg := replay.Config{Bucket: tg.bucket, Prefix: tg.prefix, Table: tg.table, From: f, To: t, ReplayID: *replayID, DryRun: *dryRun,
		ForwarderFunction: first(*forwarderFn, tg.outputs["ForwarderFunctionName"]), DatabricksOptions: e.databricks}
	if cfg.ForwarderFunction == "" && !*dryRun {
		return fail(e, "replay", &usageError{msg: "give --forwarder-function, or --stack of a stack with a forwarder"})
	}
	meter := progress.New(e.stderr, "ddbstream replay", e.terminal, c.progressEvery)
	cfg.Progress = func(p replay.Progress) {
		s := progress.State{Phase: p.Phase, Done: p.Done, Total: p.Total, Unit: "objects"}
		if p.Phase == "list" {
			s.Total, s.Detail = 0, fmt.Sprintf("%d objects found", p.Done)
		}
		if p.Failed > 0 {
			s.Detail = fmt.Sprintf("%d failed", p.Failed)
		}
		meter.Update(s)
	}
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	fmt.Fprintf(e.stderr, "ddbstream replay: table %s, %s to %s, s3://%s/%s\n", cfg.Table, f.Format("2006-01-02T15"), t.Format("2006-01-02T15"), cfg.Bucket, cfg.Prefix)
	rep, err := replay.Run(ctx, cfg, replay.Clients{S3: cl.ops.s3, Secrets: cl.ops.secrets, Functions: cl.ops.lambda})
	meter.Done()
	replaySummary(cfg, rep, err, *show).WriteTo(e.stdout)
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(e.stderr, "ddbstream replay: not finished within --timeout %s\nwhat to do: run it again: delivery is idempotent\n", c.timeout)
		return exitUnfinished
	}
	if err != nil {
		return fail(e, "replay", err)
	}
	if rep.Failed > 0 {
		return fail(e, "replay", &remedyError{msg: fmt.Sprintf("%d of %d objects not delivered", rep.Failed, rep.Objects),
			remedy: "fix the cause the summary shows (ddbstream doctor checks the secret, the workspace and the destination), then run the same replay again: what was delivered is not delivered twice"})
	}
	return exitOK
}

func replaySummary(cfg replay.Config, rep replay.Report, err error, show int) *progress.Summary {
	var s progress.Summary
	switch {
	case err != nil:
		s.Add("replay", "stopped: "+err.Error())
	case rep.DryRun:
		s.Add("replay", "dry run: nothing was delivered")
	case rep.Failed > 0:
		s.Addf("replay", "done, %d objects failed", rep.Failed)
	default:
		s.Add("replay", "done")
	}
	s.Add("table", cfg.Table)
	s.Addf("hours", "%s to %s (UTC, end excluded)", cfg.From.Format("2006-01-02T15"), cfg.To.Format("2006-01-02T15"))
	s.Addf("objects", "%d (%d bytes)", rep.Objects, rep.Bytes)
	if !rep.DryRun {
		s.Addf("delivered", "%d", rep.Delivered)
		s.Addf("skipped", "%d", rep.Skipped)
		s.Addf("failed", "%d", rep.Failed)
		s.Add("replay ID", cfg.ReplayID)
	}
	shown := 0
	for _, it := range rep.Items {
		if shown >= show && it.Error == "" {
			continue
		}
		shown++
		v := it.Result
		if it.Destination != "" {
			v += " -> " + it.Destination
		}
		if it.Reason != "" {
			v += " (" + it.Reason + ")"
		}
		if it.Error != "" {
			v += ": " + it.Error
		}
		s.Add("  "+it.Key, v)
	}
	if n := len(rep.Items) - shown; n > 0 {
		s.Addf("  …", "%d more", n)
	}
	return &s
}
