// Package fakedatabricks is an in-memory Databricks workspace served over
// HTTP, for tests, benchmarks and the local pipeline. It speaks the parts
// of the REST API the forwarder uses (internal/databricks), as the
// Databricks reference documents them, so that end-to-end proofs such as
// "one job run per idempotency token" and "a MERGE keyed by the object's
// path loads it once" rest on the documented behaviour rather than on the
// fake's convenience. It enforces the limits that matter (64-character
// idempotency tokens, 1 MB DBFS blocks, /Volumes paths, OAuth token
// lifetimes, COPY INTO and MERGE only into a table that exists and has the
// columns they insert), records what it
// received, and can inject faults: any status with Retry-After, delays,
// redirects, and token revocation for rotation tests.
//
// One file per API, mirroring internal/databricks/ops.go:
//
//   - workspace.go: the server, options, routing, authentication, fault
//     injection and the request log
//   - oauth.go: the OAuth M2M token endpoint (/oidc/v1/token)
//   - files.go: the Files API upload to Unity Catalog volumes
//   - jobs.go: Jobs run-now and its idempotency tokens
//   - sql.go: SQL statement execution, and CREATE TABLE's, COPY INTO's and
//     MERGE's semantics
//   - dbfs.go: DBFS create, add-block, close and put
package fakedatabricks
