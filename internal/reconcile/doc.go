// Package reconcile proves that the lake equals the table, or shows where
// it does not: it folds a table's lake objects (stream and export lines)
// into each item's current state with the fold rule of package fold, reads
// the live table with a parallel, paginated, rate-limited Scan, and
// compares the two item by item.
//
// Each item ends in one outcome: equal, missing from the lake, only in the
// lake, different, in flight (it differed, and a second look found the
// lake catching up with it: see recheck.go), unverified (the lake has no
// image of it: KEYS_ONLY streams) or conflict (the lake contradicts
// itself). The Report counts them, keeps the first examples of each by
// key (values only on request) and what the run cost in read capacity.
//
// Images compare as values (compare.go): numbers as decimals (decimal.go),
// sets regardless of order, maps regardless of member order. Keys are the
// item's identity byte for byte, as every consumer of the lake matches
// them; a key number the lake spells otherwise than DynamoDB is reported
// as such (keytext.go). Reads DynamoDB throttles are retried with a capped
// backoff well beyond the SDK's attempts (throttle.go), so a long run
// survives a busy table.
//
// The AWS calls go through one-method interfaces with the SDK's own
// signatures (ListObjectsV2, GetObject, Scan, BatchGetItem,
// DescribeTable), so the command passes its S3 and DynamoDB clients and
// tests pass fakes. Both sides are spilled to disk, hash-partitioned by
// key, so memory stays bounded whatever the table's size.
package reconcile
