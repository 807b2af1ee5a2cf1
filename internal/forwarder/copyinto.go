package forwarder

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ddbstream/pipeline/databricks/bundle"
	"github.com/ddbstream/pipeline/internal/record"
)

// The copy-into mode's table and statements. The mode keeps its name
// (DELIVERY_MODE=copy-into, which deployments set) but no longer runs COPY
// INTO: it runs the MERGE that LoadStatement builds.
//
// The table is the bundle's bronze change log minus what only Auto Loader
// can give: one column per field of a line, in the line's order and with
// bronze's types (databricks/bundle.LineColumns, itself generated from
// internal/record.Fields, the one definition), then sourceFile. keys is
// its exact JSON text rather than bronze's STRUCT of the key attributes,
// as the forwarder does not know them; the keys text is canonical (see
// internal/record), so it identifies the item as bronze's STRUCT does and
// databricks/sql/current_state.sql runs on the table unchanged
// (databricks/currentstate proves it in DuckDB).
//
// Exact text: each object is read by Spark's JSON file reader with the
// table's schema, as bronze is, and not by from_json. The file reader
// hands Jackson each line as a byte array, and a value read as STRING
// whose source is a byte array keeps its exact text (SPARK-48148, Apache
// Spark 4.0: JacksonParser copies the bytes between the value's start and
// end). from_json does not: it parses through CreateJacksonParser.utf8String,
// an InputStreamReader, so the exact branch never fires and objects and
// numbers are re-rendered by Jackson's copyCurrentStructure, through
// DOUBLE ("this PR doesn't address the same issue with from_json",
// sandip-db on https://github.com/apache/spark/pull/46408, 2024-07-12;
// sql/catalyst/.../json/JacksonParser.scala and CreateJacksonParser.scala).
// So the line is read with read_files(format => 'json', schema => ...)
// (https://docs.databricks.com/aws/en/sql/language-manual/functions/read_files),
// without multiLine or encoding, which would read through a Reader too.
// Nothing is inferred: an attribute that is a string in one object and a
// map in another is text either way.
//
// A line that does not fit fails the statement, and so the delivery,
// rather than load NULLs: mode FAILFAST fails on a line that is not JSON,
// and the rescued data column takes what the schema lacks or what has
// another type ("When used together with rescuedDataColumn, data type
// mismatches do not cause records to be dropped in DROPMALFORMED mode or
// throw an error in FAILFAST mode. Only corrupt records ... throw errors",
// https://docs.databricks.com/aws/en/query/formats/json), which the
// statement then turns into an error with raise_error
// (https://docs.databricks.com/aws/en/sql/language-manual/functions/raise_error),
// as it does a line without an eventID.
//
// Idempotent per object, as COPY INTO was by its own bookkeeping: MERGE
// inserts a line only if the table has no row with its sourceFile and
// eventID. An eventID is unique within an object: a stream object is one
// Lambda batch, each DynamoDB record once, and DynamoDB's eventID is
// unique; a snapshot line's is <export ID>/<data file>:<line>, and a
// backfill delete line's <export ID>/deletes:<n>, numbered within the one
// delete object (internal/record, internal/backfill). Why MERGE and not
// INSERT ... WHERE NOT EXISTS: both read the table, and "INSERT operations
// that contain subqueries reading the same table support the same
// concurrency as MERGE"
// (https://docs.databricks.com/aws/en/optimizations/isolation/row-level-concurrency),
// so neither is safer under concurrency; MERGE matches each line, so an
// object rewritten with more lines under the same key loses none. Two
// deliveries of one object at the same moment (a duplicated event) may
// both insert: a MERGE that only inserts modifies no existing row, and
// row-level concurrency reports conflicts only on modified rows
// (https://docs.databricks.com/aws/en/optimizations/isolation/row-level-concurrency);
// the lines are then in the table twice, byte for byte, with one
// sourceFile, which the fold rule and current_state.sql take as one line
// (databricks/currentstate TestCopyIntoConcurrentDuplicatesChangeNothing).
//
// The match also names the object's path as a literal, so that Delta can
// skip the table's files whose sourceFile statistics exclude it ("reduce
// the search space by adding known constraints in the match condition",
// https://docs.delta.io/latest/delta-update.html#performance-tuning) instead of reading the
// whole table for each object. That literal must be what
// _metadata.file_path says
// (https://docs.databricks.com/aws/en/ingestion/file-metadata-column), or
// no line would ever match and each delivery would load the object again;
// so the statement fails a line whose file path differs, and only keys
// whose characters a URI keeps as they are (LoadStatement) are taken.

// copyIntoTypes is the SQL type of each of bronze's types in the table.
// Keys is the keys object's exact JSON text.
var copyIntoTypes = map[bundle.Type]string{
	bundle.String:  "STRING",
	bundle.Keys:    "STRING",
	bundle.BigInt:  "BIGINT",
	bundle.Boolean: "BOOLEAN",
}

// CopyIntoColumn is one column of the table copy-into mode loads.
type CopyIntoColumn struct {
	// Name is the column's name, a field of the line or sourceFile.
	Name string
	// Type is its Databricks SQL type: STRING, BIGINT or BOOLEAN.
	Type string
}

// CopyIntoColumns returns the columns of the table copy-into mode loads:
// every field of a line, as bronze types it but keys as text, then
// sourceFile. An error means the bundle's types and the record format
// disagree, which the bundle's own tests catch first.
func CopyIntoColumns() ([]CopyIntoColumn, error) {
	lines, err := bundle.LineColumns()
	if err != nil {
		return nil, err
	}
	cols := make([]CopyIntoColumn, 0, len(lines)+1)
	for _, c := range lines {
		t, ok := copyIntoTypes[c.Type]
		if !ok {
			return nil, fmt.Errorf("line field %q has bronze type %q, which copy-into mode has no column type for", c.Name, c.Type)
		}
		cols = append(cols, CopyIntoColumn{c.Name, t})
	}
	return append(cols, CopyIntoColumn{bundle.SourceFile, "STRING"}), nil
}

