// Package s3faults is a reverse proxy between the streamer and the S3
// server that injects the S3 failures the streamer must survive, each by
// count rather than by time, so that a test injects exactly the faults it
// asserts on however fast the machine is: 503 SlowDown answers
// (SlowDownNext), a crash of the writer while its write is in flight
// (HoldPuts), and a crash after the server stored the object but before
// the answer reached the writer (AfterPuts). It also records which
// objects the server stored through it (Stored), so that the pipeline can
// wait for exactly those objects' event notifications.
package s3faults
