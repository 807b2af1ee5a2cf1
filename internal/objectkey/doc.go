// Package objectkey names the pipeline's S3 objects and parses those names.
//
// Keys are derived from the batch alone, never from the clock of the
// invocation, so a retried batch lands on the same key:
//
//	<prefix>/table=<table>/dt=YYYY-MM-DD/hour=HH/<stream>-<first seq>-<last seq>.jsonl.gz
//
// Records that could not be converted go to the same layout under
// <prefix>/_errors/. When the batch's sequence numbers cannot prove which
// records the errors object holds, its name is instead
// <stream>-sha256-<SHA-256 of the uncompressed content>.jsonl.gz, so that
// only the same content ever lands on the same key. Whole payloads that
// were not valid JSON go to <prefix>/_errors/malformed/<sha256>.json.gz.
// Rows converted from a DynamoDB table export's data file (a backfill) use
// the same layout, dated by the export time, with a name made of the
// export ID and the data file:
//
//	<prefix>/table=<table>/dt=YYYY-MM-DD/hour=HH/snapshot-<export ID>-<data file>.jsonl.gz
//
// and their lines that could not be converted the same name under
// <prefix>/_errors/.
//
// Data keys all start with <prefix>/table=, which is what the forwarder's
// EventBridge rule (package eventrule) matches to see data objects but not
// error objects.
package objectkey
