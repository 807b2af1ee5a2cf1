//go:build cgo

package currentstate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/databricks/bundle"
	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
	"github.com/duckdb/duckdb-go/v2"
)

// The forwarder's copy-into mode makes its own table rather than the
// pipeline's bronze one (internal/forwarder, copyinto.go): the same line
// columns, but keys as its exact JSON text, and sourceFile. These tests
// create that table from the forwarder's own CREATE statement and load
// each object by running the forwarder's own MERGE for it in DuckDB,
// translated only mechanically (translateLoad): the read_files(...) call
// becomes a table holding what read_files yields, filled by readFiles
// from the call's own options; backquotes become double quotes; and
// raise_error is DuckDB's error. Then databricks/sql/current_state.sql,
// unchanged but for the mechanical change currentStateSQL makes, runs on
// the table, and every row is compared with internal/fold.
//
// The model of read_files is the one this package rests on (doc.go), as
// bronze's Auto Loader reads with the same JSON file reader: a value read
// as STRING is a string's text or any other value's exact JSON text
// (SPARK-48148, which the file reader has and from_json has not:
// https://github.com/apache/spark/pull/46408, sandip-db, 2024-07-12); a
// value of another type than its column's, and a field the schema lacks,
// go to the rescued data column
// (https://docs.databricks.com/aws/en/query/formats/json); a line that is
// not JSON fails the read in FAILFAST mode.

// readFilesOptions is what the forwarder's read_files call asks for.
type readFilesOptions struct {
	path     string
	fields   []string
	types    map[string]string
	rescued  string
	failFast bool
	// noPartitions: partitionColumns => '', no folder read as a column.
	noPartitions bool
	call         string // the call's text, to replace
	schemaTypes  []string
}

var (
	readFilesStart = regexp.MustCompile(`read_files\(`)
	readFilesPath  = regexp.MustCompile(`^'([^']*)'`)
	// readFilesOption is one named argument, name => 'value'.
	readFilesOption = regexp.MustCompile(`^\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*=>\s*'([^']*)'`)
	// schemaField is one field of the schema option.
	schemaField = regexp.MustCompile("^`([^`]+)` ([A-Z]+)$")
)

