package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// The AWS calls the planner makes, one interface each with the SDK
// client's own signature, so that the SDK clients satisfy them and tests
// fake each one.

// ObjectGetter reads the export's manifests.
type ObjectGetter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ExportDescriber reads an export's status.
type ExportDescriber interface {
	DescribeExport(ctx context.Context, params *dynamodb.DescribeExportInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
}

// TableDescriber reads the exported table's key schema.
type TableDescriber interface {
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// FunctionInvoker starts the converter.
type FunctionInvoker interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Clients are the planner's AWS clients.
type Clients struct {
	S3      ObjectGetter
	Exports ExportDescriber
	Tables  TableDescriber
	Lambda  FunctionInvoker
}

// ErrInProgress is returned while the export is still IN_PROGRESS. AWS
// does not document that manifest-summary.json is the export's last
// object, so the planner trusts only DescribeExport's COMPLETED, and
// fails the event while the export runs: Lambda's asynchronous retries
// bring it back later. Those are few: Lambda runs a function that
// returned an error "two more times, with a one-minute wait between the
// first two attempts, and two minutes between the second and third"
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html;
// the stack's asyncRetryAttempts may lower it), then hands the event to
// the planner's on-failure queue. EventBridge does not retry a function
// error at all: its retry policy covers deliveries it could not make (the
// target unavailable, throttled, not permitted), and once Lambda has
// accepted the event EventBridge is done with it
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
// So an export that DescribeExport reports IN_PROGRESS for more than
// about three minutes after its summary appeared is not converted by this
// event: its summary waits in the on-failure queue (ddbstream redrive
// --source export), or ddbstream backfill invokes the planner again.
var ErrInProgress = errors.New("export is still IN_PROGRESS; failing so that Lambda retries the event")

// Why an export is not this planner's to convert (ExportResult.SkipReason,
// Plan.Skip). Each ends the event without error: retrying cannot change
// it, and the failure queue is for what an operator must repair.
const (
	// SkipNotSummary: the object is not an export's manifest-summary.json.
	SkipNotSummary = "not-a-summary"
	// SkipOtherBucket: the export is in another bucket than Config.Bucket.
	SkipOtherBucket = "other-bucket"
	// SkipOtherPrefix: the export is under another prefix than
	// Config.ExportPrefix.
	SkipOtherPrefix = "other-prefix"
	// SkipOtherTable: the export is of another table than Config.Table.
	SkipOtherTable = "other-table"
	// SkipFormat: the export is not in DynamoDB JSON (ION): its lines
	// have another syntax.
	SkipFormat = "unsupported-format"
	// SkipExportType: the export is an INCREMENTAL_EXPORT, whose lines
	// are changes, not items: it is no snapshot.
	SkipExportType = "unsupported-export-type"
)

// Planner turns the creation of an export's manifest-summary.json into
// one converter invocation per data file. It implements lambda.Handler.
type Planner struct {
	c   Clients
	cfg Config
	tel function.Telemetry
}

// New returns a Planner; opts set its logger, metrics and clock.
func New(c Clients, cfg Config, opts ...function.Option) (*Planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("planner config: %w", err)
	}
	if c.S3 == nil || c.Exports == nil || c.Tables == nil || c.Lambda == nil {
		return nil, errors.New("planner: every client is required")
	}
	return &Planner{c: c, cfg: cfg, tel: function.NewTelemetry(opts...)}, nil
}

// Export statuses (DescribeExport's ExportStatus).
const (
	StatusCompleted  = string(dbtypes.ExportStatusCompleted)
	StatusFailed     = string(dbtypes.ExportStatusFailed)
	StatusInProgress = string(dbtypes.ExportStatusInProgress)
)

// Plan is what the planner found for one export: its summary, its status
// and, once COMPLETED, one Job per data file.
type Plan struct {
	Bucket, SummaryKey string
	Summary            export.Summary
	// Status is DescribeExport's: COMPLETED or FAILED (IN_PROGRESS is
	// ErrInProgress); FailureCode and FailureMessage say why it failed.
	Status                      string
	FailureCode, FailureMessage string
	// Filtered is set for an export with a filter: its snapshot holds only
	// the items that matched.
	Filtered bool
	// Skip, when set, is why the export is not converted (one of the
	// Skip* reasons), and SkipDetail says it for people; Jobs is then
	// empty.
	Skip, SkipDetail string
	Jobs             []export.Job
}

// skip marks the plan as one to skip.
func (plan *Plan) skip(reason, detail string) Plan {
	plan.Skip, plan.SkipDetail = reason, detail
	return *plan
}

// foreign says why an export lies outside this pipeline's bucket and
// export prefix, or nothing.
func (p *Planner) foreign(bucket string, loc export.Location) (reason, detail string) {
	switch {
	case p.cfg.Bucket != "" && bucket != p.cfg.Bucket:
		return SkipOtherBucket, fmt.Sprintf("the export is in bucket %s; this planner converts the exports in %s", bucket, p.cfg.Bucket)
	case p.cfg.ExportPrefix != "" && loc.Root != p.cfg.ExportPrefix:
		return SkipOtherPrefix, fmt.Sprintf("the export is under prefix %q; this planner converts the exports under %q", loc.Root, p.cfg.ExportPrefix)
	}
	return "", ""
}

// unconvertible says why the converter must not read an export of
// tableArn, in format, of type exportType, or nothing. Only values that
// are present count: an absent format or type is decided by
// DescribeExport, and then by export.Summary.Supported.
func (p *Planner) unconvertible(tableArn, format, exportType string) (reason, detail string) {
	if name, err := export.TableNameFromArn(tableArn); err == nil && p.cfg.Table != "" && name != p.cfg.Table {
		return SkipOtherTable, fmt.Sprintf("the export is of table %s; this planner converts the exports of %s", name, p.cfg.Table)
	}
	if format != "" && format != export.FormatDynamoDBJSON {
		return SkipFormat, fmt.Sprintf("the export's format is %s; the backfill converts %s only (export again with ddbstream backfill)", format, export.FormatDynamoDBJSON)
	}
	if exportType != "" && exportType != export.FullExport {
		return SkipExportType, fmt.Sprintf("the export is an %s, whose lines are changes rather than items; the backfill converts a %s only", exportType, export.FullExport)
	}
	return "", ""
}

// summaryHead is what decides whether an export is this planner's,
// decoded leniently: a summary the converter cannot read (an incremental
// export's, say) need not carry every field a full export's has.
type summaryHead struct {
	ExportArn    string `json:"exportArn"`
	TableArn     string `json:"tableArn"`
	OutputFormat string `json:"outputFormat"`
	ExportType   string `json:"exportType"`
}

// maxSummaryBytes bounds what is read of a summary, as export.ReadSummary
// does: AWS's is a few hundred bytes.
const maxSummaryBytes = 1 << 20

// Plan reads the export whose manifest-summary.json is bucket/key and,
// when it is COMPLETED, builds its Jobs. It invokes nothing, so a local
// harness can run the Jobs itself. Every data file is checked before any
// Job is returned: a malformed manifest yields an error and no Job. An
// export that is not this pipeline's to convert (another bucket, prefix
// or table, an Ion or incremental export) yields a Plan with Skip set and
// no error.
func (p *Planner) Plan(ctx context.Context, bucket, key string) (Plan, error) {
	plan := Plan{Bucket: bucket, SummaryKey: key}
	loc, err := export.LocateSummary(key)
	if err != nil {
		return plan, err
	}
	if reason, detail := p.foreign(bucket, loc); reason != "" {
		return plan.skip(reason, detail), nil
	}
	body, err := p.get(ctx, bucket, key)
	if err != nil {
		return plan, err
	}
	b, err := io.ReadAll(io.LimitReader(body, maxSummaryBytes+1))
	body.Close()
	switch {
	case err != nil:
		return plan, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	case len(b) > maxSummaryBytes:
		return plan, fmt.Errorf("s3://%s/%s: manifest summary is larger than %d bytes", bucket, key, maxSummaryBytes)
	}
	var head summaryHead
	if json.Unmarshal(b, &head) == nil {
		if reason, detail := p.unconvertible(head.TableArn, head.OutputFormat, head.ExportType); reason != "" {
			plan.Summary = export.Summary{ExportArn: head.ExportArn, TableArn: head.TableArn, OutputFormat: head.OutputFormat, ExportType: head.ExportType}
			return plan.skip(reason, detail), nil
		}
	}
	plan.Summary, err = export.ParseSummary(b)
	if err != nil {
		return plan, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	s := plan.Summary
	if _, id, _ := export.ParseExportArn(s.ExportArn); id != loc.ExportID {
		return plan, fmt.Errorf("s3://%s/%s names export %s, but lies in the directory of export %s", bucket, key, s.ExportArn, loc.ExportID)
	}

	desc, err := p.c.Exports.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(s.ExportArn)})
	if err != nil {
		return plan, fmt.Errorf("describe export %s: %w", s.ExportArn, err)
	}
	d := desc.ExportDescription
	if d == nil {
		return plan, fmt.Errorf("describe export %s: no description in the answer", s.ExportArn)
	}
	plan.Status = string(d.ExportStatus)
	switch plan.Status {
	case StatusInProgress:
		return plan, fmt.Errorf("%s: %w", s.ExportArn, ErrInProgress)
	case StatusFailed:
		plan.FailureCode, plan.FailureMessage = aws.ToString(d.FailureCode), aws.ToString(d.FailureMessage)
		return plan, nil
	case StatusCompleted:
	default:
		return plan, fmt.Errorf("export %s has status %q, not IN_PROGRESS, COMPLETED or FAILED", s.ExportArn, plan.Status)
	}
	// DescribeExport is authoritative on what was exported; the summary
	// of a full export need not say (its documented example has no
	// exportType).
	if d.ExportType != "" {
		s.ExportType = string(d.ExportType)
	}
	if d.ExportFormat != "" {
		s.OutputFormat = string(d.ExportFormat)
	}
	if reason, detail := p.unconvertible(first(aws.ToString(d.TableArn), s.TableArn), s.OutputFormat, s.ExportType); reason != "" {
		return plan.skip(reason, detail), nil
	}
	if err := s.Supported(); err != nil {
		return plan, err
	}
	plan.Filtered = d.FilterSpecification != nil

	keys, table, err := p.keySchema(ctx, s.TableArn)
	if err != nil {
		return plan, err
	}
	files, err := p.dataFiles(ctx, bucket, loc, s)
	if err != nil {
		return plan, err
	}
	seen := make(map[string]bool, len(files))
	for i, f := range files {
		dataKey, err := loc.Resolve(f.DataFileS3Key)
		if err != nil {
			return plan, fmt.Errorf("manifest-files.json data file %d: %w", i+1, err)
		}
		if seen[dataKey] {
			return plan, fmt.Errorf("manifest-files.json lists %s twice", dataKey)
		}
		seen[dataKey] = true
		job := export.Job{
			ExportArn: s.ExportArn, ExportTime: s.ExportTime, Table: table,
			PartitionKey: keys.PartitionKey, SortKey: keys.SortKey,
			Bucket: bucket, DataFileKey: dataKey, ItemCount: f.ItemCount, MD5Checksum: f.MD5Checksum, ETag: f.ETag,
		}
		if err := job.Validate(); err != nil {
			return plan, fmt.Errorf("manifest-files.json data file %d: %w", i+1, err)
		}
		plan.Jobs = append(plan.Jobs, job)
	}
	return plan, nil
}

