// Package streamer is the logic of the streamer Lambda: it turns one
// DynamoDB Streams batch into one gzip-compressed JSON Lines object in S3
// and tells Lambda which records, if any, must be retried.
//
// Guarantees:
//   - The object key depends only on the batch, and the write is
//     conditional (If-None-Match: *), so a retried batch neither duplicates
//     nor rewrites an object that is already durable. A 412 counts as
//     written only for keys that prove the stored content is the same:
//     stream and sequence range, or, for an errors object whose records
//     the sequence numbers cannot pin, the SHA-256 of its content.
//   - A record is reported as done only after the object holding it was
//     acknowledged by S3. On failure the response names the lowest sequence
//     number not durably written; when that record has no usable sequence
//     number, the whole invocation fails instead.
//   - Records that cannot be converted go, raw and with the reason, to an
//     object under <prefix>/_errors/; a payload that is not valid JSON is
//     kept whole under <prefix>/_errors/malformed/. Neither blocks the shard.
package streamer
