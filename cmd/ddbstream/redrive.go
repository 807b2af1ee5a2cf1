package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/progress"
	"github.com/ddbstream/pipeline/internal/redrive"
)

const redriveHelp = `Usage: ddbstream redrive [flags]

Delivers again what the pipeline's functions gave up on, from their
on-failure queues, and deletes each message only once its work is done.

Streamer failures: when the event source mapping gives up on a batch
(maxRetryAttempts or maxRecordAgeSeconds), its on-failure queue gets a
record locating the batch (stream, shard, first and last sequence numbers,
size), never the records, which the stream keeps for 24 hours only.
redrive reads exactly that range from the stream again and writes it
through the streamer's own code, under the key the streamer derives from
the batch, with If-None-Match: a batch already in S3 is found there (412)
and never duplicated, so redriving twice changes nothing. A message is
deleted only after its records are durable. A range the stream no longer
holds (past the 24-hour retention: TrimmedDataAccessException) is reported
and its message kept: only ddbstream backfill can repair it.

Forwarder failures: the forwarder's on-failure queue holds Lambda's
invocation records, whose requestPayload is the original event; the
trigger's dead-letter queue holds events EventBridge could not hand to
Lambda. redrive gives each event to the forwarder's own code, with its
settings and idempotency: the same volume path overwritten, one job run
per object however often it is redriven.

Export failures (ddbstream backfill): the export converter's on-failure
queue holds the jobs (one per data file) it gave up on, the planner's the
export summaries it gave up on, and the planner trigger's dead-letter
queue the summary events EventBridge could not hand to it. redrive
invokes the deployed function again, synchronously, with the original
job or event, so the conversion runs in AWS with the function's own role
and memory. Snapshot object names depend only on the export and the data
file, and their writes are conditional: a file converted meanwhile
answers "already written", and nothing is duplicated. A message is
deleted once the function answers with its own result (an answer that is
not the converter's or the planner's keeps it); conversions a redriven
planner starts go on in AWS (ddbstream backfill follows them). Export
messages are taken one at a time and hidden for 16 minutes, longer than
any Lambda invocation. For a dead-letter message, the summary shows why
EventBridge gave up (its ERROR_CODE and ERROR_MESSAGE attributes).

The functions' settings are read from the deployed functions (their
environment), so everything is written and delivered as they would.
Messages that are kept are made visible again at the end, so the queues'
alarms stay on what still needs attention. --dry-run reads the queues and
the stream and shows the keys and objects, and changes nothing.

With --stack it reads the outputs StreamerFailureQueueUrl,
StreamerFunctionName, ForwarderFailureQueueUrl,
ForwarderTriggerDeadLetterQueueUrl, ForwarderFunctionName,
ExportConverterFailureQueueUrl, ExportPlannerFailureQueueUrl,
ExportTriggerDeadLetterQueueUrl, ExportConverterFunctionName and
ExportPlannerFunctionName; the flags below override them.

AWS calls: cloudformation:DescribeStacks (with --stack);
sqs:GetQueueAttributes, ReceiveMessage, DeleteMessage,
ChangeMessageVisibility on the queues; lambda:GetFunctionConfiguration of
the streamer and forwarder; lambda:InvokeFunction of the export planner
and converter; dynamodb:GetShardIterator, GetRecords on the stream;
s3:PutObject under the prefix (the streamer's writes), s3:GetObject and
s3:ListBucket on the data keys (the forwarder's reads);
secretsmanager:GetSecretValue on the Databricks secret; with a KMS key,
kms:GenerateDataKey and kms:Decrypt through S3. The policy is
ddbstream-redrive in iam/testdata/operator-policies.json.

Flags:
%s
Examples:
  ddbstream redrive --stack DdbStreamPipeline --dry-run
  ddbstream redrive --stack DdbStreamPipeline
  ddbstream redrive --stack DdbStreamPipeline --source streamer --max-messages 50
  ddbstream redrive --stack DdbStreamPipeline --source export --dry-run
  ddbstream redrive --source forwarder --forwarder-queue https://sqs.eu-west-1.amazonaws.com/123456789012/q \
      --forwarder-function DdbStreamPipeline-Forwarder

Exit status: 0 every message redriven (or, with --dry-run, nothing in the
way); 1 messages kept (the summary says why and what to do) or the run
failed; 2 bad usage; 3 not finished within --timeout (run it again: what is
done is not done twice); 130 interrupted.
`

