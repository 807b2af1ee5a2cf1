package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

// DynamoDB is the part of the DynamoDB API a backfill calls, with the
// SDK client's signatures.
type DynamoDB interface {
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeContinuousBackups(ctx context.Context, params *dynamodb.DescribeContinuousBackupsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
	ExportTableToPointInTime(ctx context.Context, params *dynamodb.ExportTableToPointInTimeInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error)
	DescribeExport(ctx context.Context, params *dynamodb.DescribeExportInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
	ListExports(ctx context.Context, params *dynamodb.ListExportsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ListExportsOutput, error)
}

// S3 is the part of the S3 API a backfill calls: it reads the export's
// manifest, counts the converted objects, folds the table's lake and
// writes the export's delete lines.
type S3 interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Lambda is the part of the Lambda API a backfill calls: it reads the
// event source mapping that carries the stream into the lake, and invokes
// the export planner when a conversion never started.
type Lambda interface {
	ListEventSourceMappings(ctx context.Context, params *lambda.ListEventSourceMappingsInput, optFns ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Config is what a backfill works on.
type Config struct {
	// Table is the table's name.
	Table string
	// Bucket and Prefix are the pipeline's bucket and key prefix
	// (S3_PREFIX): the converted objects go under Prefix/table=Table/.
	Bucket, Prefix string
	// ExportPrefix is where the export's files go, outside the data
	// prefix (default DefaultExportPrefix(Prefix)).
	ExportPrefix string
	// KMSKey is the bucket's KMS key ARN: the export is written with it
	// (S3SseAlgorithm KMS). Empty: the bucket's default encryption.
	KMSKey string
	// StreamARN, when set, is the stream the pipeline reads (the stack's
	// StreamArn output): it must be the table's current stream, or the
	// pipeline misses every change since the stream was replaced.
	StreamARN string
	// Lambda reads the event source mapping and invokes the planner.
	Lambda Lambda
	// StreamerFunction is the function the stream's event source mapping
	// invokes (the stack's StreamerFunctionName output). Empty: the one
	// mapping on the table's stream, whichever function it invokes.
	StreamerFunction string
	// PlannerFunction is the export planner (the stack's
	// ExportPlannerFunctionName output), invoked when no data file is
	// converted StallWait after the export completed. Empty: never.
	PlannerFunction string
	// StallWait is that wait (default DefaultStallWait).
	StallWait time.Duration
	// ConverterConcurrency is the converter's reserved concurrency (the
	// stack's ExportConverterReservedConcurrency output): how many data
	// files convert at once, for the time estimate. 0: unknown.
	ConverterConcurrency int
	// TempDir holds the lake's fold while the delete lines are found
	// (default os.TempDir); FoldMemory bounds one folded partition
	// (default fold.DefaultBudget).
	TempDir    string
	FoldMemory int64
	// Timeout bounds the whole run (default 2h); the export and the
	// conversion go on in AWS after it, and the next run attaches.
	Timeout time.Duration
	// Poll is how often the export and the conversion are checked
	// (default 15s).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Progress, if set, is called after each check.
	Progress func(Progress)
}

// DefaultExportPrefix is the export prefix beside the data prefix:
// "cdc-exports" for "cdc". Export files are not pipeline objects, so
// they stay out of <prefix>/, where the forwarder's rule and the lake's
// readers look.
func DefaultExportPrefix(prefix string) string {
	if prefix == "" {
		return "exports"
	}
	return prefix + "-exports"
}

func (c *Config) defaults() {
	if c.ExportPrefix == "" {
		c.ExportPrefix = DefaultExportPrefix(c.Prefix)
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Hour
	}
	if c.Poll <= 0 {
		c.Poll = 15 * time.Second
	}
	if c.StallWait <= 0 {
		c.StallWait = DefaultStallWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Progress == nil {
		c.Progress = func(Progress) {}
	}
}

func (c *Config) validate() error {
	var problems []string
	if c.Table == "" {
		problems = append(problems, "no table")
	}
	if c.Bucket == "" {
		problems = append(problems, "no bucket")
	}
	if c.Lambda == nil {
		problems = append(problems, "no Lambda client")
	}
	if err := objectkey.ValidatePrefix(c.Prefix); err != nil {
		problems = append(problems, "prefix: "+err.Error())
	}
	if err := objectkey.ValidatePrefix(c.ExportPrefix); err != nil {
		problems = append(problems, "export prefix: "+err.Error())
	}
	if insideData(c.Prefix, c.ExportPrefix) {
		problems = append(problems, fmt.Sprintf("export prefix %q is inside the data prefix %q: export files would be taken for pipeline objects", c.ExportPrefix, c.Prefix))
	}
	if len(problems) > 0 {
		return &Error{Msg: "bad settings: " + strings.Join(problems, "; "),
			Remedy: "give --table and --bucket (or --stack), and an export prefix outside the data prefix, such as " + DefaultExportPrefix(c.Prefix)}
	}
	return nil
}

// insideData reports whether keys under exportPrefix could be taken for
// the pipeline's objects: under <prefix>/, or, with no prefix, under
// table= or _errors/.
func insideData(prefix, exportPrefix string) bool {
	if prefix != "" {
		return exportPrefix == prefix || strings.HasPrefix(exportPrefix, prefix+"/")
	}
	first, _, _ := strings.Cut(exportPrefix, "/")
	return exportPrefix == "" || strings.HasPrefix(first, "table=") || first == objectkey.ErrorsDir
}

// Phase is the stage a backfill is in.
type Phase string

// The phases: the export runs in DynamoDB, then the converter turns its
// data files into snapshot objects, then the backfill writes the delete
// lines of the items the export does not hold.
const (
	PhaseExport  Phase = "export"
	PhaseConvert Phase = "convert"
	PhaseDeletes Phase = "deletes"
)

// Progress is one check's outcome, for a progress display.
type Progress struct {
	Phase     Phase
	ExportARN string
	// Status is the export's status (IN_PROGRESS, COMPLETED).
	Status string
	// Elapsed is the time since the export started.
	Elapsed time.Duration
	// Converted counts the data files converted so far, of ToConvert
	// (the export's data files with items; 0 until the export is
	// complete); Errors counts its errors objects.
	Converted, ToConvert, Errors int
	// Concurrency is how many data files convert at once (the converter's
	// reserved concurrency; 0 unknown), and Remaining the estimated time
	// until the last one is converted (0 until one is).
	Concurrency int
	Remaining   time.Duration
}

// Report is what a backfill did.
type Report struct {
	TableARN    string
	ExportARN   string
	ClientToken string
	ExportTime  time.Time
	// ExportDir is s3://bucket/<export prefix>/AWSDynamoDB/<export ID>.
	ExportDir string
	// Attached is set when the run followed an export started earlier,
	// AlreadyDone when that export was already converted.
	Attached, AlreadyDone bool
	Status                string
	// Items and DataFiles are the export's (manifest-files.json);
	// EmptyFiles of those hold no item, so nothing is converted from
	// them.
	Items                 int64
	DataFiles, EmptyFiles int
	// Converted counts the data files with items that are wholly
	// converted, DataObjects and ErrorObjects the objects written for
	// them under the data prefix and under _errors/.
	Converted, DataObjects, ErrorObjects int
	// PlannerInvoked is set when the backfill invoked the export planner
	// itself, because no data file was converted in time;
	// PlannerDispatched counts the conversions that invocation started.
	PlannerInvoked    bool
	PlannerDispatched int
	// DeletesKey is the export's delete object; Deleted counts the items
	// this run deleted there (lake items the export does not hold), and
	// DeletesAlready is set when the object had been written before.
	DeletesKey     string
	Deleted        int64
	DeletesAlready bool
	// LakeObjects and LakeItems are what the fold for the deletes read;
	// MalformedLines counts lines it could not use.
	LakeObjects, LakeItems, MalformedLines int64
	// ExportDuration is the export's own time (EndTime less StartTime);
	// Duration is this run's.
	ExportDuration, Duration time.Duration
}

// Error is a backfill failure with what the operator should do about it.
type Error struct {
	// Msg says what went wrong.
	Msg string
	// Remedy says what to do.
	Remedy string
	// Unfinished is set when the export or conversion goes on in AWS
	// (a timeout, an interruption): running again attaches to it.
	Unfinished bool
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// interrupted wraps a context error: the work goes on in AWS.
func interrupted(err error, what string) error {
	return &Error{Msg: what + " interrupted", Err: err, Unfinished: true,
		Remedy: "the export and its conversion go on in AWS: run the same command again to attach to them"}
}

// Run backfills cfg.Table. It returns the report so far with any error,
// so that a failed run still names its export.
func Run(ctx context.Context, cfg Config, db DynamoDB, objects S3) (Report, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	b := &run{cfg: cfg, db: db, objects: objects, start: cfg.Now()}
	b.deadline = b.start.Add(cfg.Timeout)
	err := b.run(ctx)
	b.report.Duration = cfg.Now().Sub(b.start)
	if err != nil && ctx.Err() != nil && !errors.As(err, new(*Error)) {
		err = interrupted(ctx.Err(), "backfill")
	}
	return b.report, err
}

// run is one backfill in progress.
type run struct {
	cfg             Config
	db              DynamoDB
	objects         S3
	start, deadline time.Time
	report          Report
	// lines caches the line counts of errors objects.
	lines map[string]int64
}

func (b *run) run(ctx context.Context) error {
	t, err := b.table(ctx)
	if err != nil {
		return err
	}
	b.report.TableARN = t.arn
	latest, err := b.recoveryWindow(ctx)
	if err != nil {
		return err
	}
	m, err := b.mapping(ctx, t)
	if err != nil {
		return err
	}
	ours, err := b.exports(ctx, t.arn)
	if err != nil {
		return err
	}
	exportTime := b.cfg.Now()
	if latest.Before(exportTime) {
		exportTime = latest
	}
	exportTime = exportTime.UTC().Truncate(time.Second)
	token := clientToken(t.arn, b.cfg.Bucket, b.cfg.ExportPrefix, exportTime, 0)

	follow, done, err := b.choose(ctx, ours, m, tokenBase(token))
	if err != nil {
		return err
	}
	if done {
		return b.finish(ctx, b.report.ExportTime, true)
	}
	if follow == nil {
		if err := m.covers(t.name, exportTime); err != nil {
			return err
		}
		if follow, err = b.startExport(ctx, t, ours, exportTime); err != nil {
			return err
		}
	}
	return b.follow(ctx, follow)
}
