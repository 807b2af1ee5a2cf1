// Package exports plays DynamoDB's table export on one machine, because
// DynamoDB Local has no export API. Its Endpoint stands in front of
// DynamoDB Local: the SDK is pointed at it (AWS_ENDPOINT_URL_DYNAMODB or
// BaseEndpoint), it serves ExportTableToPointInTime, DescribeExport,
// ListExports, DescribeContinuousBackups and UpdateContinuousBackups
// itself, answers DescribeTable from DynamoDB Local's answer (accepting a
// table ARN, as AWS does and DynamoDB Local does not, and backdating the
// stream label when Config.StreamLabelBackdate says so), and passes every
// other call of the JSON protocol to DynamoDB Local unchanged.
//
// An export scans the table when it is requested and then, in the
// background, writes into the S3 server exactly the layout the developer
// guide documents
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html):
//
//	<prefix>/AWSDynamoDB/<ExportId>/_started
//	<prefix>/AWSDynamoDB/<ExportId>/data/<26 characters>.json.gz   (several, some empty)
//	<prefix>/AWSDynamoDB/<ExportId>/manifest-files.json            (one JSON line per data file: itemCount, md5Checksum, etag, dataFileS3Key)
//	<prefix>/AWSDynamoDB/<ExportId>/manifest-files.checksum
//	<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json          (written last)
//	<prefix>/AWSDynamoDB/<ExportId>/manifest-summary.checksum
//
// so that the real conversion code runs on it unchanged. Items are spread
// over the data files by a hash of their partition key, as AWS spreads
// them by partition, so an item is always in exactly one file and small
// tables leave some files empty. The status is IN_PROGRESS until the last
// object is written, then COMPLETED (FAILED, with the S3 error, if a write
// fails). ClientToken works as the API reference documents: the same token
// with the same parameters within 8 hours returns the same export, with
// other parameters ExportConflictException.
//
// Where it differs from AWS:
//
//   - the data is the table as scanned when the export is requested, not
//     as it was at ExportTime (which must still lie in the recovery
//     window). It is never older than ExportTime, and a snapshot row
//     ranks before every stream record from SnapshotMargin before its
//     export time on (internal/orderkey), so the lake's state comes out
//     the same;
//   - point-in-time recovery is on for every table from its creation, and
//     LatestRestorableDateTime trails the clock by Config.RestoreLag
//     (AWS: "typically 5 minutes"; here 0 unless set);
//   - only FULL_EXPORT in DYNAMODB_JSON; ION, INCREMENTAL_EXPORT and
//     FilterSpecification are refused with a ValidationException;
//   - BilledSizeBytes is the size of the items' JSON, and the content of
//     the .checksum files, which AWS does not document, is the MD5 of the
//     manifest in hex;
//   - an empty data file is an empty gzip stream (20 bytes), and
//     FailureCode is the S3 error code;
//   - with Config.StreamLabelBackdate, DescribeTable reports streams as
//     created earlier than they were (see there why that is sound here).
package exports
