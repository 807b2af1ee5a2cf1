// Package export reads DynamoDB table exports for the backfill: the
// manifests AWS writes beside an export's data files, and the Job that
// names one data file to convert.
//
// An export to S3 (ExportTableToPointInTime) writes, under the export
// prefix chosen in the request,
//
//	<export prefix>/AWSDynamoDB/<export ID>/manifest-summary.json   one JSON object: the export (Summary)
//	<export prefix>/AWSDynamoDB/<export ID>/manifest-files.json     JSON Lines: one data file a line (DataFile)
//	<export prefix>/AWSDynamoDB/<export ID>/data/<name>.json.gz     JSON Lines of {"Item":{...}}, gzip
//
// as described in "DynamoDB table export output format",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html.
//
// The backfill runs in two Lambda functions. The planner
// (internal/export/planner, functions/exportplanner) is started by the
// summary's "Object Created" event; it checks the export with
// DescribeExport, reads the table's key schema with DescribeTable, reads
// the files manifest and invokes the converter asynchronously once per
// data file with a Job. The converter (internal/export/converter,
// functions/exportconverter) streams that one data file through the
// record converter into one gzip JSON Lines object laid out as the stream
// objects are (objectkey.Snapshot), so the forwarder delivers it like any
// other.
//
// The planner and the converter are separate packages, and this one calls
// no AWS API, because the iam tests read the AWS operations a function can
// call from every package linked into it: one package holding both would
// make each function's role need the other's permissions.
package export

// Where things are:
//
//   - manifest.go: the summary and files manifests, ARNs, resolving keys
//   - job.go: the Job handed from the planner (or a local harness) to the
//     converter
