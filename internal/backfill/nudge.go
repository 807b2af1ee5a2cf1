package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/export/planner"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// DefaultStallWait is how long after an export completes the backfill
// waits for a first converted data file before it invokes the planner
// itself. The planner's own path takes seconds: S3 sends the summary's
// event to EventBridge, whose rule invokes the planner asynchronously;
// while DescribeExport still says IN_PROGRESS the planner fails, and
// Lambda retries an asynchronous invocation's function error twice, about
// one and two minutes later
// (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
// EventBridge retries only deliveries it could not make, not the
// function's errors. So a conversion that has not started five minutes
// after the export completed will not start by itself: the event never
// arrived, or Lambda gave up on it.
const DefaultStallWait = 5 * time.Minute

// summaryKey is where the export's manifest-summary.json is.
func summaryKey(d *types.ExportDescription) string {
	return exportDir(aws.ToString(d.S3Prefix), exportID(aws.ToString(d.ExportArn))) + "/" + export.SummaryName
}

// nudge invokes the export planner synchronously with the event S3 would
// have sent for the export's manifest-summary.json, so that a conversion
// that never started starts. It is safe whatever the planner did before:
// snapshot objects are named by export and data file and written
// conditionally, so a data file converted twice is written once.
func (b *run) nudge(ctx context.Context, d *types.ExportDescription) error {
	bucket, key := aws.ToString(d.S3Bucket), summaryKey(d)
	fn := b.cfg.PlannerFunction
	payload, err := s3event.ObjectCreated(bucket, key, 0, b.cfg.Now())
	if err != nil {
		return err
	}
	b.report.PlannerInvoked = true
	remedy := "read the export planner's log group (ddbstream doctor names it); once the cause is fixed, run backfill again"
	out, err := b.cfg.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn),
		InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: payload})
	if err != nil {
		return &Error{Msg: fmt.Sprintf("no data file converted %s after the export completed, and invoking the export planner %s failed", b.cfg.StallWait, fn),
			Err: err, Remedy: remedy}
	}
	if out.FunctionError != nil {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return &Error{Msg: fmt.Sprintf("no data file converted %s after the export completed; the export planner %s, invoked for s3://%s/%s, failed: %s",
			b.cfg.StallWait, fn, bucket, key, strings.TrimSpace(fe.ErrorMessage)), Remedy: remedy}
	}
	var resp planner.Response
	if err := json.Unmarshal(out.Payload, &resp); err != nil || len(resp.Exports) != 1 {
		return &Error{Msg: fmt.Sprintf("the export planner %s answered the event for s3://%s/%s with %q, not its response for one export", fn, bucket, key, string(out.Payload)),
			Err: err, Remedy: "check that the function is the stack's export planner (the ExportPlannerFunctionName output, --planner-function)"}
	}
	r := resp.Exports[0]
	if r.Skipped != "" {
		return &Error{Msg: fmt.Sprintf("the export planner %s skipped export %s: %s", fn, aws.ToString(d.ExportArn), r.Skipped),
			Remedy: "the planner converts only full DYNAMODB_JSON exports of its table into its bucket and export prefix: check --export-prefix and the stack's settings"}
	}
	b.report.PlannerDispatched = r.Invoked
	return nil
}
