// Package poller reads a DynamoDB stream the way a Lambda event source
// mapping does and invokes a function with each batch: batch size and
// batching window, shards in order (a child after its parent), the raw
// records with eventSourceARN added, retries from the lowest sequence
// number the function reports as failed, bisecting a batch on function
// errors, bounded retries, and an on-failure destination.
package poller
