// Package forwarder is the logic of the forwarder Lambda: for every new
// object an event announces, it delivers the object to Databricks in the
// configured mode (volume upload, job run, copy-into: a MERGE from
// read_files into a table, or DBFS) and reports what it could not deliver
// so that Lambda keeps and retries it.
package forwarder