// quoteName quotes a column name, so that names such as table, a reserved
// word, need no special case. Field names hold no backquote.
func quoteName(name string) string { return "`" + name + "`" }

// CreateTableStatement returns the statement that creates table with
// copy-into mode's columns unless it exists. IF NOT EXISTS: "If specified
// and a table with the same name already exists, the statement is
// ignored", and MERGE needs a Delta table
// (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-table-using.html).
// A table that exists keeps its own columns: one made otherwise (for
// example by an earlier COPY INTO with mergeSchema, with STRUCT images)
// makes the load fail, naming the table.
func CreateTableStatement(table string) (string, error) {
	cols, err := CopyIntoColumns()
	if err != nil {
		return "", err
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = quoteName(c.Name) + " " + c.Type
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s) USING DELTA COMMENT '%s'", table, strings.Join(defs, ", "),
		"DynamoDB stream change lines loaded by the ddbstream forwarder (copy-into mode): keys and images as their exact JSON text"), nil
}

// objectPath is what LoadStatement takes as a bucket and a key: the
// characters the pipeline's own keys use (internal/objectkey: letters,
// digits and -_.=/). The path goes into SQL string literals, where a
// quote or backslash would change it; into read_files, where *?[]{} are
// globs; and must equal _metadata.file_path, a URI, which would
// percent-encode a space, a % or a non-ASCII letter.
var objectPath = regexp.MustCompile(`^[A-Za-z0-9._=/-]+$`)

// LoadStatement returns the statement that loads the lines of
// s3://bucket/key into table, idempotently (see the comment at the top of
// this file):
//
//	MERGE INTO <table> AS t
//	USING (SELECT `eventID` checked, <the other line columns>, _metadata.file_path AS `sourceFile`
//	       FROM read_files('s3://bucket/key', format => 'json', schema => '<line columns and types>',
//	                       rescuedDataColumn => '_rescued_data', mode => 'FAILFAST', partitionColumns => '')) AS s
//	ON t.`sourceFile` = 's3://bucket/key' AND t.`sourceFile` = s.`sourceFile` AND t.`eventID` = s.`eventID`
//	WHEN NOT MATCHED THEN INSERT (<every column>) VALUES (s.<every column>)
//
// where eventID is checked by a CASE that raises an error for a line with
// rescued data, without an eventID, or read from another path. The insert
// names every column rather than INSERT *, which ignores "Columns in the
// source dataset not present in the target table": named, a column the
// table lacks fails the statement ("The columns that are the target of an
// UPDATE or INSERT action must exist in the target table",
// https://docs.databricks.com/aws/en/tables/schema-enforcement). A bucket
// or key with other characters than objectPath's is refused.
func LoadStatement(table, bucket, key string) (string, error) {
	if !objectPath.MatchString(bucket) || !objectPath.MatchString(key) {
		return "", fmt.Errorf("s3://%s/%s: copy-into mode takes only keys of letters, digits and -_.=/ "+
			"(the path is a SQL literal and a read_files path, and must equal _metadata.file_path)", bucket, key)
	}
	cols, err := CopyIntoColumns()
	if err != nil {
		return "", err
	}
	line := cols[:len(cols)-1] // the last is sourceFile, from the file
	path := "s3://" + bucket + "/" + key
	schema := make([]string, len(line))
	selects := make([]string, 0, len(cols))
	for i, c := range line {
		schema[i] = quoteName(c.Name) + " " + c.Type
		if c.Name != record.FieldEventID {
			selects = append(selects, quoteName(c.Name))
			continue
		}
		selects = append(selects, fmt.Sprintf("CASE WHEN %s IS NULL AND %s IS NOT NULL AND _metadata.file_path = '%s' THEN %s "+
			"ELSE raise_error(concat('a line of %s does not fit the record format: eventID ', coalesce(%s, 'missing'), "+
			"', rescued data ', coalesce(%s, 'none'), ', read from ', _metadata.file_path)) END AS %s",
			bundle.RescuedData, quoteName(c.Name), path, quoteName(c.Name),
			path, quoteName(c.Name), bundle.RescuedData, quoteName(c.Name)))
	}
	selects = append(selects, "_metadata.file_path AS "+quoteName(bundle.SourceFile))
	// partitionColumns '' turns off read_files' partition inference
	// ("Partition schema inference" on the read_files page): the key's
	// table=, dt= and hour= folders are the object layout, not columns,
	// and table= would otherwise stand for the line's own table field, as
	// bronze turns it off (cloudFiles.partitionColumns).
	source := fmt.Sprintf("read_files('%s', format => 'json', schema => '%s', rescuedDataColumn => '%s', mode => 'FAILFAST', partitionColumns => '')",
		path, strings.Join(schema, ", "), bundle.RescuedData)
	names, values := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		names[i], values[i] = quoteName(c.Name), "s."+quoteName(c.Name)
	}
	sf, id := quoteName(bundle.SourceFile), quoteName(record.FieldEventID)
	return fmt.Sprintf("MERGE INTO %s AS t USING (SELECT %s FROM %s) AS s ON t.%s = '%s' AND t.%s = s.%s AND t.%s = s.%s "+
		"WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)",
		table, strings.Join(selects, ", "), source, sf, path, sf, sf, id, id, strings.Join(names, ", "), strings.Join(values, ", ")), nil
}
