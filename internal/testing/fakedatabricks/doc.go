// Package fakedatabricks is an in-memory Databricks workspace served over
// HTTP, for tests, benchmarks and the local pipeline. It speaks the parts
// of the REST API the forwarder uses (OAuth token endpoint, Files API,
// Jobs run-now, SQL statements, DBFS streaming), enforces the limits that
// matter (64-character idempotency tokens, 1 MB DBFS blocks, /Volumes
// paths), records what it received, and can inject faults: any status with
// Retry-After, delays, redirects, and token revocation for rotation tests.
package fakedatabricks
