// Package databricks is a small client for the Databricks REST calls the
// forwarder makes: Files API uploads to Unity Catalog volumes, Jobs
// run-now, SQL statement execution, and the DBFS streaming upload.
//
// Every call goes through one retry loop: 429, 5xx and transport errors are
// retried with capped exponential backoff and full jitter, honouring
// Retry-After, and never past the context's deadline (the caller keeps any
// margin it needs in that deadline). A 401 or 403 makes the client fetch
// its credentials again (and a new OAuth token) once and retry, so a
// rotated secret causes no failed delivery. The bearer token never appears
// in errors.
//
// A call succeeds only on its documented answer: the Files API upload's
// 204 (or 200) without body, and 200 with run_id, statement_id or the
// DBFS handle for the JSON calls. No write follows a redirect, and a read
// follows one only within the workspace host; a redirect that is not
// followed is a permanent error naming its Location.
package databricks
