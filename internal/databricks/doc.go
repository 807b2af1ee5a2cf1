// Package databricks is a small client for the Databricks REST calls the
// forwarder makes: Files API uploads to Unity Catalog volumes, Jobs
// run-now, SQL statement execution, and the DBFS streaming upload.
//
// Every call goes through one retry loop: 429, 5xx and transport errors are
// retried with capped exponential backoff and full jitter, honouring
// Retry-After, and never past the context's deadline less a margin. A 401
// or 403 makes the client fetch its credentials again (and a new OAuth
// token) once and retry, so a rotated secret causes no failed delivery.
// The bearer token never appears in errors, and the Authorization header
// is dropped on a redirect to another host.
package databricks
