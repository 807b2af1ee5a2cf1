package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/reconcile"
)

// Exit statuses, the same for every command, so that scripts can tell a
// failure from work still going on.
const (
	exitOK          = 0
	exitFailed      = 1   // the message says what to do
	exitUsage       = 2   // bad flags or arguments
	exitUnfinished  = 3   // --timeout came first; the work goes on in AWS, and running again attaches
	exitDifferences = 4   // reconcile ran to the end and found the lake and the table differ
	exitInterrupted = 130 // Ctrl-C, as shells report SIGINT
)

// StackDescriber reads a stack's outputs.
type StackDescriber interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// dynamoDB is every DynamoDB call the commands make.
type dynamoDB interface {
	backfill.DynamoDB
	reconcile.ScanAPI
	reconcile.BatchGetItemAPI
}

// clients are the AWS clients the commands use.
type clients struct {
	stacks   StackDescriber
	dynamodb dynamoDB
	s3       backfill.S3
	lambda   backfill.Lambda
	// ops are the operations commands' clients (redrive, replay, errors,
	// doctor: ops.go).
	ops opsClients
}

// env is what a command runs with: tests replace every part.
type env struct {
	stdout, stderr io.Writer
	// terminal is set when stderr is a terminal: progress is a bar.
	terminal bool
	connect  func(ctx context.Context, region, profile string) (clients, error)
	// databricks are extra options of the Databricks client the
	// forwarder's code runs with in process (tests: an HTTP client that
	// trusts the test workspace).
	databricks []databricks.Option
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) int
}

var commands = []command{
	{"backfill", "load the table's current state into the lake from a point-in-time export", runBackfill},
	{"reconcile", "compare the lake with the live table and report every difference", runReconcile},
	{"redrive", "deliver again the batches and events the functions gave up on (on-failure queues)", runRedrive},
	{"replay", "deliver a table's objects of a time range to Databricks again", runReplay},
	{"errors", "list and summarise the records set aside under _errors/", runErrors},
	{"doctor", "check a deployed stack, one line per check, each failure with its remedy", runDoctor},
}

const toolHelp = `ddbstream: operate a DynamoDB Streams -> S3 -> Databricks pipeline.

Usage:
  ddbstream <command> [flags]
  ddbstream <command> --help
  ddbstream --version    (or: ddbstream version)

--version prints the build: its module version, the commit it was built
from, and "modified" when the tree had uncommitted changes.

Commands:
%s
Every command finds the pipeline from its CloudFormation stack's outputs
(--stack NAME) or from flags (--table, --bucket, --prefix), which override
the stack's values. AWS credentials and region come from the standard chain:
the environment (AWS_PROFILE, AWS_REGION, keys), ~/.aws/config and SSO,
--profile and --region, container and instance roles.

Progress goes to stderr: a bar on a terminal, otherwise a plain line at each
phase and every --progress-every. A summary goes to stdout at the end.

Exit status:
  0    done
  1    failed: the message says what to do
  2    bad usage
  3    not finished within --timeout: the work goes on in AWS; run the same
       command again to attach to it
  4    reconcile ran to the end and found differences (the summary lists
       them); a reconcile that could not finish exits 1
  130  interrupted

Examples:
  ddbstream backfill --stack DdbStreamPipeline
  ddbstream reconcile --stack DdbStreamPipeline --read-rate 500
  ddbstream doctor --stack DdbStreamPipeline
  ddbstream redrive --stack DdbStreamPipeline --dry-run
  ddbstream replay --stack DdbStreamPipeline --from 2026-11-23T00 --to 2026-11-24T00
  ddbstream errors --stack DdbStreamPipeline --since 24h
  ddbstream backfill --help
`

func toolUsage() string {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(toolHelp, b.String())
}

// run runs the command named by args[0] and returns the exit status.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, toolUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return run(ctx, []string{args[1], "--help"}, e)
		}
		fmt.Fprint(e.stdout, toolUsage())
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(e.stdout, versionLine(debug.ReadBuildInfo()))
		return exitOK
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "ddbstream: unknown command %q\n\n%s", name, toolUsage())
	return exitUsage
}

// common are the flags of every command: where the pipeline is and how
// to reach AWS.
type common struct {
	stack, table, bucket, prefix string
	region, profile              string
	timeout, progressEvery       time.Duration
}

func (c *common) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&c.stack, "stack", "", "read the pipeline's settings from this CloudFormation stack's outputs")
	fs.StringVar(&c.table, "table", "", "the DynamoDB table (default: the stack's TableName output)")
	fs.StringVar(&c.bucket, "bucket", "", "the pipeline's bucket (default: the stack's BucketName output)")
	fs.StringVar(&c.prefix, "prefix", "", "the pipeline's key prefix, S3_PREFIX (default: the stack's Prefix output, else "+defaultPrefix+")")
	fs.StringVar(&c.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	fs.StringVar(&c.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE)")
	fs.DurationVar(&c.timeout, "timeout", timeout, "give up after this long")
	fs.DurationVar(&c.progressEvery, "progress-every", 30*time.Second, "interval of the plain progress lines written when stderr is not a terminal")
}

// defaultPrefix is the stack's default key prefix (infra's prefix context
// key), for a pipeline named by flags alone.
const defaultPrefix = "cdc"

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// remedyError is a failure with what to do about it.
type remedyError struct {
	msg, remedy string
	err         error
}

