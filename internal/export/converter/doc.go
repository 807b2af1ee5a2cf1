// Package converter is the export converter's logic: one invocation
// converts one data file of a DynamoDB table export, named by an
// export.Job, into one snapshot object under the pipeline's layout
// (objectkey.Snapshot), with the file's lines that are not items in one
// errors object beside it (objectkey.SnapshotErrors).
//
// The file streams through with flat memory whatever its size: GetObject,
// gunzip, split into lines, record.Converter.ConvertItem, gzip, and an S3
// multipart upload of fixed-size parts, a bounded number in flight
// (upload.go). Nothing becomes visible until the file has been read to
// its end and checked against the manifest (item count, MD5); then the
// errors object and the data object are completed with If-None-Match: *.
// Their keys depend only on the export and the file, so a retried job
// lands on the same keys and a 412 means an earlier attempt converted
// the file: it counts as done. A 409 (a concurrent write) starts the file
// again, and every failure aborts the multipart uploads.
//
// An error from Handle means the file is not converted; Lambda's
// asynchronous retries run the Job again and finally keep it in the
// function's on-failure destination.
package converter