// first returns the first non-empty string.
func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

type keySchema struct{ PartitionKey, SortKey string }

// keySchema reads the table's key schema, which an export does not carry.
// A key schema never changes, so the table's today is the export's; a
// table deleted since the export has none to read, and the error keeps
// the event in the on-failure destination.
func (p *Planner) keySchema(ctx context.Context, tableArn string) (keySchema, string, error) {
	name, _ := export.TableNameFromArn(tableArn)
	out, err := p.c.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableArn)})
	if err != nil {
		return keySchema{}, "", fmt.Errorf("describe table %s for its key schema: %w", tableArn, err)
	}
	if out.Table == nil {
		return keySchema{}, "", fmt.Errorf("describe table %s: no table in the answer", tableArn)
	}
	if got := aws.ToString(out.Table.TableName); got != name {
		return keySchema{}, "", fmt.Errorf("describe table %s answered for table %q", tableArn, got)
	}
	var ks keySchema
	for _, k := range out.Table.KeySchema {
		switch k.KeyType {
		case dbtypes.KeyTypeHash:
			ks.PartitionKey = aws.ToString(k.AttributeName)
		case dbtypes.KeyTypeRange:
			ks.SortKey = aws.ToString(k.AttributeName)
		}
	}
	if ks.PartitionKey == "" {
		return keySchema{}, "", fmt.Errorf("describe table %s: no HASH key in its KeySchema", tableArn)
	}
	return ks, name, nil
}

