// Package planner is the export planner's logic. An EventBridge rule
// invokes it when an export's manifest-summary.json is created; it
//
//  1. reads the summary (the bucket and key come from the event, read by
//     internal/s3event);
//  2. asks DescribeExport for the export's status, since AWS does not
//     document that the summary is written last: IN_PROGRESS fails the
//     event (ErrInProgress) so that Lambda retries it, FAILED is logged
//     and ends it, COMPLETED goes on;
//  3. reads the table's key schema with DescribeTable, since an export
//     does not say which attributes are the key;
//  4. reads manifest-files.json and checks every line, and that the item
//     counts add up to the summary's, before anything is invoked;
//  5. invokes the converter asynchronously once per data file with an
//     export.Job.
//
// Plan does 1 to 4 without invoking anything, for a local harness that
// runs the converter itself; Dispatch does 5.
package planner