func (e *remedyError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *remedyError) Unwrap() error { return e.err }

// parse parses a command's flags, printing its help for --help.
func parse(fs *flag.FlagSet, args []string, help string, e env) (done bool, code int) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.stdout, fs, help)
			return true, exitOK
		}
		fmt.Fprintf(e.stderr, "ddbstream %s: %v\nRun 'ddbstream %s --help' for its flags.\n", fs.Name(), err, fs.Name())
		return true, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "ddbstream %s: unexpected argument %q (settings are flags)\nRun 'ddbstream %s --help' for its flags.\n", fs.Name(), fs.Arg(0), fs.Name())
		return true, exitUsage
	}
	return false, exitOK
}

// printHelp writes the command's help: its text, with the flags at
// %[1]s.
func printHelp(w io.Writer, fs *flag.FlagSet, help string) {
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, help, flags.String())
}

// check finds what the command line lacks before any AWS call, so that a
// usage mistake is reported as one.
func (c *common) check() error {
	if c.stack != "" {
		return nil
	}
	var missing []string
	if c.table == "" {
		missing = append(missing, "--table")
	}
	if c.bucket == "" {
		missing = append(missing, "--bucket")
	}
	if len(missing) > 0 {
		return &usageError{msg: "give --stack, or " + strings.Join(missing, " and ")}
	}
	return nil
}

// target is where the pipeline is, from the stack and the flags.
type target struct {
	table, bucket, prefix string
	// outputs holds the stack's outputs, empty without --stack.
	outputs map[string]string
}

// requiredOutputs are the outputs every pipeline stack has
// (infra/pipeline/monitoring.go).
var requiredOutputs = []string{"TableName", "BucketName", "Prefix"}

// resolve reads the stack's outputs, when --stack is given, and lets the
// flags that were set override them.
func resolve(ctx context.Context, fs *flag.FlagSet, c common, stacks StackDescriber) (target, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	t := target{table: c.table, bucket: c.bucket, prefix: c.prefix, outputs: map[string]string{}}
	if !set["prefix"] {
		t.prefix = defaultPrefix
	}
	if c.stack != "" {
		out, err := stackOutputs(ctx, stacks, c.stack)
		if err != nil {
			return t, err
		}
		t.outputs = out
		if !set["table"] {
			t.table = out["TableName"]
		}
		if !set["bucket"] {
			t.bucket = out["BucketName"]
		}
		if !set["prefix"] {
			t.prefix = out["Prefix"]
		}
	}
	var missing []string
	if t.table == "" {
		missing = append(missing, "--table")
	}
	if t.bucket == "" {
		missing = append(missing, "--bucket")
	}
	if len(missing) > 0 {
		return t, &usageError{msg: "give --stack, or " + strings.Join(missing, " and ")}
	}
	return t, nil
}

func stackOutputs(ctx context.Context, stacks StackDescriber, name string) (map[string]string, error) {
	d, err := stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist") {
		return nil, &remedyError{msg: "stack " + name + " not found", err: err,
			remedy: "check --stack and the region (--region or AWS_REGION): the stack is the one make deploy created"}
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(d.Stacks) != 1 {
		return nil, &remedyError{msg: "stack " + name + " not found", remedy: "check --stack and the region"}
	}
	out := map[string]string{}
	for _, o := range d.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	var missing []string
	for _, k := range requiredOutputs {
		if _, ok := out[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &remedyError{msg: fmt.Sprintf("stack %s lacks the outputs %s", name, strings.Join(missing, ", ")),
			remedy: "name the pipeline's stack with --stack, or give --table, --bucket and --prefix instead"}
	}
	return out, nil
}

// fail reports err and returns its exit status: the error, then what to
// do, on stderr.
func fail(e env, name string, err error) int {
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(e.stderr, "ddbstream %s: %v\nRun 'ddbstream %s --help' for its flags.\n", name, err, name)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "ddbstream %s: %v\n", name, err)
	if r := remedy(err); r != "" {
		fmt.Fprintf(e.stderr, "what to do: %s\n", r)
	}
	var be *backfill.Error
	var de *differencesError
	switch {
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &be) && be.Unfinished:
		return exitUnfinished
	case errors.As(err, &de):
		return exitDifferences
	}
	return exitFailed
}

// remedy says what to do about err: the command's own advice, or the
// usual causes of an AWS error.
func remedy(err error) string {
	var be *backfill.Error
	var re *remedyError
	var de *differencesError
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &be):
		return be.Remedy
	case errors.As(err, &re):
		return re.remedy
	case errors.As(err, &de):
		return differencesRemedy
	case opsRemedy(err) != "":
		return opsRemedy(err)
	case errors.As(err, &apiErr):
		switch code := apiErr.ErrorCode(); {
		case strings.HasPrefix(code, "AccessDenied"), code == "UnauthorizedOperation", code == "Forbidden":
			return "the AWS identity lacks the permission the message names: use a role allowed to run this command (see ddbstream <command> --help for the calls it makes)"
		case code == "ExpiredToken", code == "ExpiredTokenException", code == "InvalidClientTokenId", code == "UnrecognizedClientException":
			return "the AWS credentials are expired or invalid: sign in again (aws sso login) or refresh them"
		case code == "ThrottlingException", code == "RequestLimitExceeded":
			return "AWS throttled the calls: run the command again in a few minutes"
		}
	}
	return ""
}

func duration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.Round(time.Second).String()
}
