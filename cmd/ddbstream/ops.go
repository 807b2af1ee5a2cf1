package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/internal/deployed"
	"github.com/ddbstream/pipeline/internal/doctor"
	"github.com/ddbstream/pipeline/internal/redrive"
	"github.com/ddbstream/pipeline/internal/replay"
	"github.com/ddbstream/pipeline/internal/secret"
)

// opsS3 is every S3 call of the operations commands: the streamer's put
// and the forwarder's reads (run in process), listing, and the bucket's
// notification settings.
type opsS3 interface {
	redrive.S3
	replay.ObjectLister
	doctor.BucketNotificationGetter
}

// opsLambda is every Lambda call of the operations commands.
type opsLambda interface {
	deployed.FunctionConfigGetter
	redrive.FunctionInvoker
	doctor.MappingLister
	doctor.FunctionPolicyGetter
}

// opsClients are the clients of redrive, replay, errors and doctor.
type opsClients struct {
	sqs     redrive.Queue
	streams redrive.Stream
	s3      opsS3
	secrets secret.Getter
	lambda  opsLambda
	metrics doctor.MetricStatisticsGetter
	rules   interface {
		doctor.RuleDescriber
		doctor.RuleTargetsLister
	}
	roles interface {
		doctor.RolePolicyLister
		doctor.RolePolicyGetter
		doctor.AttachedRolePolicyLister
	}
	logs   doctor.LogFilter
	tables doctor.TableDescriber
}

// connectOps builds the operations commands' clients from the standard
// configuration; s3c and ddb are the ones the other commands use.
func connectOps(cfg aws.Config, s3c *s3.Client, ddb *dynamodb.Client) opsClients {
	return opsClients{
		sqs:     sqs.NewFromConfig(cfg),
		streams: dynamodbstreams.NewFromConfig(cfg),
		s3:      s3c,
		secrets: secretsmanager.NewFromConfig(cfg),
		lambda:  lambda.NewFromConfig(cfg),
		metrics: cloudwatch.NewFromConfig(cfg),
		rules:   eventbridge.NewFromConfig(cfg),
		roles:   iam.NewFromConfig(cfg),
		logs:    cloudwatchlogs.NewFromConfig(cfg),
		tables:  ddb,
	}
}

// opsRemedy says what to do about the operations commands' own errors.
func opsRemedy(err error) string {
	var rd *redrive.Error
	var rp *replay.Error
	switch {
	case errors.As(err, &rd):
		return rd.Remedy
	case errors.As(err, &rp):
		return rp.Remedy
	}
	return ""
}

// stackFlags are the flags of the commands that work from the stack's
// outputs alone (redrive, doctor).
type stackFlags struct {
	stack, region, profile string
	timeout, progressEvery time.Duration
}

func (c *stackFlags) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&c.stack, "stack", "", "read the pipeline's settings from this CloudFormation stack's outputs")
	fs.StringVar(&c.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	fs.StringVar(&c.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE)")
	fs.DurationVar(&c.timeout, "timeout", timeout, "give up after this long")
	fs.DurationVar(&c.progressEvery, "progress-every", 30*time.Second, "interval of the plain progress lines written when stderr is not a terminal")
}

// withTimeout bounds ctx by the --timeout flag.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// timeLayouts are the forms --from and --to accept, most precise first.
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15", "2006-01-02"}

// parseTime reads a UTC time flag.
func parseTime(name, v string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &usageError{msg: fmt.Sprintf("--%s %q: give a UTC time such as 2026-11-23T17, 2026-11-23 or 2026-11-23T17:04:05Z", name, v)}
}

// timeRange reads --from, --to and --since: the hours to work on, UTC.
// --since D is from now-D to the next hour; --to defaults to the next
// hour.
func timeRange(from, to string, since time.Duration, now time.Time, required bool) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	switch {
	case from != "" && since > 0:
		return f, t, &usageError{msg: "give --from or --since, not both"}
	case from != "":
		if f, err = parseTime("from", from); err != nil {
			return f, t, err
		}
	case since > 0:
		f = now.Add(-since)
	case required:
		return f, t, &usageError{msg: "give --from (and --to), or --since"}
	}
	t = now.UTC().Truncate(time.Hour).Add(time.Hour)
	if to != "" {
		if t, err = parseTime("to", to); err != nil {
			return f, t, err
		}
	}
	if !f.IsZero() && !f.Before(t) {
		return f, t, &usageError{msg: fmt.Sprintf("--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))}
	}
	return f.UTC(), t.UTC(), nil
}

// outputsOf reads the stack's outputs when --stack is given.
func outputsOf(ctx context.Context, stacks StackDescriber, stack string) (map[string]string, error) {
	if stack == "" {
		return map[string]string{}, nil
	}
	return stackOutputs(ctx, stacks, stack)
}

// listFlag is a comma-separated flag.
func listFlag(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
