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
// (and EventBridge's, before them) bring it back later.
var ErrInProgress = errors.New("export is still IN_PROGRESS; failing so that Lambda retries the event")

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
	Jobs     []export.Job
}

// Plan reads the export whose manifest-summary.json is bucket/key and,
// when it is COMPLETED, builds its Jobs. It invokes nothing, so a local
// harness can run the Jobs itself. Every data file is checked before any
// Job is returned: a malformed manifest yields an error and no Job.
func (p *Planner) Plan(ctx context.Context, bucket, key string) (Plan, error) {
	plan := Plan{Bucket: bucket, SummaryKey: key}
	loc, err := export.LocateSummary(key)
	if err != nil {
		return plan, err
	}
	body, err := p.get(ctx, bucket, key)
	if err != nil {
		return plan, err
	}
	plan.Summary, err = export.ReadSummary(body)
	body.Close()
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
	// Skipped says why a key was not planned (not an export summary).
	Skipped string `json:"skipped,omitempty"`
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
// invocation that failed, a malformed manifest. A FAILED export is logged
// and ends the event without error: there is nothing to convert, and
// retrying cannot change that.
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
		r.Skipped = err.Error()
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
		p.tel.Emit(logCtx, start,
			emf.Metric{Name: "ExportsPlanned", Unit: emf.Count, Value: planned},
			emf.Metric{Name: "ExportsInProgress", Unit: emf.Count, Value: inProgress},
			emf.Metric{Name: "ExportsFailed", Unit: emf.Count, Value: failed},
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