func runRedrive(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var c stackFlags
	c.register(fs, time.Hour)
	source := fs.String("source", "all", "which failures: streamer, forwarder, export or all")
	dryRun := fs.Bool("dry-run", false, "read and show what would be redriven; write, deliver and delete nothing")
	maxMessages := fs.Int("max-messages", 1000, "messages handled per queue at most")
	visibility := fs.Duration("visibility", 15*time.Minute, "how long a received message stays hidden while it is handled")
	streamerQueue := fs.String("streamer-queue", "", "the streamer's on-failure queue URL (default: the stack's StreamerFailureQueueUrl)")
	forwarderQueues := fs.String("forwarder-queue", "", "the forwarder's failure queue URLs, comma-separated (default: the stack's ForwarderFailureQueueUrl and ForwarderTriggerDeadLetterQueueUrl)")
	streamerFn := fs.String("streamer-function", "", "the deployed streamer, whose settings are used (default: the stack's StreamerFunctionName)")
	forwarderFn := fs.String("forwarder-function", "", "the deployed forwarder, whose settings are used (default: the stack's ForwarderFunctionName)")
	converterQueue := fs.String("converter-queue", "", "the export converter's on-failure queue URL (default: the stack's ExportConverterFailureQueueUrl)")
	plannerQueues := fs.String("planner-queue", "", "the export planner's failure queue URLs, comma-separated (default: the stack's ExportPlannerFailureQueueUrl and ExportTriggerDeadLetterQueueUrl)")
	converterFn := fs.String("converter-function", "", "the deployed export converter, invoked with each job (default: the stack's ExportConverterFunctionName)")
	plannerFn := fs.String("planner-function", "", "the deployed export planner, invoked with each event (default: the stack's ExportPlannerFunctionName)")
	show := fs.Int("show", 20, "messages listed in the summary per queue (0: none)")
	if done, code := parse(fs, args, redriveHelp, e); done {
		return code
	}
	var sources []redrive.Source
	switch *source {
	case "all":
		sources = []redrive.Source{redrive.Streamer, redrive.Forwarder, redrive.Export}
	case "streamer", "forwarder", "export":
		sources = []redrive.Source{redrive.Source(*source)}
	default:
		return fail(e, "redrive", &usageError{msg: fmt.Sprintf("--source %q: choose streamer, forwarder, export or all", *source)})
	}
	if c.stack == "" && *streamerQueue == "" && *forwarderQueues == "" && *converterQueue == "" && *plannerQueues == "" {
		return fail(e, "redrive", &usageError{msg: "give --stack, or the queues (--streamer-queue, --forwarder-queue, --converter-queue, --planner-queue) and functions"})
	}
	if c.stack == "" && *source == "all" {
		// Without the stack's outputs, all means the queues given.
		sources = nil
		for _, s := range []struct {
			given  bool
			source redrive.Source
		}{{*streamerQueue != "", redrive.Streamer}, {*forwarderQueues != "", redrive.Forwarder},
			{*converterQueue != "" || *plannerQueues != "", redrive.Export}} {
			if s.given {
				sources = append(sources, s.source)
			}
		}
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "redrive", err)
	}
	out, err := outputsOf(ctx, cl.stacks, c.stack)
	if err != nil {
		return fail(e, "redrive", err)
	}
	cfg := redrive.Config{
		Sources:          sources,
		StreamerQueueURL: first(*streamerQueue, out["StreamerFailureQueueUrl"]),
		StreamerFunction: first(*streamerFn, out["StreamerFunctionName"]),
		ForwarderQueueURLs: listFlag(first(*forwarderQueues,
			strings.Join([]string{out["ForwarderFailureQueueUrl"], out["ForwarderTriggerDeadLetterQueueUrl"]}, ","))),
		ForwarderFunction: first(*forwarderFn, out["ForwarderFunctionName"]),
		ConverterQueueURL: first(*converterQueue, out["ExportConverterFailureQueueUrl"]),
		PlannerQueueURLs: listFlag(first(*plannerQueues,
			strings.Join([]string{out["ExportPlannerFailureQueueUrl"], out["ExportTriggerDeadLetterQueueUrl"]}, ","))),
		ConverterFunction: first(*converterFn, out["ExportConverterFunctionName"]),
		PlannerFunction:   first(*plannerFn, out["ExportPlannerFunctionName"]),
		DryRun:            *dryRun, MaxMessages: *maxMessages, Visibility: *visibility,
		DatabricksOptions: e.databricks,
	}
	meter := progress.New(e.stderr, "ddbstream redrive", e.terminal, c.progressEvery)
	cfg.Progress = func(p redrive.Progress) {
		s := progress.State{Phase: string(p.Source) + " queue", Done: p.Done, Total: p.Total, Unit: "messages"}
		if p.Kept > 0 {
			s.Detail = fmt.Sprintf("%d kept", p.Kept)
		}
		meter.Update(s)
	}
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	mode := ""
	if *dryRun {
		mode = " (dry run: nothing is written, delivered or deleted)"
	}
	fmt.Fprintf(e.stderr, "ddbstream redrive: %s failures%s\n", *source, mode)
	rep, err := redrive.Run(ctx, cfg, redrive.Clients{Queue: cl.ops.sqs, Stream: cl.ops.streams, S3: cl.ops.s3,
		Secrets: cl.ops.secrets, Functions: cl.ops.lambda, Lambda: cl.ops.lambda})
	meter.Done()
	redriveSummary(rep, err, *show).WriteTo(e.stdout)
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(e.stderr, "ddbstream redrive: not finished within --timeout %s\nwhat to do: run it again: what is done is not done twice\n", c.timeout)
		return exitUnfinished
	}
	if err != nil {
		return fail(e, "redrive", err)
	}
	if rep.Problems() > 0 {
		return fail(e, "redrive", &remedyError{msg: fmt.Sprintf("%d messages kept", rep.Problems()), remedy: redriveRemedy(rep, c.stack)})
	}
	return exitOK
}

