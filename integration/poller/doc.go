// Package poller reads a DynamoDB stream the way a Lambda event source
// mapping does and invokes a function with each batch: batch size and
// batching window, shards in order (a child after its parent), the raw
// records with eventSourceARN added, retries from the lowest sequence
// number the function reports as failed, bisecting a batch on function
// errors, bounded retries, and an on-failure destination, which receives
// each batch given up on (FailedBatch.Record renders AWS's documented
// on-failure record of it, what an SQS destination receives). The records
// are passed on in the shape of the event the Lambda service builds:
// GetRecords' JSON as DynamoDB sent it, with eventSourceARN added and a
// userIdentity's members renamed from the API's Type and PrincipalId to
// the event's type and principalId.
package poller
