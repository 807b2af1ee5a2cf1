package smoke

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
)

// StackDescriber reads the stack's outputs.
type StackDescriber interface {
	DescribeStacks(ctx context.Context, params *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// ItemPutter writes the canary.
type ItemPutter interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// ObjectLister finds new objects.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// ObjectGetter reads an object.
type ObjectGetter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// LogFilter searches log groups.
type LogFilter interface {
	FilterLogEvents(ctx context.Context, params *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// Checker runs the smoke test.
type Checker struct {
	Stacks  StackDescriber
	Items   ItemPutter
	Objects interface {
		ObjectLister
		ObjectGetter
	}
	Logs LogFilter
	// PartitionKey and SortKey name the table's keys (default pk, sk).
	PartitionKey, SortKey string
	// Timeout bounds each wait; Poll paces them.
	Timeout, Poll time.Duration
	Out           io.Writer
	Now           func() time.Time
}

// Result is what the smoke test found.
type Result struct {
	Canary       string
	ObjectKey    string
	ToS3         time.Duration
	ToDatabricks time.Duration
	RecentErrors []string
}

func (c *Checker) defaults() {
	if c.PartitionKey == "" {
		c.PartitionKey = "pk"
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Run checks the stack named stack.
func (c *Checker) Run(ctx context.Context, stack string) (Result, error) {
	c.defaults()
	var r Result
	out, err := c.outputs(ctx, stack)
	if err != nil {
		return r, err
	}
	start := c.Now()
	r.Canary = fmt.Sprintf("smoke#%d", start.UnixNano())
	item := map[string]dtypes.AttributeValue{
		c.PartitionKey: &dtypes.AttributeValueMemberS{Value: r.Canary},
		"smoke":        &dtypes.AttributeValueMemberN{Value: "12345678901234567890.123456789012345678"},
	}
	if c.SortKey != "" {
		item[c.SortKey] = &dtypes.AttributeValueMemberS{Value: "canary"}
	}
	if _, err := c.Items.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(out["TableName"]), Item: item}); err != nil {
		return r, fmt.Errorf("write canary to %s: %w", out["TableName"], err)
	}
	fmt.Fprintf(c.Out, "smoke: wrote canary %s to %s\n", r.Canary, out["TableName"])

	// The object is dated by the canary's creation time, which is start
	// or a moment later: past midnight UTC, that is the next day.
	var prefixes []string
	for _, day := range []time.Time{start, start.Add(24 * time.Hour)} {
		prefixes = append(prefixes, fmt.Sprintf("%s/table=%s/dt=%s/", out["Prefix"], out["TableName"], day.UTC().Format("2006-01-02")))
	}
	if r.ObjectKey, err = c.waitForObject(ctx, out["BucketName"], prefixes, r.Canary, start); err != nil {
		return r, err
	}
	r.ToS3 = c.Now().Sub(start)
	fmt.Fprintf(c.Out, "smoke: canary in s3://%s/%s after %s\n", out["BucketName"], r.ObjectKey, r.ToS3.Round(time.Second))

	if err := c.waitForDelivery(ctx, out["ForwarderLogGroupName"], r.ObjectKey, start); err != nil {
		return r, err
	}
	r.ToDatabricks = c.Now().Sub(start)
	fmt.Fprintf(c.Out, "smoke: object delivered to Databricks after %s\n", r.ToDatabricks.Round(time.Second))

	for _, group := range []string{out["StreamerLogGroupName"], out["ForwarderLogGroupName"]} {
		lines, err := c.errorsSince(ctx, group, start.Add(-time.Hour))
		if err != nil {
			return r, err
		}
		r.RecentErrors = append(r.RecentErrors, lines...)
	}
	fmt.Fprintf(c.Out, "smoke: %d error log lines in the last hour\n", len(r.RecentErrors))
	for i, l := range r.RecentErrors {
		if i == 10 {
			fmt.Fprintf(c.Out, "  ... and %d more\n", len(r.RecentErrors)-i)
			break
		}
		fmt.Fprintf(c.Out, "  %s\n", l)
	}
	return r, nil
}

var required = []string{"TableName", "BucketName", "Prefix", "StreamerLogGroupName", "ForwarderLogGroupName"}

func (c *Checker) outputs(ctx context.Context, stack string) (map[string]string, error) {
	d, err := c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(d.Stacks) != 1 {
		return nil, fmt.Errorf("stack %s not found", stack)
	}
	out := map[string]string{}
	for _, o := range d.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	var missing []string
	for _, k := range required {
		if out[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("stack %s lacks outputs %s: is it a pipeline stack?", stack, strings.Join(missing, ", "))
	}
	return out, nil
}

func (c *Checker) wait(ctx context.Context, what string, try func() (bool, error)) error {
	deadline := c.Now().Add(c.Timeout)
	for {
		ok, err := try()
		if err != nil || ok {
			return err
		}
		if c.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", c.Timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.Poll):
		}
	}
}

func (c *Checker) waitForObject(ctx context.Context, bucket string, prefixes []string, canary string, since time.Time) (string, error) {
	checked := map[string]bool{}
	var found string
	err := c.wait(ctx, "the canary's object in s3://"+bucket+"/"+strings.Join(prefixes, " or "), func() (bool, error) {
		for _, prefix := range prefixes {
			if ok, err := c.findIn(ctx, bucket, prefix, canary, since, checked, &found); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	})
	return found, err
}

// findIn looks for the canary in the objects under prefix written since
// about since and not yet checked.
func (c *Checker) findIn(ctx context.Context, bucket, prefix, canary string, since time.Time, checked map[string]bool, found *string) (bool, error) {
	p := s3.NewListObjectsV2Paginator(c.Objects, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if checked[key] || aws.ToTime(o.LastModified).Before(since.Add(-time.Minute)) {
				continue
			}
			checked[key] = true
			has, err := c.contains(ctx, bucket, key, canary)
			if err != nil {
				return false, err
			}
			if has {
				*found = key
				return true, nil
			}
		}
	}
	return false, nil
}

func (c *Checker) contains(ctx context.Context, bucket, key, canary string) (bool, error) {
	got, err := c.Objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer got.Body.Close()
	zr, err := gzip.NewReader(got.Body)
	if err != nil {
		return false, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"`+canary+`"`) {
			return true, nil
		}
	}
	return false, sc.Err()
}

func (c *Checker) waitForDelivery(ctx context.Context, group, key string, since time.Time) error {
	pattern := fmt.Sprintf(`{ $.key = "%s" && $.result = "delivered" }`, key)
	return c.wait(ctx, "the forwarder to deliver "+key, func() (bool, error) {
		out, err := c.Logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(group), FilterPattern: aws.String(pattern), StartTime: aws.Int64(since.Add(-time.Minute).UnixMilli()),
		})
		if err != nil {
			return false, fmt.Errorf("search %s: %w", group, err)
		}
		return len(out.Events) > 0, nil
	})
}

func (c *Checker) errorsSince(ctx context.Context, group string, since time.Time) ([]string, error) {
	var lines []string
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), FilterPattern: aws.String(`{ $.level = "ERROR" }`),
		StartTime: aws.Int64(since.UnixMilli())}
	for page := 0; page < 5; page++ {
		out, err := c.Logs.FilterLogEvents(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", group, err)
		}
		for _, e := range out.Events {
			lines = append(lines, group+": "+strings.TrimSpace(aws.ToString(e.Message)))
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return lines, nil
}

// ErrNoCredentials marks a run without AWS credentials: make smoke skips.
var ErrNoCredentials = errors.New("no AWS credentials")
