// Package integration runs the whole pipeline on one machine with real
// parts wherever one exists here: DynamoDB Local with Streams, versitygw
// as the S3 server (SigV4 checked, event notifications by webhook), the
// real bootstrap binaries of both functions under a Lambda Runtime API
// emulator, an event source poller with the mapping's semantics, a Secrets
// Manager endpoint speaking its JSON protocol, and a fake Databricks
// workspace. make local and the end-to-end tests both drive it.
package integration
