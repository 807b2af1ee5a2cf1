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
