// Package function is the Lambda function's plumbing, shared by the
// streamer and the forwarder so that each concern has one home:
//
//   - Telemetry and its options (WithLogger, WithMetrics, WithClock) are
//     how a handler logs and emits metrics, and Telemetry.Emit is the one
//     place a metric line that could not be written is reported;
//   - WithMargin is the one place the deadline margin is kept: work stops
//     that long before the Lambda deadline, so the function still answers,
//     naming what it did not do, in time;
//   - package bootstrap, below it, is the functions' shared main.
//
// The logic of each function stays in its own package (internal/streamer,
// internal/forwarder); this package knows nothing of DynamoDB or
// Databricks, and links neither the Lambda runtime nor the SDK.
package function
