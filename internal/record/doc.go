// Package record converts DynamoDB Streams records, as Lambda delivers them,
// into the pipeline's JSON Lines format.
//
// The converter walks the raw event bytes once and appends output without
// building intermediate maps: number text is copied exactly as DynamoDB sent
// it (never through float64) and strings are copied with their original
// escapes, which keeps conversion fast and lossless. A payload that is not
// valid JSON is an event-level *SyntaxError; a record that is valid JSON but
// cannot be converted (unknown attribute type, missing field) is reported
// per record as a *ConversionError so the rest of the batch still flows.
package record

// Where things are, one concern per file:
//
//   - convert.go: the Converter, its options and the Record it hands over
//   - walk.go: walking the event, its Records and each record's envelope
//   - attribute.go: attribute values in the plain and dynamodb image formats
//   - line.go: the output line, its field names and their order
//   - arn.go, time.go: eventSourceARN and ApproximateCreationDateTime
//   - errors.go: the error types
//   - scan.go: JSON scanning and validation
