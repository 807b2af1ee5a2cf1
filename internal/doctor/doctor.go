// Package doctor checks a deployed pipeline, for `ddbstream doctor`: one
// line per check, each failure with what to do about it.
//
// It looks, with the caller's credentials, at everything the pipeline
// needs to keep its promises: the stack and its outputs; the table's
// stream (on, with the expected view type, the one the mapping reads);
// the event source mapping (Enabled, its last processing result); how far
// behind the stream is (IteratorAge); the on-failure queues (anything in
// them is a batch or an event Lambda gave up on); the forwarder's and the
// export planner's triggers (the bucket's EventBridge notifications, the
// rule enabled with eventrule's pattern, targeting the function with the
// stack's dead-letter queue, allowed to invoke it); each role's
// policies against what package iam defines (drift is reported statement
// by statement); the Databricks secret (readable and well-formed, its
// values never shown), the workspace (reachable, the credentials accepted,
// by a cheap authenticated call) and the destination (volume directory,
// job or warehouse), through the forwarder's own client and settings; and
// the recent error log lines of the four functions (streamer, forwarder,
// export planner, export converter), each with what to do.
//
// A check that cannot run because one it depends on failed is skipped,
// saying which. Every check talks to AWS through a one-method interface
// with the SDK client's signature, so tests inject each fault.
package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/deployed"
	"github.com/ddbstream/pipeline/internal/secret"
)

