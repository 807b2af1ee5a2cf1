package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/progress"
	"github.com/ddbstream/pipeline/internal/replay/errorlist"
)

const errorsHelp = `Usage: ddbstream errors [flags]

Lists and summarises what the pipeline set aside under <prefix>/_errors/:
stream records the streamer could not convert and export lines the
backfill could not convert (kept whole with the reason), and payloads
that were not events at all (_errors/malformed/). None of it reaches
Databricks, so this is what was not delivered: the summary gives the
number of objects and records, by table and by reason (values masked so
that one fault is one line, with exact examples), and the hours they
span. Nothing is changed.

With --stack it reads the outputs BucketName and Prefix; --table limits
the listing to one table (malformed payloads name none and are listed
only without it).

AWS calls: cloudformation:DescribeStacks (with --stack); s3:ListBucket and
s3:GetObject under <prefix>/_errors/; with a KMS key, kms:Decrypt through
S3. The policy is ddbstream-errors in iam/testdata/operator-policies.json.

Flags:
%s
Examples:
  ddbstream errors --stack DdbStreamPipeline
  ddbstream errors --stack DdbStreamPipeline --table Orders --since 24h --examples 5
  ddbstream errors --bucket my-lake --prefix cdc --objects

Exit status: 0 nothing set aside; 1 records set aside (the summary says
what and why) or the run failed; 2 bad usage; 130 interrupted.
`

func runErrors(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("errors", flag.ContinueOnError)
	var c common
	c.register(fs, time.Hour)
	from := fs.String("from", "", "first hour to list, UTC (2026-11-23T17, 2026-11-23, or RFC 3339; default: all)")
	to := fs.String("to", "", "end of the hours to list, excluded (default: the next hour)")
	since := fs.Duration("since", 0, "list the last D instead of --from (such as 24h)")
	examples := fs.Int("examples", 3, "examples shown per reason")
	objects := fs.Bool("objects", false, "list every errors object")
	noRead := fs.Bool("no-read", false, "count objects and bytes only, without reading them")
	if done, code := parse(fs, args, errorsHelp, e); done {
		return code
	}
	f, t, err := timeRange(*from, *to, *since, time.Now(), false)
	if err != nil {
		return fail(e, "errors", err)
	}
	if c.stack == "" && c.bucket == "" {
		return fail(e, "errors", &usageError{msg: "give --stack, or --bucket (and --prefix)"})
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "errors", err)
	}
	out, err := outputsOf(ctx, cl.stacks, c.stack)
	if err != nil {
		return fail(e, "errors", err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	prefix := first(out["Prefix"], defaultPrefix)
	if set["prefix"] {
		prefix = c.prefix
	}
	cfg := errorlist.Config{Bucket: first(c.bucket, out["BucketName"]), Prefix: prefix, Table: c.table, From: f, Examples: *examples, NoRead: *noRead}
	if !f.IsZero() || *to != "" {
		cfg.To = t
	}
	meter := progress.New(e.stderr, "ddbstream errors", e.terminal, c.progressEvery)
	cfg.Progress = func(done, total int) {
		meter.Update(progress.State{Phase: "read", Done: done, Total: total, Unit: "errors objects"})
	}
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	rep, err := errorlist.Run(ctx, cfg, cl.s3)
	meter.Done()
	if err != nil {
		return fail(e, "errors", err)
	}
	errorsSummary(cfg, rep, *objects).WriteTo(e.stdout)
	if len(rep.Objects) > 0 {
		return fail(e, "errors", &remedyError{msg: fmt.Sprintf("%d records and %d malformed payloads set aside", rep.Records, rep.Malformed),
			remedy: "fix what the reasons name (a writer putting values DynamoDB accepts but the format cannot hold, or a bug to report with an example); the records are kept whole in their objects, so once fixed they can be written again with the same values (a backfill takes the table's current state)"})
	}
	return exitOK
}

func errorsSummary(cfg errorlist.Config, rep errorlist.Report, objects bool) *progress.Summary {
	var s progress.Summary
	where := "s3://" + cfg.Bucket + "/" + strings.TrimPrefix(cfg.Prefix+"/_errors/", "/")
	if len(rep.Objects) == 0 {
		s.Add("errors", "nothing set aside under "+where)
		return &s
	}
	s.Addf("errors", "%d objects (%d bytes) under %s", len(rep.Objects), rep.Bytes, where)
	if !cfg.NoRead {
		s.Addf("records", "%d", rep.Records)
	}
	s.Addf("malformed payloads", "%d", rep.Malformed)
	if !rep.First.IsZero() {
		s.Addf("hours", "%s to %s (UTC, first records' hours)", rep.First.Format("2006-01-02T15"), rep.Last.Format("2006-01-02T15"))
	}
	var tables []string
	for t := range rep.ByTable {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		s.Addf("table "+t, "%d records", rep.ByTable[t])
	}
	for _, r := range rep.Reasons {
		s.Addf(fmt.Sprintf("%6d ×", r.Count), "%s", r.Reason)
		for _, x := range r.Examples {
			v := x.Key + fmt.Sprintf(" #%d", x.Line)
			if x.SequenceNumber != "" {
				v += " sequence number " + x.SequenceNumber
			}
			if x.EventID != "" {
				v += " " + x.EventID
			}
			if x.Reason != r.Reason {
				v += ": " + x.Reason
			}
			s.Add("    example", v)
		}
	}
	for _, u := range rep.Unreadable {
		s.Add("unreadable", u)
	}
	if objects {
		for _, o := range rep.Objects {
			v := fmt.Sprintf("%d bytes", o.Size)
			if !cfg.NoRead && !o.Malformed {
				v += fmt.Sprintf(", %d records", o.Records)
			}
			s.Add("  "+o.Key, v)
		}
	}
	return &s
}
