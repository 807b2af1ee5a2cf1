// Package record converts DynamoDB Streams records, as Lambda delivers them,
// into the pipeline's JSON Lines format.
//
// The converter walks the raw event bytes once and appends output without
// building intermediate maps: number text is copied exactly as DynamoDB sent
// it (never through float64) and string values are copied with their
// original escapes, which keeps conversion fast and lossless. Member names
// are read as JSON defines them, an escaped name being that name: the
// scanner notes whether a string holds an escape, and only a name that does
// takes the slow path that resolves it (attribute names are then written
// canonically, as keys are). A payload that is not valid JSON is an
// event-level *SyntaxError; a record that is valid JSON but cannot be
// converted (unknown attribute type, missing field, a number DynamoDB
// cannot hold, values nested deeper than the walk recurses) is reported per
// record as a *ConversionError so the rest of the batch still flows.
//
// The same converter and envelope turn a table export's items into
// snapshot lines (ConvertItem), so a backfill's lines have the stream
// lines' types. Every line carries an order key (internal/orderkey) that
// orders an item's stream and snapshot lines as a plain string, and keys
// written canonically, the same bytes for an item whether it came from the
// stream, an export or a Scan (AppendKeys).
package record

// Where things are, one concern per file:
//
//   - convert.go: the Converter, its options and the Record it hands over
//   - walk.go: walking the event, its Records and each record's envelope
//   - snapshot.go: table export items as snapshot lines; AppendImage
//   - keys.go: the canonical keys field, the key schema; AppendKeys
//   - attribute.go: attribute values in the plain and dynamodb image formats
//   - number.go: the numbers DynamoDB holds
//   - line.go: the output line, its field names and their order
//   - arn.go, time.go: eventSourceARN and ApproximateCreationDateTime
//   - errors.go: the error types
//   - scan.go: JSON scanning and validation
