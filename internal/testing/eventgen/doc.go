// Package eventgen builds realistic Lambda DynamoDB Streams events for
// benchmarks, fixtures and end-to-end tests. Output is deterministic for a
// given Options value, so generated events can serve as golden inputs.
package eventgen
