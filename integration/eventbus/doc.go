// Package eventbus plays, on one machine, the path from S3 to the
// forwarder in AWS: S3's EventBridge integration, the default event bus,
// the forwarder's rule and EventBridge's asynchronous invocation of
// Lambda. Its Relay takes the S3 server's (versitygw's) webhook
// notifications, converts each into the event S3 sends to EventBridge
// (events.go, checked against testdata/ captured from versitygw and the
// S3 user guide's examples), keeps those the deployed rule matches with
// the rule's own pattern (internal/eventrule), and invokes the forwarder
// with them, retrying function errors and keeping events that still fail
// for the on-failure destination.
package eventbus
