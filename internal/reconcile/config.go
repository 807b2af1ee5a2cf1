package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// The AWS calls reconcile makes, each as a one-method interface with the
// SDK client's exact signature (as feature/s3/manager does), so that an
// *s3.Client and a *dynamodb.Client satisfy them and tests pass fakes.

// ListObjectsV2API lists the lake's objects.
type ListObjectsV2API interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// GetObjectAPI reads one lake object.
type GetObjectAPI interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ScanAPI reads the live table.
type ScanAPI interface {
	Scan(ctx context.Context, params *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// BatchGetItemAPI reads the live values of differing items again.
type BatchGetItemAPI interface {
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// DescribeTableAPI gives the table's key schema, key attribute types and
// approximate size.
type DescribeTableAPI interface {
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Config says what to reconcile and how hard to read. The zero values of
// the optional fields are the defaults documented on each.
type Config struct {
	// Table is the DynamoDB table's name, as the lake's table=<t> keys
	// carry it.
	Table string
	// Bucket and Prefix locate the lake: the pipeline's BUCKET_NAME and
	// S3_PREFIX. The data objects read are those under
	// <Prefix>/table=<Table>/; _errors/ is never read.
	Bucket, Prefix string
	// ImageFormat is the pipeline's IMAGE_FORMAT, which the lake's keys
	// and images are written in.
	ImageFormat record.ImageFormat

	List     ListObjectsV2API
	Get      GetObjectAPI
	Scan     ScanAPI
	BatchGet BatchGetItemAPI
	Describe DescribeTableAPI

	// ReadRate caps the read capacity the Scan and the recheck consume,
	// in RCUs per second, by a token bucket charged with each response's
	// ConsumedCapacity (0: no cap; set one on a table that serves
	// traffic).
	ReadRate float64
	// TotalSegments is the number of parallel Scan segments (0: one per 2
	// GiB of table, at least 4).
	TotalSegments int
	// PageLimit is the Scan's Limit, items per page (0: DynamoDB's 1 MB
	// pages, up to 128 RCUs each eventually consistent). A lower limit
	// smooths consumption under a small ReadRate.
	PageLimit int32
	// ConsistentRead makes the Scan strongly consistent, at twice the
	// read capacity. The recheck always reads strongly consistently.
	ConsistentRead bool
	// MaxThrottleWait bounds how long one Scan page or BatchGetItem
	// request is retried while DynamoDB throttles it, beyond the SDK's own
	// attempts (throttle.go), before the run fails (0: 15 minutes, long
	// enough for on-demand capacity to adapt or an operator to raise the
	// provisioned capacity).
	MaxThrottleWait time.Duration
	// Readers is the number of lake objects read at once (0: 16).
	Readers int

	// TempDir holds the spill files (0: os.TempDir()).
	TempDir string
	// Partitions is the number of spill partitions (0: chosen from the
	// lake's size and PartitionMemory).
	Partitions int
	// PartitionMemory is the memory budget, in bytes, for folding one
	// partition (0: fold.DefaultBudget).
	PartitionMemory int64

	// Settle bounds the wait, before the recheck, for the pipeline to
	// catch up with the live values the recheck read (0: no wait).
	Settle time.Duration
	// IteratorAge, when set, reports the stream's iterator age (the
	// event source mapping's IteratorAge metric, for one), so that the
	// wait ends as soon as the pipeline has processed the records made
	// before the recheck, plus SettleMargin. Without it the wait lasts
	// Settle.
	IteratorAge func(ctx context.Context) (time.Duration, error)
	// SettleMargin is the time, beyond the stream's position, for a
	// processed record to reach S3: the batching window and the put
	// (0: 30s).
	SettleMargin time.Duration
	// MaxRecheck bounds the differing items rechecked; further ones are
	// reported as found, counted in Report.NotRechecked (0: 10,000).
	MaxRecheck int

	// Examples is how many examples to keep of each outcome but equal:
	// those with the smallest keys (0: 10; negative: none).
	Examples int
	// ShowValues puts the lake's and the live images into the examples.
	// Off by default: item values may be sensitive; keys are always
	// shown, as they identify the item.
	ShowValues bool

	// Progress, when set, is called with the run's progress every
	// ProgressInterval (0: 500ms) and when a phase ends, never from two
	// goroutines at once.
	Progress         func(Progress)
	ProgressInterval time.Duration

	// Now and Sleep replace the clock, for tests (nil: real time).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// withDefaults returns the configuration with its defaults applied, or
// the first problem with it.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Table == "" {
		errs = append(errs, errors.New("table: required"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket: required"))
	}
	if err := objectkey.ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("prefix: %w", err))
	}
	for _, client := range []struct {
		name string
		set  bool
	}{
		{"List", c.List != nil}, {"Get", c.Get != nil}, {"Scan", c.Scan != nil},
		{"BatchGet", c.BatchGet != nil}, {"Describe", c.Describe != nil},
	} {
		if !client.set {
			errs = append(errs, fmt.Errorf("%s: client required", client.name))
		}
	}
	if c.ReadRate < 0 || c.TotalSegments < 0 || c.TotalSegments > 1_000_000 || c.PageLimit < 0 ||
		c.Readers < 0 || c.Partitions < 0 || c.Partitions > fold.MaxPartitions || c.PartitionMemory < 0 ||
		c.Settle < 0 || c.SettleMargin < 0 || c.MaxRecheck < 0 || c.ProgressInterval < 0 || c.MaxThrottleWait < 0 {
		errs = append(errs, fmt.Errorf("negative or out-of-range setting (TotalSegments up to 1,000,000, Partitions up to %d)", fold.MaxPartitions))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("reconcile: config: %w", errors.Join(errs...))
	}
	if c.Readers == 0 {
		c.Readers = 16
	}
	if c.PartitionMemory == 0 {
		c.PartitionMemory = fold.DefaultBudget
	}
	if c.MaxThrottleWait == 0 {
		c.MaxThrottleWait = 15 * time.Minute
	}
	if c.SettleMargin == 0 {
		c.SettleMargin = 30 * time.Second
	}
	if c.MaxRecheck == 0 {
		c.MaxRecheck = 10_000
	}
	if c.Examples == 0 {
		c.Examples = 10
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 500 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
