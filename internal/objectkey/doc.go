// Package objectkey names the pipeline's S3 objects and parses those names.
//
// Keys are derived from the batch alone, never from the clock of the
// invocation, so a retried batch lands on the same key:
//
//	<prefix>/table=<table>/dt=YYYY-MM-DD/hour=HH/<stream>-<first seq>-<last seq>.jsonl.gz
//
// Records that could not be converted go to the same layout under
// <prefix>/_errors/, and whole payloads that were not valid JSON to
// <prefix>/_errors/malformed/<sha256>.json.gz. Data keys all start with
// <prefix>/table=, which is the filter an S3 notification uses to see data
// objects but not error objects.
package objectkey
