// Package eventbus plays, on one machine, the path from S3 to the
// pipeline's functions in AWS: S3's EventBridge integration, the default
// event bus, the rules and EventBridge's asynchronous invocation of
// Lambda. Its Relay takes the S3 server's (versitygw's) webhook
// notifications, converts each into the event S3 sends to EventBridge
// (events.go, checked against testdata/ captured from versitygw and the
// S3 user guide's examples), hands it to every rule whose deployed
// pattern matches it (internal/eventrule: the forwarder's rule, and the
// export planner's as a Route), and invokes each rule's function with it,
// retrying function errors and keeping events that still fail for that
// function's on-failure destination.
package eventbus