// redriveRemedy says what to do about the messages kept, by kind.
func redriveRemedy(rep redrive.Report, stack string) string {
	var parts []string
	stackFlag := ""
	if stack != "" {
		stackFlag = " --stack " + stack
	}
	if n := rep.Unreadable(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d batches are no longer in the stream: load the table's current state with ddbstream backfill%s and check with ddbstream reconcile%s; their messages stay in the queue (14 days) as the record of what was lost, delete them once the lake is whole", n, stackFlag, stackFlag))
	}
	failed, notUnderstood, notDeleted := 0, 0, 0
	for _, q := range rep.Queues {
		failed += q.Failed
		notUnderstood += q.NotUnderstood
		notDeleted += q.NotDeleted
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed: fix the cause shown above (ddbstream doctor%s helps) and run ddbstream redrive again; what is already durable or delivered is not duplicated", failed, stackFlag))
	}
	if notUnderstood > 0 {
		parts = append(parts, fmt.Sprintf("%d messages are not records this tool reads: inspect them with aws sqs receive-message --queue-url <queue> and delete them by hand once handled", notUnderstood))
	}
	if notDeleted > 0 {
		parts = append(parts, fmt.Sprintf("%d messages were handled but not deleted (sqs:DeleteMessage): grant it and run again", notDeleted))
	}
	return strings.Join(parts, "; ")
}

func redriveSummary(rep redrive.Report, err error, show int) *progress.Summary {
	var s progress.Summary
	switch {
	case err != nil:
		s.Add("redrive", "stopped: "+err.Error())
	case rep.DryRun:
		s.Add("redrive", "dry run: nothing was written, delivered or deleted")
	case rep.Problems() > 0:
		s.Addf("redrive", "done, %d messages kept", rep.Problems())
	default:
		s.Add("redrive", "done")
	}
	for _, q := range rep.Queues {
		counts := []string{}
		for _, c := range []struct {
			n    int
			what string
		}{{q.Redriven, "redriven"}, {q.WouldRedrive, "would redrive"}, {q.Unreadable, "unreadable (past retention)"},
			{q.Failed, "failed"}, {q.NotUnderstood, "not understood"}, {q.NotDeleted, "not deleted"}} {
			if c.n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		if len(counts) == 0 {
			counts = []string{"empty"}
		}
		s.Addf(string(q.Source)+" queue", "%s: %d messages: %s", q.QueueURL, q.Received, strings.Join(counts, ", "))
		for i, m := range q.Messages {
			if i >= show {
				s.Addf("  …", "%d more", len(q.Messages)-show)
				break
			}
			s.Add("  "+m.MessageID, messageLine(m))
		}
	}
	return &s
}

// messageLine is one message of the summary.
func messageLine(m redrive.MessageReport) string {
	parts := []string{m.Outcome}
	for _, p := range []string{m.Range, m.Subject} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if m.Condition != "" {
		parts = append(parts, "gave up: "+m.Condition)
	}
	if len(m.Keys) > 0 {
		k := "-> " + strings.Join(m.Keys, ", ")
		if len(m.Existing) > 0 {
			k += fmt.Sprintf(" (%d already in S3)", len(m.Existing))
		}
		parts = append(parts, k)
	}
	for _, o := range m.Objects {
		v := o.Result + " " + o.Key
		if o.Destination != "" {
			v += " -> " + o.Destination
		}
		if o.Reason != "" {
			v += " (" + o.Reason + ")"
		}
		parts = append(parts, v)
	}
	if m.Detail != "" {
		parts = append(parts, m.Detail)
	}
	if m.Error != "" {
		parts = append(parts, m.Error)
	} else if m.LastError != "" && m.Outcome != redrive.OutcomeRedriven {
		parts = append(parts, "last error: "+m.LastError)
	}
	return strings.Join(parts, "; ")
}