// dataFiles reads the export's manifest-files.json and checks that its
// item counts add up to the summary's.
func (p *Planner) dataFiles(ctx context.Context, bucket string, loc export.Location, s export.Summary) ([]export.DataFile, error) {
	key, err := loc.Resolve(s.ManifestFilesS3Key)
	if err != nil {
		return nil, fmt.Errorf("manifestFilesS3Key: %w", err)
	}
	body, err := p.get(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	files, err := export.ReadDataFiles(body)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
	}
	var items int64
	for _, f := range files {
		items += f.ItemCount
	}
	if items != s.ItemCount {
		return nil, fmt.Errorf("s3://%s/%s lists %d items in %d files; the summary says %d", bucket, key, items, len(files), s.ItemCount)
	}
	return files, nil
}

func (p *Planner) get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	out, err := p.c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return out.Body, nil
}

// Dispatch invokes the converter asynchronously (InvocationType Event)
// once per Job, at most Config.InvokeConcurrency at a time, and returns
// how many invocations Lambda accepted. A failed invocation fails the
// dispatch once every Job has been tried; the planner's event is then
// retried and invokes every Job again, which the converter's conditional
// writes make harmless: a file already converted answers 412.
func (p *Planner) Dispatch(ctx context.Context, jobs []export.Job) (int, error) {
	var (
		mu       sync.Mutex
		invoked  int
		failures []error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, p.cfg.InvokeConcurrency)
	for _, job := range jobs {
		payload, err := json.Marshal(job)
		if err != nil {
			return invoked, fmt.Errorf("encode job: %w", err)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return invoked, fmt.Errorf("invoke %s: %d of %d jobs not sent before the deadline: %w", p.cfg.ConverterFunction, len(jobs)-invoked, len(jobs), ctx.Err())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := p.c.Lambda.Invoke(ctx, &lambda.InvokeInput{
				FunctionName:   aws.String(p.cfg.ConverterFunction),
				InvocationType: lambdatypes.InvocationTypeEvent,
				Payload:        payload,
			})
			if err == nil && (out.StatusCode < 200 || out.StatusCode > 299) {
				err = fmt.Errorf("status %d", out.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, fmt.Errorf("invoke %s for %s: %w", p.cfg.ConverterFunction, job.DataFileKey, err))
				return
			}
			invoked++
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		return invoked, fmt.Errorf("%d of %d converter invocations failed; the first: %w", len(failures), len(jobs), failures[0])
	}
	return invoked, nil
}

// Response is the planner's answer, one entry per summary in the event.
type Response struct {
	Exports []ExportResult `json:"exports"`
}

// ExportResult is what the planner did with one export.
type ExportResult struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	ExportArn string `json:"exportArn,omitempty"`
	Status    string `json:"status,omitempty"`
	DataFiles int    `json:"dataFiles"`
	Items     int64  `json:"items"`
	Invoked   int    `json:"invoked"`
	// Skipped says, for people, why a key was not planned: not an export
	// summary, or an export this pipeline must not convert (another
	// bucket, prefix or table, an Ion or incremental export).
	// ddbstream redrive reads it.
	Skipped string `json:"skipped,omitempty"`
	// SkipReason is Skipped for programs: one of the Skip* reasons.
	SkipReason string `json:"skipReason,omitempty"`
}

