// Package planner is the export planner's logic. An EventBridge rule
// invokes it when an export's manifest-summary.json is created; it
//
//  1. reads the summary (the bucket and key come from the event, read by
//     internal/s3event), after checking that it lies in the pipeline's
//     bucket and export prefix;
//  2. asks DescribeExport for the export's status, since AWS does not
//     document that the summary is written last: IN_PROGRESS fails the
//     event (ErrInProgress) so that Lambda retries it (twice, a minute and
//     two minutes later: see ErrInProgress), FAILED is logged and ends it,
//     COMPLETED goes on;
//  3. skips, logged and answered with the reason (Plan.Skip,
//     ExportResult.SkipReason), an export it must not convert: another
//     bucket, export prefix or table than its own (Config), an Ion or an
//     incremental export. Retrying cannot change those, so they end the
//     event without error and never reach the failure queue;
//  4. reads the table's key schema with DescribeTable, since an export
//     does not say which attributes are the key;
//  5. reads manifest-files.json and checks every line, and that the item
//     counts add up to the summary's, before anything is invoked;
//  6. invokes the converter asynchronously once per data file with an
//     export.Job.
//
// Plan does 1 to 5 without invoking anything, for a local harness that
// runs the converter itself; Dispatch does 6.
package planner
