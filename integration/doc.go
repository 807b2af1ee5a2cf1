// Package integration runs the whole pipeline on one machine with real
// parts wherever one exists here: DynamoDB Local with Streams, versitygw
// as the S3 server (SigV4 checked, event notifications by webhook), and
// the real bootstrap binaries of the four functions (streamer,
// forwarder, export planner and export converter). make local and the
// end-to-end tests (e2e_test.go, backfill_e2e_test.go,
// redrive_e2e_test.go) both drive it;
// each emulated AWS part is a package of its own, with its own tests:
//
//   - poller: the DynamoDB event source mapping (batching, retries,
//     bisecting, on-failure destination);
//   - runtimeapi: the Lambda Runtime API, one execution environment;
//   - s3faults: a proxy before the S3 server injecting SlowDown answers
//     and writer crashes by count;
//   - eventbus: S3's EventBridge events, the forwarder's and the export
//     planner's rules and EventBridge's asynchronous invocation;
//   - exports: DynamoDB's table export API in front of DynamoDB Local,
//     writing AWS's export layout into S3;
//   - lambdaapi: Lambda's Invoke API, through which the planner starts
//     the converter asynchronously, with Lambda's retries, and ddbstream
//     redrive invokes the planner and the converter synchronously;
//   - secretsmanager: the Secrets Manager endpoint holding the Databricks
//     secret;
//   - sqsapi: SQS, holding the on-failure queues of the streamer (which
//     the poller fills with AWS's batch records), of the converter and of
//     the planner (AWS's asynchronous invocation records, from lambdaapi
//     and the planner's rule), which ddbstream redrive reads with the SDK;
//   - smoke: the check of a deployed stack (make smoke).
//
// A backfill runs as in AWS: Pipeline.Backfill runs ddbstream backfill's
// logic (internal/backfill) against the exports endpoint; the export's
// manifest-summary.json reaches the planner through its rule; the planner
// invokes the converter once per data file; the snapshot objects reach
// Databricks through the forwarder's rule; Pipeline.Reconcile runs
// ddbstream reconcile's logic (internal/reconcile) on the result.
//
// A redrive runs as in AWS too: a batch the poller gives up on leaves
// only AWS's record in the on-failure queue; Pipeline.Redrive runs
// ddbstream redrive's logic (internal/redrive) on that queue, reading the
// range again from DynamoDB Local's stream and writing it with the
// streamer's own handler and settings. Pipeline.RedriveExports hands
// the export functions' given-up events back to them through lambdaapi.
//
// The fake Databricks workspace is internal/testing/fakedatabricks. The
// parts tell a waiter when their state changes (internal/wake), so
// Pipeline.Drain waits for the pipeline to drain on their progress, not
// on time.
package integration
