// Package smoke checks a deployed pipeline (make smoke): it writes a
// canary item to the stack's table, waits for the object holding it in S3
// and for the forwarder's delivery of that object, and reports the
// stack's recent error log lines.
package smoke
