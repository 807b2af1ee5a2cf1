// Package backfill loads a table's whole state into the lake from a
// DynamoDB table export, for `ddbstream backfill`.
//
// The stream only carries changes, and only for 24 hours, so a table
// that existed before the pipeline (or a lake that lost objects) needs
// its items from elsewhere: a point-in-time export. Run checks that the
// export can be joined with the stream without a gap, starts (or finds)
// the export, and follows it and its conversion to the end:
//
//  1. DescribeTable: the stream is enabled, and it was created at least
//     orderkey.SnapshotMargin before the export time. A snapshot row
//     ranks at its export time less that margin, and every stream
//     record from then on outranks it; a change made before the stream
//     existed but after the export time would be in neither, so Run
//     refuses and says when it can run.
//  2. DescribeContinuousBackups: point-in-time recovery is ENABLED (the
//     export API reads from it). The export time is
//     min(now, LatestRestorableDateTime): the API refuses a time outside
//     the recovery window (InvalidExportTimeException), and AWS says the
//     latest restorable time is "typically 5 minutes before the current
//     time"
//     (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PointInTimeRecoveryDescription.html).
//  3. ListExports and DescribeExport: an export of this table into the
//     same bucket and export prefix that is IN_PROGRESS, or COMPLETED but
//     not yet fully converted, is followed instead of starting another.
//  4. ExportTableToPointInTime: FULL_EXPORT in DYNAMODB_JSON into the
//     pipeline's bucket under the export prefix (outside the data prefix,
//     so the forwarder never sees export files), with the bucket's KMS
//     key when it has one, and a ClientToken derived from the table,
//     bucket, export prefix and the export time's hour. The API treats
//     calls with one token as one call for 8 hours
//     (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportTableToPointInTime.html),
//     so two runs racing within the hour start one export; the loser
//     gets ExportConflictException (its export time differs) and
//     attaches to the winner's export.
//  5. DescribeExport until COMPLETED, then the conversion: the export
//     planner converts each data file listed in manifest-files.json
//     into one snapshot object under the table's data prefix, named
//     with the export ID; Run counts them until there is one per data
//     file.
//
// Running it again therefore attaches to the same export and conversion.
// Once this hour's export is converted, running it again reports that
// export and starts nothing; in a later hour it starts a fresh one.
package backfill