// Invoke implements lambda.Handler.
func (p *Planner) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := p.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// Handle plans and dispatches every export summary the event announces
// (the stack's EventBridge rule sends one "Object Created" event per
// summary; S3 notifications are read too). An error fails the invocation
// so that Lambda retries it: an export still IN_PROGRESS, an AWS call or
// invocation that failed, a malformed manifest. A FAILED export, and one
// this pipeline must not convert (Plan.Skip), is logged and ends the
// event without error: there is nothing to convert, and retrying cannot
// change that.
func (p *Planner) Handle(ctx context.Context, payload []byte) (Response, error) {
	resp := Response{Exports: []ExportResult{}}
	ev, err := s3event.Parse(payload)
	if err != nil {
		p.tel.Log.ErrorContext(ctx, "event not understood", "error", err.Error())
		return resp, fmt.Errorf("planner event: %w", err)
	}
	if len(ev.Objects) == 0 {
		p.tel.Log.InfoContext(ctx, "event ignored", "source", ev.Source.String(), "detailType", ev.DetailType,
			"testEvents", ev.TestEvents, "ignored", ev.Ignored)
		return resp, nil
	}
	wctx, cancel := function.WithMargin(ctx, p.cfg.DeadlineMargin)
	defer cancel()
	var errs []error
	for _, o := range ev.Objects {
		r, err := p.handleObject(wctx, ctx, o)
		resp.Exports = append(resp.Exports, r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return resp, errors.Join(errs...)
}

func (p *Planner) handleObject(ctx, logCtx context.Context, o s3event.Object) (ExportResult, error) {
	start := p.tel.Now()
	r := ExportResult{Bucket: o.Bucket, Key: o.Key}
	if _, err := export.LocateSummary(o.Key); err != nil {
		r.Skipped, r.SkipReason = err.Error(), SkipNotSummary
		p.tel.Log.WarnContext(logCtx, "object skipped: not an export summary", "bucket", o.Bucket, "key", o.Key, "reason", err.Error())
		return r, nil
	}
	plan, err := p.Plan(ctx, o.Bucket, o.Key)
	r.ExportArn, r.Status, r.DataFiles = plan.Summary.ExportArn, plan.Status, len(plan.Jobs)
	for _, j := range plan.Jobs {
		r.Items += j.ItemCount
	}
	attrs := []any{"bucket", o.Bucket, "key", o.Key, "exportArn", r.ExportArn, "status", r.Status, "table", plan.Summary.TableArn,
		"exportTime", plan.Summary.ExportTime, "dataFiles", r.DataFiles, "items", r.Items}
	metrics := func(planned, inProgress, failed, invokeFailures float64) {
		skipped := 0.0
		if plan.Skip != "" {
			skipped = 1
		}
		p.tel.Emit(logCtx, start,
			emf.Metric{Name: "ExportsPlanned", Unit: emf.Count, Value: planned},
			emf.Metric{Name: "ExportsInProgress", Unit: emf.Count, Value: inProgress},
			emf.Metric{Name: "ExportsFailed", Unit: emf.Count, Value: failed},
			emf.Metric{Name: "ExportsSkipped", Unit: emf.Count, Value: skipped},
			emf.Metric{Name: "ExportDataFiles", Unit: emf.Count, Value: float64(r.Invoked)},
			emf.Metric{Name: "ExportItems", Unit: emf.Count, Value: float64(r.Items)},
			emf.Metric{Name: "InvokeFailures", Unit: emf.Count, Value: invokeFailures},
		)
	}
	switch {
	case errors.Is(err, ErrInProgress):
		metrics(0, 1, 0, 0)
		p.tel.Log.WarnContext(logCtx, "export not complete yet; Lambda will retry the event", append(attrs, "error", err.Error())...)
		return r, err
	case err != nil:
		metrics(0, 0, 0, 0)
		p.tel.Log.ErrorContext(logCtx, "export not planned; Lambda will retry the event", append(attrs, "error", err.Error())...)
		return r, err
	case plan.Skip != "":
		r.Skipped, r.SkipReason = plan.SkipDetail, plan.Skip
		metrics(0, 0, 0, 0)
		p.tel.Log.WarnContext(logCtx, "export skipped: not this pipeline's to convert", append(attrs, "skipReason", plan.Skip, "reason", plan.SkipDetail)...)
		return r, nil
	case plan.Status == StatusFailed:
		metrics(0, 0, 1, 0)
		p.tel.Log.ErrorContext(logCtx, "export failed: nothing to convert", append(attrs, "failureCode", plan.FailureCode, "failureMessage", plan.FailureMessage)...)
		return r, nil
	}
	if plan.Filtered {
		p.tel.Log.WarnContext(logCtx, "export is filtered: its snapshot holds only the items that matched the filter", attrs...)
	}
	r.Invoked, err = p.Dispatch(ctx, plan.Jobs)
	attrs = append(attrs, "invoked", r.Invoked, "latencyMs", p.tel.Now().Sub(start).Milliseconds())
	if err != nil {
		metrics(0, 0, 0, float64(len(plan.Jobs)-r.Invoked))
		p.tel.Log.ErrorContext(logCtx, "export not wholly dispatched; Lambda will retry the event", append(attrs, "error", err.Error())...)
		return r, err
	}
	metrics(1, 0, 0, 0)
	p.tel.Log.InfoContext(logCtx, "export planned", attrs...)
	return r, nil
}
