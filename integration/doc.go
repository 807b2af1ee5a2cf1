// Package integration runs the whole pipeline on one machine with real
// parts wherever one exists here: DynamoDB Local with Streams, versitygw
// as the S3 server (SigV4 checked, event notifications by webhook), and
// the real bootstrap binaries of both functions. make local and the
// end-to-end tests (e2e_test.go) both drive it; each emulated AWS part
// is a package of its own, with its own tests:
//
//   - poller: the DynamoDB event source mapping (batching, retries,
//     bisecting, on-failure destination);
//   - runtimeapi: the Lambda Runtime API, one execution environment;
//   - s3faults: a proxy before the S3 server injecting SlowDown answers
//     and writer crashes by count;
//   - eventbus: S3's EventBridge events, the forwarder's rule and
//     EventBridge's asynchronous invocation;
//   - secretsmanager: the Secrets Manager endpoint holding the Databricks
//     secret;
//   - smoke: the check of a deployed stack (make smoke).
//
// The fake Databricks workspace is internal/testing/fakedatabricks. The
// parts tell a waiter when their state changes (internal/wake), so
// Pipeline.Drain waits for the pipeline to drain on their progress, not
// on time.
package integration
