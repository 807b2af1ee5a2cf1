// Package bundle is the Go side of the Databricks Asset Bundle in
// databricks/: the columns of the bronze change log and of the current
// state, derived here from the record format's one definition
// (internal/record.Fields), and the tests that prove offline what can be
// proven without a workspace: the bundle parses, every file it names
// exists, its pipeline and job decode strictly into the Databricks API's
// request types, and the pipeline's Python and the current-state SQL use
// exactly these columns.
//
// The Python pipeline cannot import Go, so ddbstream_settings.py carries a
// generated copy of these definitions between "BEGIN GENERATED" and "END
// GENERATED"; `go test ./databricks/bundle -update` rewrites it, and the
// test fails whenever the copy and this file differ.
package bundle

import (
	"fmt"
	"slices"

	"github.com/ddbstream/pipeline/internal/record"
)

// Type is how the pipeline reads one field of a line. The names are the
// ones ddbstream_settings.py maps to Spark types.
type Type string

// The types a line's fields are read as. Every JSON object (keys, images)
// is read as STRING: Spark's JSON file reader then keeps the object's exact
// text (SPARK-48148, Apache Spark 4.0), whereas reading it as a STRUCT
// would turn DynamoDB numbers into DOUBLE or DECIMAL and lose digits.
const (
	// String is the text of a string value, or the exact JSON text of any
	// other value.
	String Type = "string"
	// BigInt is a whole number that fits 64 bits (sizeBytes).
	BigInt Type = "bigint"
	// Boolean is true or false.
	Boolean Type = "boolean"
	// Timestamp is a point in time (only the source file's modification
	// time: the lines' own times are kept as the text they were written as).
	Timestamp Type = "timestamp"
	// Keys is a STRUCT with one STRING field per key attribute of the
	// table, so that the key attributes can be AUTO CDC's KEYS. With
	// IMAGE_FORMAT=dynamodb each field is itself a STRUCT of S, N and B.
	Keys Type = "keys"
)

// Column is one column of a table the bundle defines.
type Column struct {
	Name string
	Type Type
}

// lineTypes gives each field of a line its type. It must name exactly the
// fields of record.Fields(): LineColumns refuses anything else, so a field
// added to the format fails the tests until it is given a type here.
var lineTypes = map[string]Type{
	record.FieldEventID:   String,
	record.FieldEventName: String,
	record.FieldTable:     String,
	record.FieldKeys:      Keys,
	// The images' exact JSON text: DynamoDB numbers keep every digit.
	record.FieldNewImage: String,
	record.FieldOldImage: String,
	// 21 to 40 digits: no integer or DECIMAL(38) type holds it.
	record.FieldSequenceNumber: String,
	// RFC 3339 text as written (snapshot lines may carry fractions).
	record.FieldApproximateCreationDateTime: String,
	// 52 characters; string order is the item's change order.
	record.FieldOrderKey:       String,
	record.FieldSizeBytes:      BigInt,
	record.FieldStreamViewType: String,
	record.FieldTTLDelete:      Boolean,
}

// Columns the pipeline adds to the lines, and those of the current state.
const (
	// SourceFile is the object a line was read from (Auto Loader's
	// _metadata.file_path): it tells duplicates of a line apart, and
	// breaks ties between them, as their orderKey is the same.
	SourceFile = "sourceFile"
	// SourceModificationTime is that object's modification time
	// (_metadata.file_modification_time).
	SourceModificationTime = "sourceModificationTime"
	// RescuedData holds whatever a line had that the schema does not: the
	// pipeline fails on it rather than lose data.
	RescuedData = "_rescued_data"
	// Item is the item's current state as exact JSON text: the winning
	// line's newImage, or its oldImage for a TTL delete kept as a row.
	Item = "item"
	// TTLDeleted marks an item deleted by TTL and kept as a row
	// (ttl_deletes = flag).
	TTLDeleted = "ttlDeleted"
	// ApproximateCreationTimestamp is approximateCreationDateTime as a
	// TIMESTAMP (UTC, to the microsecond), for queries by time; the line's
	// own text stays in approximateCreationDateTime. NULL for a text no
	// timestamp can hold.
	ApproximateCreationTimestamp = "approximateCreationTimestamp"
)

// LineColumns returns the columns read from each line, one per field of
// record.Fields() and in the line's order, with the type each is read as.
// An error means lineTypes and the record format disagree.
func LineColumns() ([]Column, error) {
	fields := record.Fields()
	cols := make([]Column, 0, len(fields))
	for _, f := range fields {
		t, ok := lineTypes[f]
		if !ok {
			return nil, fmt.Errorf("line field %q has no bronze type in databricks/bundle", f)
		}
		cols = append(cols, Column{f, t})
	}
	for f := range lineTypes {
		if !slices.Contains(fields, f) {
			return nil, fmt.Errorf("bronze type given for %q, which is not a line field", f)
		}
	}
	return cols, nil
}

// BronzeColumns returns the bronze change log's columns: the line's, then
// the source file's path and modification time, then the rescued data.
func BronzeColumns() ([]Column, error) {
	cols, err := LineColumns()
	if err != nil {
		return nil, err
	}
	return append(cols, Column{SourceFile, String}, Column{SourceModificationTime, Timestamp}, Column{RescuedData, String}), nil
}

// CurrentStateColumns returns the columns of databricks/sql/current_state.sql,
// in order. The silver table has the same columns, except that keys is
// split into one column per key attribute (AUTO CDC's KEYS).
func CurrentStateColumns() []string {
	return []string{
		record.FieldKeys,
		Item,
		record.FieldEventName,
		record.FieldOrderKey,
		record.FieldApproximateCreationDateTime,
		ApproximateCreationTimestamp,
		TTLDeleted,
		SourceFile,
	}
}
