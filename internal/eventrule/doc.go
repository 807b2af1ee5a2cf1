// Package eventrule defines, once, the Amazon EventBridge rule that routes
// new data objects to the forwarder: S3 "Object Created" events on the
// default bus, for the pipeline bucket, whose key starts with the data
// prefix and ends in the data suffix.
//
// The CDK app deploys Pattern.Document as the rule's event pattern and the
// local pipeline evaluates the same document with Matches, so what reaches
// the forwarder locally is what would reach it in AWS. The filter lives in
// EventBridge rather than in an S3 notification configuration because S3
// compares notification filter values with URL-encoded keys: a prefix such
// as "cdc/table=" must be written "cdc/table%3D" there, and written plainly
// it silently never matches.
//
// Matches implements only the pattern operators this project uses (exact
// values, prefix, suffix, wildcard, nested objects). Any other operator is
// an error, so a pattern this package cannot evaluate faithfully is never
// taken for a match.
package eventrule