// loadStatement is the forwarder's statement for an object, into a table
// named bronze.
func loadStatement(t *testing.T, path string) string {
	t.Helper()
	bucket, key, ok := strings.Cut(strings.TrimPrefix(path, "s3://"), "/")
	if !ok {
		t.Fatalf("object path %q", path)
	}
	stmt, err := forwarder.LoadStatement("bronze", bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return stmt
}

// parseReadFiles reads the read_files call of the forwarder's statement.
// An option the model does not know fails the test: the model would not
// do what it asks.
func parseReadFiles(t *testing.T, stmt string) readFilesOptions {
	t.Helper()
	loc := readFilesStart.FindAllStringIndex(stmt, -1)
	if len(loc) != 1 {
		t.Fatalf("the statement reads with read_files %d times, expect once: %s", len(loc), stmt)
	}
	args := stmt[loc[0][1]:]
	o := readFilesOptions{types: map[string]string{}}
	p := readFilesPath.FindStringSubmatch(args)
	if p == nil {
		t.Fatalf("read_files has no path literal: %s", args)
	}
	o.path, args = p[1], args[len(p[0]):]
	for {
		m := readFilesOption.FindStringSubmatch(args)
		if m == nil {
			break
		}
		args = args[len(m[0]):]
		switch name, v := m[1], m[2]; name {
		case "format":
			if v != "json" {
				t.Fatalf("read_files format %q; the model reads json", v)
			}
		case "schema":
			for _, f := range strings.Split(v, ", ") {
				s := schemaField.FindStringSubmatch(f)
				if s == nil {
					t.Fatalf("read_files schema field %q", f)
				}
				o.fields = append(o.fields, s[1])
				o.types[s[1]] = s[2]
				o.schemaTypes = append(o.schemaTypes, s[2])
			}
		case "rescuedDataColumn":
			o.rescued = v
		case "partitionColumns":
			if v != "" {
				t.Fatalf("read_files partitionColumns %q; the model reads no folder as a column", v)
			}
			o.noPartitions = true
		case "mode":
			if v != "FAILFAST" {
				t.Fatalf("read_files mode %q; the model reads FAILFAST", v)
			}
			o.failFast = true
		default:
			t.Fatalf("read_files option %s => %q, which the model of the reader does not know", name, v)
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(args), ")") {
		t.Fatalf("read_files arguments not understood at %q", args)
	}
	if len(o.fields) == 0 || o.rescued == "" || !o.failFast || !o.noPartitions {
		t.Fatalf("read_files without a schema, a rescued data column, FAILFAST or partitionColumns => '': %+v", o)
	}
	o.call = stmt[loc[0][0] : len(stmt)-len(args)+strings.Index(args, ")")+1]
	return o
}

// readRow is one row read_files yields: the schema's fields, the rescued
// data (nil, or a JSON object of what was rescued) and the file's path.
type readRow struct {
	vals     []any
	rescued  any
	filePath string
}

// readFiles reads an object's lines as Spark's JSON file reader does with
// the options: each object gzipped and read back line by line, each line
// a row.
func readFiles(o readFilesOptions, path string, lines [][]byte) ([]readRow, error) {
	zr, err := gzip.NewReader(bytes.NewReader(foldtest.Gzip(lines)))
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	var rows []readRow
	for sc.Scan() {
		r, err := readJSONLine(o, sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r.filePath = path
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// readJSONLine reads one line: a line that is not a JSON object is an
// error (FAILFAST); a field of another type than its column's, or one
// the schema lacks, is rescued, and its column NULL.
func readJSONLine(o readFilesOptions, line []byte) (readRow, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil || fields == nil {
		return readRow{}, fmt.Errorf("malformed record in FAILFAST mode: %q", line)
	}
	rescued := map[string]json.RawMessage{}
	r := readRow{vals: make([]any, len(o.fields))}
	for i, f := range o.fields {
		raw, ok := fields[f]
		delete(fields, f)
		if !ok {
			continue
		}
		v, err := readValue(o.types[f], raw)
		if err != nil {
			rescued[f] = raw
			continue
		}
		r.vals[i] = v
	}
	for f, raw := range fields {
		rescued[f] = raw
	}
	if len(rescued) > 0 {
		b, err := json.Marshal(rescued)
		if err != nil {
			return readRow{}, err
		}
		r.rescued = string(b)
	}
	return r, nil
}

// readValue reads one value as its column's type; an error means the
// value does not fit it.
func readValue(typ string, raw json.RawMessage) (any, error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	switch typ {
	case "STRING":
		return sparkString(raw)
	case "BIGINT":
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var n any
		if err := dec.Decode(&n); err != nil {
			return nil, err
		}
		num, ok := n.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s is not a number", raw)
		}
		return num.Int64()
	case "BOOLEAN":
		var b any
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		v, ok := b.(bool)
		if !ok {
			return nil, fmt.Errorf("%s is not a boolean", raw)
		}
		return v, nil
	}
	return nil, fmt.Errorf("no reader for type %s", typ)
}

// duckType is DuckDB's type for a Databricks type of the schema.
var duckType = map[string]string{"STRING": "VARCHAR", "BIGINT": "BIGINT", "BOOLEAN": "BOOLEAN"}

// translateLoad is the forwarder's statement for DuckDB, changed only
// mechanically: the read_files call names the table that holds what it
// yields, and backquoted names are double-quoted. raise_error is a macro
// (raiseErrorMacro).
func translateLoad(stmt string, o readFilesOptions) string {
	return strings.ReplaceAll(strings.Replace(stmt, o.call, "read_files_result", 1), "`", `"`)
}

// raiseErrorMacro makes Databricks' raise_error(message) DuckDB's
// error(message): both fail the statement with the message.
const raiseErrorMacro = "CREATE OR REPLACE MACRO raise_error(m) AS error(m)"

// loadObject runs the forwarder's statement for one object in db: what
// read_files yields goes into table read_files_result (its schema's
// columns, the rescued data column and _metadata with file_path), and the
// translated MERGE loads bronze from it. An error is the statement's
// failure: the object is not loaded.
func loadObject(t *testing.T, db *sql.DB, o object) error {
	t.Helper()
	return loadObjectAs(t, db, o, o.path)
}

// loadObjectAs is loadObject with filePath as what _metadata.file_path
// says of the object.
func loadObjectAs(t *testing.T, db *sql.DB, o object, filePath string) error {
	t.Helper()
	stmt := loadStatement(t, o.path)
	opts := parseReadFiles(t, stmt)
	if opts.path != o.path {
		t.Fatalf("read_files reads %q, expect the object %q", opts.path, o.path)
	}
	rows, err := readFiles(opts, filePath, o.lines)
	if err != nil {
		return err
	}
	defs := make([]string, 0, len(opts.fields)+2)
	cols := make([]string, 0, len(opts.fields)+2)
	for i, f := range opts.fields {
		defs = append(defs, quote(f)+" "+duckType[opts.schemaTypes[i]])
		cols = append(cols, quote(f))
	}
	mustExec(t, db, "DROP TABLE IF EXISTS read_files_rows; DROP TABLE IF EXISTS read_files_result")
	mustExec(t, db, "CREATE TABLE read_files_rows ("+strings.Join(defs, ", ")+", "+quote(opts.rescued)+" VARCHAR, file_path VARCHAR)")
	var values [][]driver.Value
	for _, r := range rows {
		v := make([]driver.Value, 0, len(r.vals)+2)
		for _, x := range r.vals {
			v = append(v, x)
		}
		values = append(values, append(v, r.rescued, r.filePath))
	}
	appendRows(t, db, "read_files_rows", values)
	mustExec(t, db, "CREATE TABLE read_files_result AS SELECT "+strings.Join(cols, ", ")+", "+quote(opts.rescued)+
		", struct_pack(file_path := file_path) AS _metadata FROM read_files_rows")
	_, err = db.Exec(translateLoad(stmt, opts))
	return err
}

// appendRows appends rows to table through DuckDB's appender: a statement
// per row would cost a parse and a cgo round trip each.
func appendRows(t *testing.T, db *sql.DB, table string, rows [][]driver.Value) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // the database's one connection, needed by the next statement
	var app *duckdb.Appender
	if err := conn.Raw(func(c any) error {
		var err error
		app, err = duckdb.NewAppenderFromConn(c.(driver.Conn), "", table)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := app.AppendRow(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
}

// createCopyIntoTable runs the forwarder's CREATE TABLE for table bronze in
// db, translated mechanically for DuckDB: backquoted names double-quoted,
// and the clauses after the column list (USING DELTA, COMMENT), which only
// Databricks has, left out. It also makes the raise_error macro.
func createCopyIntoTable(t *testing.T, db *sql.DB) {
	t.Helper()
	ddl, err := forwarder.CreateTableStatement("bronze")
	if err != nil {
		t.Fatal(err)
	}
	end := strings.LastIndex(ddl, ") USING DELTA")
	if end < 0 {
		t.Fatalf("the CREATE TABLE has no USING DELTA after its columns: %s", ddl)
	}
	mustExec(t, db, "DROP TABLE IF EXISTS bronze")
	mustExec(t, db, strings.ReplaceAll(ddl[:end+1], "`", `"`))
	mustExec(t, db, raiseErrorMacro)
}

// loadCopyInto creates the forwarder's table as bronze and delivers the
// objects to it in order, each with the forwarder's statement.
func loadCopyInto(t *testing.T, db *sql.DB, objects []object) {
	t.Helper()
	createCopyIntoTable(t, db)
	for _, o := range objects {
		if err := loadObject(t, db, o); err != nil {
			t.Fatalf("load %s: %v", o.path, err)
		}
	}
}

// tableColumns lists the columns of table bronze in order, and the DuckDB
// type of each.
func tableColumns(t *testing.T, db *sql.DB) (names, types []string) {
	t.Helper()
	rows, err := db.Query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'bronze' ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		names, types = append(names, name), append(types, typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names, types
}

// tableText is every row of table bronze as text, sorted: what a
// comparison of two loads looks at.
func tableText(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT CAST(to_json(b) AS VARCHAR) AS r FROM bronze AS b ORDER BY r`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rekey turns the query's rows, whose keys are the keys text, into rows
// keyed as expected keys them (the keys STRUCT's canonical form), and
// requires each keys text to be exactly the keys field of a line: the
// item's identity, byte for byte.
func rekey(t *testing.T, got map[string]row, objects []object, format string) map[string]row {
	t.Helper()
	identities := map[string]bool{}
	for _, o := range objects {
		for _, line := range o.lines {
			p, err := fold.Parse(line)
			if err != nil {
				t.Fatal(err)
			}
			identities[string(p.Keys)] = true
		}
	}
	out := map[string]row{}
	for _, r := range got {
		var text string
		if err := json.Unmarshal([]byte(r.Keys), &text); err != nil {
			t.Fatalf("keys %s is not text: %v", r.Keys, err)
		}
		if !identities[text] {
			t.Errorf("keys %s is not the keys field of any line", text)
		}
		keys, err := readKeys(json.RawMessage(text), format)
		if err != nil {
			t.Fatal(err)
		}
		r.Keys = canonical(keys)
		out[r.Keys] = r
	}
	return out
}

// compareCopyInto runs current_state.sql on the loaded table, in both TTL
// modes, and requires the fold's rows.
func compareCopyInto(t *testing.T, db *sql.DB, objects []object, format string) {
	t.Helper()
	q := currentStateSQL(t)
	for _, mode := range []string{"apply", "flag"} {
		got, want := rekey(t, query(t, db, q, mode), objects, format), expected(t, objects, format, mode)
		for _, d := range diff(got, want) {
			t.Errorf("%s images, ttl_deletes=%s: %s", format, mode, d)
		}
		if len(want) == 0 {
			t.Errorf("%s, %s: nothing to compare", format, mode)
		}
	}
}

// checkCopyInto is check for the forwarder's table: current_state.sql on
// it, in both image formats and both TTL modes, yields the fold's rows.
func checkCopyInto(t *testing.T, build func(t *testing.T, f record.ImageFormat) []object) {
	t.Helper()
	db := openDB(t)
	for _, format := range []string{"plain", "dynamodb"} {
		objects := build(t, formats[format])
		loadCopyInto(t, db, objects)
		compareCopyInto(t, db, objects, format)
	}
}

// TestCopyIntoTableRandomLakes: current_state.sql runs on the forwarder's
// table and equals the fold on random lakes: every kind of change,
// duplicated objects, snapshots, TTL deletes.
func TestCopyIntoTableRandomLakes(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			checkCopyInto(t, func(t *testing.T, f record.ImageFormat) []object { return randomLake(t, f, seed) })
		})
	}
}

// TestCopyIntoTableExactValues: keys with escapes and other scripts, and
// numbers at DynamoDB's limits, come out of the forwarder's table as the
// exact text the line holds.
func TestCopyIntoTableExactValues(t *testing.T) {
	checkCopyInto(t, func(t *testing.T, f record.ImageFormat) []object {
		pk := "quote\" backslash\\ tab\t é 東京 \u2028"
		k := fmt.Sprintf(`{"pk":{"S":%s},"sk":{"N":"19.990"}}`, jsonString(pk))
		img := fmt.Sprintf(`{"pk":{"S":%s},"sk":{"N":"19.990"},"big":{"N":"9.9999999999999999999999999999999999999E+125"},"small":{"N":"-1E-130"},"digits":{"N":"12345678901234567890123456789012345678"},"m":{"M":{"l":{"L":[{"N":"0.000"},{"NULL":true}]}}}}`, jsonString(pk))
		return []object{{objectPath("s-1"), stream(t, f,
			foldtest.Change{Event: "INSERT", Keys: k, New: img, Seq: seq(40, 1), Created: t0},
			foldtest.Change{Event: "INSERT", Keys: keysOf("keys-only", "-0.5"), Seq: seq(40, 2), Created: t0, ViewType: "KEYS_ONLY"},
		)}}
	})
}

// TestCopyIntoTableAttributeChangesType: an attribute that is a string in
// one object and a map (or a number, a list) in another loads from every
// object, each image as its exact text, where schema inference with
// mergeSchema would type the column from the first object and fail the
// others on every retry. The item's newest image wins.
func TestCopyIntoTableAttributeChangesType(t *testing.T) {
	checkCopyInto(t, func(t *testing.T, f record.ImageFormat) []object {
		a, b := keysOf("a", "1"), keysOf("b", "2")
		asString := image("a", "1", `,"v":{"S":"text"}`)
		asMap := image("a", "1", `,"v":{"M":{"n":{"N":"1.50"},"s":{"S":"x"}}}`)
		asNumber := image("b", "2", `,"v":{"N":"9.9999999999999999999999999999999999999E+125"}`)
		asList := image("b", "2", `,"v":{"L":[{"S":"x"},{"N":"-0"}]}`)
		return []object{
			{objectPath("s-1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: a, New: asString, Seq: seq(21, 1), Created: t0},
				foldtest.Change{Event: "INSERT", Keys: b, New: asNumber, Seq: seq(21, 2), Created: t0},
			)},
			{objectPath("s-2"), stream(t, f,
				foldtest.Change{Event: "MODIFY", Keys: a, New: asMap, Old: asString, Seq: seq(21, 3), Created: t0.Add(time.Second)},
				foldtest.Change{Event: "MODIFY", Keys: b, New: asList, Old: asNumber, Seq: seq(21, 4), Created: t0.Add(time.Second)},
			)},
		}
	})
}

// TestCopyIntoRedeliveryLoadsNothingTwice: delivering every object of a
// lake again, in another order and some of them twice more, adds no row
// and changes none, and the current state still equals the fold; an
// object whose key first held fewer lines gets only the lines it lacks
// (its lines have distinct eventIDs, as a real object's do; randomLake's
// stream lines share one within an object, which the match on sourceFile
// covers all the same).
func TestCopyIntoRedeliveryLoadsNothingTwice(t *testing.T) {
	db := openDB(t)
	for _, format := range []string{"plain", "dynamodb"} {
		t.Run(format, func(t *testing.T) {
			objects := randomLake(t, formats[format], 11)
			loadCopyInto(t, db, objects)
			first := tableText(t, db)
			again := append([]object(nil), objects...)
			for i, j := 0, len(again)-1; i < j; i, j = i+1, j-1 {
				again[i], again[j] = again[j], again[i]
			}
			again = append(again, objects[:len(objects)/3]...)
			for _, o := range again {
				if err := loadObject(t, db, o); err != nil {
					t.Fatalf("load %s again: %v", o.path, err)
				}
			}
			if got := tableText(t, db); strings.Join(got, "\n") != strings.Join(first, "\n") {
				t.Errorf("redelivery: got %d rows, expect the first load's %d unchanged", len(got), len(first))
			}
			compareCopyInto(t, db, objects, format)

			// The same key, first with the first line, then with all.
			lines := stream(t, formats[format],
				foldtest.Change{Event: "INSERT", Keys: keysOf("grown", "1"), New: image("grown", "1", ""), Seq: seq(30, 1), Created: t0},
				foldtest.Change{Event: "MODIFY", Keys: keysOf("grown", "1"), New: image("grown", "1", `,"v":{"N":"2"}`), Old: image("grown", "1", ""), Seq: seq(30, 2), Created: t0},
			)
			grown := object{objectPath("grown"), lines}
			for _, o := range []object{{grown.path, lines[:1]}, grown, grown} {
				if err := loadObject(t, db, o); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(tableText(t, db)); got != len(first)+len(lines) {
				t.Errorf("an object that grew: got %d rows, expect %d (each of its lines once)", got, len(first)+len(lines))
			}
			compareCopyInto(t, db, append(objects, grown), format)
		})
	}
}

// TestCopyIntoBadLineFailsTheLoad: a line that does not fit the record
// format fails the object's statement, and so its delivery, and loads
// none of its lines, rather than NULLs: a field the schema lacks, a value
// of another type than its column's, a line that is not JSON, a line
// without eventID. The object's good lines are not loaded either, and the
// rows of other objects stay.
func TestCopyIntoBadLineFailsTheLoad(t *testing.T) {
	good := stream(t, record.Plain,
		foldtest.Change{Event: "INSERT", Keys: keysOf("a", "1"), New: image("a", "1", ""), Seq: seq(21, 1), Created: t0},
		foldtest.Change{Event: "INSERT", Keys: keysOf("b", "2"), New: image("b", "2", ""), Seq: seq(21, 2), Created: t0},
	)
	edit := func(re, repl string) []byte {
		return regexp.MustCompile(re).ReplaceAll(bytes.Clone(good[1]), []byte(repl))
	}
	tests := []struct {
		name        string
		line        []byte
		expectError string
	}{
		{"a field the schema lacks", edit(`\}$`, `,"extra":1}`), "rescued data"},
		{"a field in other case", edit(`"eventName"`, `"EventName"`), "rescued data"},
		{"sizeBytes as a string", edit(`"sizeBytes":\d+`, `"sizeBytes":"12"`), "rescued data"},
		{"sizeBytes with a fraction", edit(`"sizeBytes":\d+`, `"sizeBytes":1.5`), "rescued data"},
		{"ttlDelete as a string", edit(`"ttlDelete":false`, `"ttlDelete":"false"`), "rescued data"},
		{"no eventID", edit(`"eventID":"[^"]*",`, ``), "eventID missing"},
		{"not JSON", []byte(`{"eventID":`), "malformed record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			loadCopyInto(t, db, []object{{objectPath("first"), good}})
			before := tableText(t, db)
			err := loadObject(t, db, object{objectPath("bad"), [][]byte{good[0], tc.line}})
			if err == nil || !strings.Contains(err.Error(), tc.expectError) {
				t.Errorf("load: got %v, expect an error with %q", err, tc.expectError)
			}
			if got := tableText(t, db); strings.Join(got, "\n") != strings.Join(before, "\n") {
				t.Errorf("table after the failed load: got %d rows, expect the %d before", len(got), len(before))
			}
		})
	}
}

// TestCopyIntoOtherFilePathFailsTheLoad: the statement matches the
// table's rows by the object's path as a literal, so a _metadata.file_path
// that is not that literal (another scheme, percent-encoding) would match
// no row and load the object again on every delivery; instead it fails
// the load, naming the path it read.
func TestCopyIntoOtherFilePathFailsTheLoad(t *testing.T) {
	db := openDB(t)
	lines := stream(t, record.Plain, foldtest.Change{Event: "INSERT", Keys: keysOf("a", "1"), New: image("a", "1", ""), Seq: seq(21, 1), Created: t0})
	createCopyIntoTable(t, db)
	o := object{objectPath("s-1"), lines}
	other := strings.Replace(o.path, "s3://", "s3a://", 1)
	if err := loadObjectAs(t, db, o, other); err == nil || !strings.Contains(err.Error(), "read from "+other) {
		t.Errorf("load: got %v, expect an error naming %s", err, other)
	}
	if got := tableText(t, db); len(got) != 0 {
		t.Errorf("table: got %d rows, expect none", len(got))
	}
}

// TestCopyIntoTableIsTheForwarders: the table these tests load is the one
// the forwarder creates, column for column; its statement reads each line
// column with the table's type and inserts every column from the source's
// column of the same name, the object's path as sourceFile. A change of
// the CREATE TABLE or the MERGE that current_state.sql cannot run on
// fails these tests.
func TestCopyIntoTableIsTheForwarders(t *testing.T) {
	db := openDB(t)
	createCopyIntoTable(t, db)
	names, types := tableColumns(t, db)
	var got []string
	for i := range names {
		got = append(got, names[i]+" "+types[i])
	}
	cols, err := forwarder.CopyIntoColumns()
	if err != nil {
		t.Fatal(err)
	}
	var expect, inserted, values []string
	for _, c := range cols {
		expect = append(expect, c.Name+" "+duckType[c.Type])
		inserted, values = append(inserted, "`"+c.Name+"`"), append(values, "s.`"+c.Name+"`")
	}
	if strings.Join(got, ", ") != strings.Join(expect, ", ") {
		t.Errorf("table columns:\ngot    %s\nexpect %s", strings.Join(got, ", "), strings.Join(expect, ", "))
	}
	path := objectPath("s-1")
	stmt := loadStatement(t, path)
	o := parseReadFiles(t, stmt)
	for i, c := range cols[:len(cols)-1] {
		if i >= len(o.fields) || o.fields[i] != c.Name || o.types[c.Name] != c.Type {
			t.Errorf("read_files reads %v as %v; expect %s %s at %d", o.fields, o.schemaTypes, c.Name, c.Type, i)
		}
	}
	if o.rescued != bundle.RescuedData {
		t.Errorf("rescued data column %q, expect %q", o.rescued, bundle.RescuedData)
	}
	if !strings.Contains(stmt, "_metadata.file_path AS `"+bundle.SourceFile+"`") {
		t.Errorf("the statement does not take sourceFile from _metadata.file_path: %s", stmt)
	}
	if !strings.HasSuffix(stmt, "WHEN NOT MATCHED THEN INSERT ("+strings.Join(inserted, ", ")+") VALUES ("+strings.Join(values, ", ")+")") {
		t.Errorf("the statement does not insert every column from the source's: %s", stmt)
	}
	if !strings.Contains(stmt, "ON t.`sourceFile` = '"+path+"' AND t.`sourceFile` = s.`sourceFile` AND t.`eventID` = s.`eventID`") {
		t.Errorf("the statement does not match on the object's path, sourceFile and eventID: %s", stmt)
	}
}

// TestCopyIntoConcurrentDuplicatesChangeNothing: two deliveries of one
// object at the same moment may both insert its lines (an insert-only
// MERGE modifies no row, so row-level concurrency sees no conflict). The
// table then holds those lines twice, byte for byte with one sourceFile,
// and current_state.sql still yields the fold's rows.
func TestCopyIntoConcurrentDuplicatesChangeNothing(t *testing.T) {
	db := openDB(t)
	for _, format := range []string{"plain", "dynamodb"} {
		t.Run(format, func(t *testing.T) {
			objects := randomLake(t, formats[format], 17)
			loadCopyInto(t, db, objects)
			before := len(tableText(t, db))
			for _, o := range objects[:len(objects)/2+1] {
				mustExec(t, db, "INSERT INTO bronze SELECT * FROM bronze WHERE sourceFile = '"+o.path+"'")
			}
			if after := len(tableText(t, db)); after <= before {
				t.Fatalf("rows: %d before the duplicates, %d after", before, after)
			}
			compareCopyInto(t, db, objects, format)
		})
	}
}