// StackDescriber reads the stack and its outputs.
type StackDescriber interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// TableDescriber reads the table's stream settings.
type TableDescriber interface {
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// MappingLister finds the streamer's event source mapping.
type MappingLister interface {
	ListEventSourceMappings(ctx context.Context, params *lambda.ListEventSourceMappingsInput, optFns ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// FunctionPolicyGetter reads a function's resource policy: who may
// invoke it.
type FunctionPolicyGetter interface {
	GetPolicy(ctx context.Context, params *lambda.GetPolicyInput, optFns ...func(*lambda.Options)) (*lambda.GetPolicyOutput, error)
}

// MetricStatisticsGetter reads a metric (IteratorAge).
type MetricStatisticsGetter interface {
	GetMetricStatistics(ctx context.Context, params *cloudwatch.GetMetricStatisticsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricStatisticsOutput, error)
}

// QueueAttributesGetter counts a queue's messages and names its ARN.
type QueueAttributesGetter interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// RuleDescriber reads a rule's state and pattern.
type RuleDescriber interface {
	DescribeRule(ctx context.Context, params *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// RuleTargetsLister lists a rule's targets.
type RuleTargetsLister interface {
	ListTargetsByRule(ctx context.Context, params *eventbridge.ListTargetsByRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
}

// BucketNotificationGetter reads the bucket's notification settings
// (EventBridge on).
type BucketNotificationGetter interface {
	GetBucketNotificationConfiguration(ctx context.Context, params *s3.GetBucketNotificationConfigurationInput, optFns ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error)
}

// RolePolicyLister lists a role's inline policies.
type RolePolicyLister interface {
	ListRolePolicies(ctx context.Context, params *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
}

// RolePolicyGetter reads one inline policy.
type RolePolicyGetter interface {
	GetRolePolicy(ctx context.Context, params *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
}

// AttachedRolePolicyLister lists the managed policies attached to a role.
type AttachedRolePolicyLister interface {
	ListAttachedRolePolicies(ctx context.Context, params *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
}

// LogFilter searches a log group.
type LogFilter interface {
	FilterLogEvents(ctx context.Context, params *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// Clients are the AWS calls the checks make.
type Clients struct {
	Stacks    StackDescriber
	Tables    TableDescriber
	Functions deployed.FunctionConfigGetter
	Mappings  MappingLister
	Policies  FunctionPolicyGetter
	Metrics   MetricStatisticsGetter
	Queues    QueueAttributesGetter
	Rules     interface {
		RuleDescriber
		RuleTargetsLister
	}
	Buckets BucketNotificationGetter
	Roles   interface {
		RolePolicyLister
		RolePolicyGetter
		AttachedRolePolicyLister
	}
	Secrets secret.Getter
	Logs    LogFilter
}

// Config is what the doctor checks.
type Config struct {
	// Stack is the pipeline's CloudFormation stack.
	Stack string
	// ViewType is the stream view type the table must have (default
	// NEW_AND_OLD_IMAGES, what the stack creates: reconcile and the
	// images in the lake need it).
	ViewType string
	// MaxIteratorAge fails the stream lag check (default 5m, the stack's
	// default iteratorAgeAlarmSeconds).
	MaxIteratorAge time.Duration
	// Since is how far back error log lines are searched (default 1h).
	Since time.Duration
	// MaxLogLines bounds the log lines shown per function (default 5).
	MaxLogLines int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DatabricksOptions follow the doctor's client options (tests).
	DatabricksOptions []databricks.Option
	// Progress, if set, is called as each check ends.
	Progress func(Check)
}

func (c *Config) defaults() {
	if c.ViewType == "" {
		c.ViewType = "NEW_AND_OLD_IMAGES"
	}
	if c.MaxIteratorAge <= 0 {
		c.MaxIteratorAge = 5 * time.Minute
	}
	if c.Since <= 0 {
		c.Since = time.Hour
	}
	if c.MaxLogLines <= 0 {
		c.MaxLogLines = 5
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Progress == nil {
		c.Progress = func(Check) {}
	}
}

// Status is a check's result.
type Status string

// The statuses.
const (
	Pass Status = "ok"
	Fail Status = "FAIL"
	// Skip: the check could not run (a check it needs failed) or does not
	// apply (no forwarder in delivery mode none).
	Skip Status = "skip"
)

// Check is one line of the checklist.
type Check struct {
	// ID names the check for automation (stack, stream, mapping, ...).
	ID string `json:"id"`
	// Title is what is checked, for people.
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail,omitempty"`
	// Remedy says what to do about a failure.
	Remedy string `json:"remedy,omitempty"`
	// Lines are the evidence: policy drift, error log lines.
	Lines []string `json:"lines,omitempty"`
}

// Report is the checklist.
type Report struct {
	Stack  string  `json:"stack"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Failed counts the failed checks.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}

// Run runs every check. It never stops at a failure: each one that can
// still run does, so one run shows everything that is wrong.
func Run(ctx context.Context, cfg Config, c Clients) Report {
	cfg.defaults()
	d := &doctor{cfg: cfg, c: c, queueARNs: map[string]string{}, functions: map[string]*fn{}}
	d.run(ctx)
	d.report.Stack = cfg.Stack
	d.report.OK = d.report.Failed() == 0
	return d.report
}

// doctor is one run of the checks.
type doctor struct {
	cfg    Config
	c      Clients
	report Report

	outputs   map[string]string
	queueARNs map[string]string // queue URL -> ARN
	functions map[string]*fn    // by output name
	// eventBridge is whether the bucket sends its events to EventBridge,
	// once read; bucketEventsOffReported is set once a check has failed
	// for it, so that the next trigger check does not fail for it again.
	eventBridge             *bool
	bucketEventsOffReported bool
}

// fn is a deployed function, or why it could not be read.
type fn struct {
	f   deployed.Function
	err error
}

func (d *doctor) add(c Check) {
	if c.Status == Pass {
		c.Remedy = ""
	}
	d.report.Checks = append(d.report.Checks, c)
	d.cfg.Progress(c)
}

func (d *doctor) pass(id, title, detail string) {
	d.add(Check{ID: id, Title: title, Status: Pass, Detail: detail})
}

func (d *doctor) fail(id, title, detail, remedy string, lines ...string) {
	d.add(Check{ID: id, Title: title, Status: Fail, Detail: detail, Remedy: remedy, Lines: lines})
}

func (d *doctor) skip(id, title, why string) {
	d.add(Check{ID: id, Title: title, Status: Skip, Detail: why})
}

// function describes the function an output names, once.
func (d *doctor) function(ctx context.Context, output string) (deployed.Function, error) {
	if f, ok := d.functions[output]; ok {
		return f.f, f.err
	}
	name := d.outputs[output]
	f := &fn{}
	if name == "" {
		f.err = fmt.Errorf("the stack has no %s output", output)
	} else {
		f.f, f.err = deployed.Describe(ctx, d.c.Functions, name)
	}
	d.functions[output] = f
	return f.f, f.err
}

// hasForwarder reports whether the stack delivers to Databricks (not
// delivery mode none).
func (d *doctor) hasForwarder() bool { return d.outputs["ForwarderFunctionName"] != "" }

func (d *doctor) run(ctx context.Context) {
	if !d.stack(ctx) {
		for _, id := range []struct{ id, title string }{
			{"stream", "table stream"}, {"mapping", "event source mapping"}, {"iterator-age", "stream lag"},
			{"queues", "on-failure queues"}, {"trigger", "forwarder trigger"}, {"export-trigger", "export planner trigger"}, {"roles", "role policies"},
			{"databricks", "Databricks"}, {"logs", "error log lines"},
		} {
			d.skip(id.id, id.title, "the stack check failed")
		}
		return
	}
	d.stream(ctx)
	d.mapping(ctx)
	d.iteratorAge(ctx)
	d.queues(ctx)
	d.trigger(ctx)
	d.exportTrigger(ctx)
	d.roles(ctx)
	d.databricks(ctx)
	d.logs(ctx)
}

// short shortens a message for a one-line detail.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		return s[:297] + "..."
	}
	return s
}

// plural writes a count with its noun: "1 difference", "3 differences".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
