package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/doctor"
)

const doctorHelp = `Usage: ddbstream doctor --stack NAME [flags]

Checks a deployed pipeline with your credentials and prints a checklist,
one line per check, each failure with what to do about it:

  stack                   the stack is deployed and has the pipeline's outputs
  stream                  the table's stream is on, with --view-type, and is
                          the one the pipeline reads
  mapping                 the event source mapping is Enabled, its last
                          processing result OK, with an on-failure queue
  iterator-age            the stream's lag (IteratorAge) is under --max-iterator-age
  *-queue, *-dlq          the on-failure and dead-letter queues are empty
  trigger                 the bucket sends its events to EventBridge, and the
                          forwarder's rule is enabled, with iam's pattern,
                          targets the forwarder with its dead-letter queue
                          and may invoke it
  export-trigger          the same for the export planner's rule (completed
                          exports' manifest-summary.json): without it an
                          export completes and nothing converts it
  role-*                  each function's role holds exactly the policy iam
                          defines (drift is listed statement by statement)
  databricks-secret       the forwarder's secret is readable and well-formed
                          (its values are never shown)
  databricks-workspace    the workspace answers and accepts the credentials
                          (GET /api/2.0/preview/scim/v2/Me)
  databricks-destination  the volume directory, job or warehouse exists
  *-logs                  no ERROR line within --since in the logs of the
                          streamer, the forwarder, the export planner and the
                          export converter, each with what to do

The Databricks checks use the forwarder's own client and its deployed
settings. A check that cannot run because one it needs failed is skipped.
--json prints the report as JSON for automation.

AWS calls (all reads): cloudformation:DescribeStacks; dynamodb:DescribeTable;
lambda:GetFunctionConfiguration, ListEventSourceMappings, GetPolicy (the
forwarder's and the export planner's);
cloudwatch:GetMetricStatistics; sqs:GetQueueAttributes;
s3:GetBucketNotification; events:DescribeRule, ListTargetsByRule;
iam:ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies;
secretsmanager:GetSecretValue; logs:FilterLogEvents (the four functions'
log groups). The policy is
ddbstream-doctor in iam/testdata/operator-policies.json.

Flags:
%s
Examples:
  ddbstream doctor --stack DdbStreamPipeline
  ddbstream doctor --stack DdbStreamPipeline --json | jq '.checks[] | select(.status == "FAIL")'
  ddbstream doctor --stack DdbStreamPipeline --since 15m --max-iterator-age 1m

Exit status: 0 every check passed; 1 a check failed (its line says what to
do); 2 bad usage; 130 interrupted.
`

func runDoctor(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var c stackFlags
	c.register(fs, 2*time.Minute)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	since := fs.Duration("since", time.Hour, "how far back to look for ERROR log lines")
	viewType := fs.String("view-type", "NEW_AND_OLD_IMAGES", "the stream view type the table must have")
	maxAge := fs.Duration("max-iterator-age", 5*time.Minute, "the stream lag above which the lag check fails (the stack's iteratorAgeAlarmSeconds)")
	logLines := fs.Int("log-lines", 5, "error log lines shown per function")
	if done, code := parse(fs, args, doctorHelp, e); done {
		return code
	}
	if c.stack == "" {
		return fail(e, "doctor", &usageError{msg: "give --stack"})
	}
	cl, err := e.connect(ctx, c.region, c.profile)
	if err != nil {
		return fail(e, "doctor", err)
	}
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	cfg := doctor.Config{Stack: c.stack, ViewType: *viewType, MaxIteratorAge: *maxAge, Since: *since, MaxLogLines: *logLines,
		DatabricksOptions: e.databricks}
	if !*asJSON {
		fmt.Fprintf(e.stderr, "ddbstream doctor: stack %s\n", c.stack)
		cfg.Progress = func(ch doctor.Check) { printCheck(e, ch) }
	}
	rep := doctor.Run(ctx, cfg, doctor.Clients{
		Stacks: cl.stacks, Tables: cl.ops.tables, Functions: cl.ops.lambda, Mappings: cl.ops.lambda, Policies: cl.ops.lambda,
		Metrics: cl.ops.metrics, Queues: cl.ops.sqs, Rules: cl.ops.rules, Buckets: cl.ops.s3, Roles: cl.ops.roles,
		Secrets: cl.ops.secrets, Logs: cl.ops.logs,
	})
	if ctx.Err() != nil && !*asJSON {
		return fail(e, "doctor", ctx.Err())
	}
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fail(e, "doctor", err)
		}
		fmt.Fprintln(e.stdout, string(b))
	} else {
		passed, skipped := 0, 0
		for _, ch := range rep.Checks {
			switch ch.Status {
			case doctor.Pass:
				passed++
			case doctor.Skip:
				skipped++
			}
		}
		fmt.Fprintf(e.stdout, "doctor: %d checks: %d ok, %d failed, %d skipped\n", len(rep.Checks), passed, rep.Failed(), skipped)
	}
	if rep.Failed() > 0 {
		if !*asJSON {
			fmt.Fprintf(e.stderr, "ddbstream doctor: %d checks failed; each one's line above says what to do\n", rep.Failed())
		}
		return exitFailed
	}
	return exitOK
}

// printCheck writes one line of the checklist, its remedy and evidence
// below it, to stdout as the check ends.
func printCheck(e env, ch doctor.Check) {
	fmt.Fprintf(e.stdout, "%-4s  %-40s %s\n", ch.Status, ch.Title, ch.Detail)
	if ch.Status != doctor.Fail {
		return
	}
	for _, l := range ch.Lines {
		if l != ch.Detail {
			fmt.Fprintf(e.stdout, "      | %s\n", l)
		}
	}
	if ch.Remedy != "" {
		fmt.Fprintf(e.stdout, "      what to do: %s\n", strings.TrimSpace(ch.Remedy))
	}
}
