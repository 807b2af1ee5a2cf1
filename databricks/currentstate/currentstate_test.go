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
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/databricks/bundle"
	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
	"github.com/duckdb/duckdb-go/v2"
)

var formats = map[string]record.ImageFormat{"plain": record.Plain, "dynamodb": record.DynamoDB}

// keyNames are foldtest's key attributes, in the order the pipeline's
// tables setting gives them.
var keyNames = []string{foldtest.Keys.PartitionKey, foldtest.Keys.SortKey}

// object is one change object: its path and its lines.
type object struct {
	path  string
	lines [][]byte
}

func objectPath(name string) string {
	return "s3://ddbstream-bucket/cdc/table=" + foldtest.Table + "/dt=2026-11-23/hour=17/" + name + ".jsonl.gz"
}

// row is one row of the current state, comparable.
type row struct {
	Keys, EventName, OrderKey, Created, SourceFile string
	Item                                           *string
	TTLDeleted                                     bool
	// CreatedAt is approximateCreationTimestamp, RFC 3339 in UTC, or NULL.
	CreatedAt string
}

func (r row) String() string {
	item := "NULL"
	if r.Item != nil {
		item = *r.Item
	}
	return fmt.Sprintf("keys=%s item=%s eventName=%s orderKey=%s created=%s createdAt=%s ttlDeleted=%v sourceFile=%s",
		r.Keys, item, r.EventName, r.OrderKey, r.Created, r.CreatedAt, r.TTLDeleted, r.SourceFile)
}

// timestampText renders a TIMESTAMP as the tests compare it.
func timestampText(t sql.NullTime) string {
	if !t.Valid {
		return "NULL"
	}
	return t.Time.UTC().Format(time.RFC3339Nano)
}

// createdAt is what approximateCreationTimestamp holds for a line's
// approximateCreationDateTime: the instant, to the microsecond (a
// TIMESTAMP's precision in Spark and DuckDB alike), or NULL.
func createdAt(text string) string {
	ts, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return "NULL"
	}
	return ts.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// sparkString is what Spark's JSON file reader yields for a value read as
// STRING: a string's text, unescaped, or any other value's exact JSON text
// (SPARK-48148); null for null.
func sparkString(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("read string: %w", err)
		}
		return s, nil
	}
	return string(raw), nil
}

// readKeys reads a keys object as the pipeline's keys STRUCT: per key
// attribute a STRING (plain), or a STRUCT of S, N and B (dynamodb).
func readKeys(raw json.RawMessage, format string) (map[string]any, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	out := map[string]any{}
	for _, k := range keyNames {
		if format == "plain" {
			v, err := sparkString(attrs[k])
			if err != nil {
				return nil, err
			}
			out[k] = v
			continue
		}
		var typed map[string]json.RawMessage
		if err := json.Unmarshal(attrs[k], &typed); err != nil {
			return nil, fmt.Errorf("read typed key: %w", err)
		}
		t := map[string]any{}
		for _, name := range []string{"S", "N", "B"} {
			v, err := sparkString(typed[name])
			if err != nil {
				return nil, err
			}
			t[name] = v
		}
		out[k] = t
	}
	if len(attrs) != len(keyNames) {
		return nil, fmt.Errorf("keys %s: want attributes %v (the pipeline would rescue the others and fail)", raw, keyNames)
	}
	return out, nil
}

// canonical is a keys STRUCT as comparable text.
func canonical(keys any) string {
	b, err := json.Marshal(keys)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readLine reads one line with the bronze schema, as Auto Loader would:
// one value per line column, in bundle.LineColumns order. A field the
// schema lacks is an error: the pipeline rescues it and fails the update.
func readLine(line []byte, format string) ([]any, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("read line: %w", err)
	}
	cols, err := bundle.LineColumns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, 0, len(cols))
	for _, c := range cols {
		raw, ok := fields[c.Name]
		delete(fields, c.Name)
		if !ok {
			vals = append(vals, nil)
			continue
		}
		var v any
		switch c.Type {
		case bundle.String:
			v, err = sparkString(raw)
		case bundle.BigInt:
			var n json.Number
			if err = json.Unmarshal(raw, &n); err == nil {
				v, err = n.Int64()
			}
		case bundle.Boolean:
			var b bool
			err = json.Unmarshal(raw, &b)
			v = b
		case bundle.Keys:
			v, err = readKeys(raw, format)
		default:
			err = fmt.Errorf("no reader for type %s", c.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		vals = append(vals, v)
	}
	if len(fields) > 0 {
		return nil, fmt.Errorf("line has fields the bronze schema lacks: %v", fields)
	}
	return vals, nil
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

var duckTypes = map[bundle.Type]string{bundle.String: "VARCHAR", bundle.BigInt: "BIGINT", bundle.Boolean: "BOOLEAN", bundle.Timestamp: "TIMESTAMP"}

// loadBronze creates table bronze in db from the objects, each one
// gzipped and read back line by line as Auto Loader reads an object.
func loadBronze(t *testing.T, db *sql.DB, objects []object, format string) {
	t.Helper()
	cols, err := bundle.BronzeColumns()
	if err != nil {
		t.Fatal(err)
	}
	// Staging: scalar columns only; keys become one column per attribute
	// (and per DynamoDB type), packed into a STRUCT afterwards.
	var defs, selects []string
	for _, c := range cols {
		if c.Type != bundle.Keys {
			defs = append(defs, quote(c.Name)+" "+duckTypes[c.Type])
			selects = append(selects, quote(c.Name))
			continue
		}
		var packs []string
		for i, k := range keyNames {
			if format == "plain" {
				n := fmt.Sprintf("k%d", i)
				defs = append(defs, n+" VARCHAR")
				packs = append(packs, quote(k)+" := "+n)
				continue
			}
			var typed []string
			for _, ty := range []string{"S", "N", "B"} {
				n := fmt.Sprintf("k%d%s", i, ty)
				defs = append(defs, n+" VARCHAR")
				typed = append(typed, ty+" := "+n)
			}
			packs = append(packs, quote(k)+" := struct_pack("+strings.Join(typed, ", ")+")")
		}
		selects = append(selects, "struct_pack("+strings.Join(packs, ", ")+") AS "+quote(c.Name))
	}
	mustExec(t, db, "DROP TABLE IF EXISTS staging; DROP TABLE IF EXISTS bronze")
	mustExec(t, db, "CREATE TABLE staging ("+strings.Join(defs, ", ")+")")
	// Rows go through DuckDB's appender: a statement per row would cost a
	// parse and a cgo round trip each.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var app *duckdb.Appender
	if err := conn.Raw(func(c any) error {
		var err error
		app, err = duckdb.NewAppenderFromConn(c.(driver.Conn), "", "staging")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var row []driver.Value
	modified := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	for _, o := range objects {
		zr, err := gzip.NewReader(bytes.NewReader(foldtest.Gzip(o.lines)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			vals, err := readLine(sc.Bytes(), format)
			if err != nil {
				t.Fatalf("%s: %v", o.path, err)
			}
			for i, c := range cols {
				switch {
				case c.Name == bundle.SourceFile:
					row = append(row, o.path)
				case c.Name == bundle.SourceModificationTime:
					row = append(row, modified)
				case c.Name == bundle.RescuedData:
					row = append(row, nil)
				case c.Type == bundle.Keys:
					keys := vals[i].(map[string]any)
					for _, k := range keyNames {
						if format == "plain" {
							row = append(row, keys[k])
							continue
						}
						typed := keys[k].(map[string]any)
						for _, ty := range []string{"S", "N", "B"} {
							row = append(row, typed[ty])
						}
					}
				default:
					row = append(row, vals[i])
				}
			}
			if err := app.AppendRow(row...); err != nil {
				t.Fatal(err)
			}
			row = row[:0]
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil { // the database's one connection
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE bronze AS SELECT "+strings.Join(selects, ", ")+" FROM staging")
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// currentStateSQL is databricks/sql/current_state.sql with its one
// mechanical change for DuckDB: IDENTIFIER(:bronze_table) names the test's
// table, and Databricks' :name parameter markers become DuckDB's $name.
func currentStateSQL(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sql", "current_state.sql"))
	if err != nil {
		t.Fatal(err)
	}
	q := regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(string(b), "")
	if n := strings.Count(q, "IDENTIFIER(:bronze_table)"); n != 1 {
		t.Fatalf("current_state.sql reads IDENTIFIER(:bronze_table) %d times, want once", n)
	}
	q = strings.Replace(q, "IDENTIFIER(:bronze_table)", "bronze", 1)
	return regexp.MustCompile(`:([a-z_]+)\b`).ReplaceAllString(q, "$$$1")
}

// query runs q on the loaded bronze table and returns its rows by keys.
func query(t *testing.T, db *sql.DB, q, ttlDeletes string) map[string]row {
	t.Helper()
	rows, err := db.Query(q, sql.Named("ttl_deletes", ttlDeletes))
	if err != nil {
		t.Fatalf("current_state.sql: %v", err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, bundle.CurrentStateColumns()) {
		t.Fatalf("current_state.sql yields %v, want %v", names, bundle.CurrentStateColumns())
	}
	out := map[string]row{}
	for rows.Next() {
		var keys any
		var item sql.NullString
		var at sql.NullTime
		var r row
		if err := rows.Scan(&keys, &item, &r.EventName, &r.OrderKey, &r.Created, &at, &r.TTLDeleted, &r.SourceFile); err != nil {
			t.Fatal(err)
		}
		r.Keys, r.CreatedAt = canonical(keys), timestampText(at)
		if item.Valid {
			r.Item = &item.String
		}
		if _, dup := out[r.Keys]; dup {
			t.Errorf("two rows for keys %s", r.Keys)
		}
		out[r.Keys] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lineFacts is what the expectation needs of a winning line beyond the
// fold's state.
type lineFacts struct {
	eventName, created string
	ttlDelete          bool
	oldImage           *string
	paths              []string
}

// imageLine is one line as the flag mode's last image sees it: its rank
// (orderKey, then object), whether it deletes the item for good (a REMOVE
// not made by TTL), and its image (a REMOVE's oldImage, any other line's
// newImage; nil for none).
type imageLine struct {
	orderKey, path string
	deletes        bool
	image          *string
}

// lastImage is the item with ttl_deletes = flag, as AUTO CDC keeps it with
// ignore_null_updates_column_list = [item] applying the lines in rank
// order: the newest image among the lines after the newest deleting
// REMOVE (nil if none has one). Only asked of items whose winner is not
// a deleting REMOVE.
func lastImage(lines []imageLine) *string {
	slices.SortFunc(lines, func(a, b imageLine) int {
		if c := strings.Compare(a.orderKey, b.orderKey); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	var last *string
	for _, l := range lines {
		if l.deletes {
			last = nil
			continue
		}
		if l.image != nil {
			last = l.image
		}
	}
	return last
}

// expected folds the objects' lines with internal/fold and renders the
// result as current_state.sql's rows: a present item with its newImage,
// an item of unknown state with a NULL item, an absent one not at all,
// except, with ttlDeletes "flag", one a TTL delete removed, kept. With
// "flag", a present, unknown or TTL-deleted item shows its last image
// (lastImage). Conflicts (never written by the pipeline) fail the test.
func expected(t *testing.T, objects []object, format, ttlDeletes string) map[string]row {
	t.Helper()
	var all [][]byte
	facts := map[string]*lineFacts{}
	images := map[string][]imageLine{}
	for _, o := range objects {
		for _, l := range o.lines {
			all = append(all, l)
			p, err := fold.Parse(l)
			if err != nil {
				t.Fatal(err)
			}
			var f struct {
				EventName string          `json:"eventName"`
				Created   string          `json:"approximateCreationDateTime"`
				TTLDelete bool            `json:"ttlDelete"`
				OldImage  json.RawMessage `json:"oldImage"`
				NewImage  json.RawMessage `json:"newImage"`
			}
			if err := json.Unmarshal(l, &f); err != nil {
				t.Fatal(err)
			}
			id := string(p.Keys) + "\x00" + string(p.OrderKey)
			lf := facts[id]
			if lf == nil {
				lf = &lineFacts{eventName: f.EventName, created: f.Created, ttlDelete: f.TTLDelete}
				if f.OldImage != nil {
					s := string(f.OldImage)
					lf.oldImage = &s
				}
				facts[id] = lf
			}
			lf.paths = append(lf.paths, o.path)
			il := imageLine{orderKey: string(p.OrderKey), path: o.path, deletes: f.EventName == "REMOVE" && !f.TTLDelete}
			img := f.NewImage
			if f.EventName == "REMOVE" {
				img = f.OldImage
			}
			if img != nil {
				s := string(img)
				il.image = &s
			}
			images[string(p.Keys)] = append(images[string(p.Keys)], il)
		}
	}
	tbl, err := fold.Lines(all)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	err = tbl.Each(func(st fold.State) error {
		keys, err := readKeys(json.RawMessage(st.Keys), format)
		if err != nil {
			return err
		}
		lf := facts[st.Keys+"\x00"+string(st.OrderKey)]
		r := row{Keys: canonical(keys), EventName: lf.eventName, OrderKey: string(st.OrderKey), Created: lf.created, CreatedAt: createdAt(lf.created), SourceFile: slices.Max(lf.paths)}
		switch st.Status {
		case fold.StatusPresent:
			img := string(st.Image)
			r.Item = &img
		case fold.StatusUnknown:
		case fold.StatusAbsent:
			if ttlDeletes != "flag" || !lf.ttlDelete {
				return nil
			}
			r.Item, r.TTLDeleted = lf.oldImage, true
		default:
			return fmt.Errorf("item %s: fold status %s", st.Keys, st.Status)
		}
		if ttlDeletes == "flag" {
			r.Item = lastImage(images[st.Keys])
		}
		out[r.Keys] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diff lists the differences between the query's rows and the fold's.
func diff(got, want map[string]row) []string {
	var d []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			d = append(d, "missing: "+w.String())
		case g.String() != w.String():
			d = append(d, "query: "+g.String()+"\n    fold:  "+w.String())
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "extra: "+g.String())
		}
	}
	sort.Strings(d)
	return d
}

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one in-memory database
	t.Cleanup(func() { db.Close() })
	return db
}

// check runs current_state.sql on the objects, in both image formats and
// both TTL modes, and requires the fold's rows. build makes the objects
// in a given format.
func check(t *testing.T, build func(t *testing.T, f record.ImageFormat) []object) {
	t.Helper()
	db := openDB(t)
	q := currentStateSQL(t)
	for _, format := range []string{"plain", "dynamodb"} {
		objects := build(t, formats[format])
		loadBronze(t, db, objects, format)
		for _, mode := range []string{"apply", "flag"} {
			got, want := query(t, db, q, mode), expected(t, objects, format, mode)
			for _, d := range diff(got, want) {
				t.Errorf("%s images, ttl_deletes=%s: %s", format, mode, d)
			}
			if len(want) == 0 {
				t.Errorf("%s, %s: nothing to compare", format, mode)
			}
			kinds := map[string]int{}
			for _, w := range want {
				k := w.EventName
				if w.Item == nil {
					k += "(no item)"
				}
				kinds[k]++
			}
			t.Logf("%s images, ttl_deletes=%s: %d objects, %d rows equal, winners %v", format, mode, len(objects), len(want), kinds)
		}
	}
}

var t0 = time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)

func keysOf(pk string, sk string) string {
	return fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":%q}}`, pk, sk)
}

func image(pk, sk, extra string) string {
	return fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":%q}%s}`, pk, sk, extra)
}

func stream(t *testing.T, f record.ImageFormat, changes ...foldtest.Change) [][]byte {
	t.Helper()
	lines, err := foldtest.StreamLines(f, changes...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func snapshot(t *testing.T, f record.ImageFormat, exportTime time.Time, items ...string) [][]byte {
	t.Helper()
	lines, err := foldtest.SnapshotLines(f, exportTime, items...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// ttlRemove makes the line of a REMOVE by DynamoDB's TTL service with the
// real converter (foldtest's changes carry no userIdentity), from a
// NEW_AND_OLD_IMAGES stream.
func ttlRemove(t *testing.T, f record.ImageFormat, keys, old, seq string, created time.Time) []byte {
	t.Helper()
	return ttlRemoveView(t, f, "NEW_AND_OLD_IMAGES", keys, old, seq, created)
}

func seq(digits int, n uint64) string { return foldtest.Seq(digits, n) }

// TestSequenceNumbersOfDifferentLengths: 21- and 40-digit sequence
// numbers, as across a shard split, order by number, not as strings.
func TestSequenceNumbersOfDifferentLengths(t *testing.T) {
	short, long := "9"+strings.Repeat("0", 20), "1"+strings.Repeat("0", 38)+"1"
	if len(short) != 21 || len(long) != 40 || short < long {
		t.Fatal("the fixture must order differently as strings than as numbers")
	}
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		a, b, c := keysOf("a", "1"), keysOf("b", "2"), keysOf("c", "3")
		return []object{
			// Newer (40 digits) in the earlier object, older (21) in the later one.
			{objectPath("o2"), stream(t, f, foldtest.Change{Event: "MODIFY", Keys: a, New: image("a", "1", `,"v":{"S":"new"}`), Seq: long, Created: t0})},
			{objectPath("o1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: a, New: image("a", "1", `,"v":{"S":"old"}`), Seq: short, Created: t0},
				// A newer second wins whatever the digits.
				foldtest.Change{Event: "INSERT", Keys: b, New: image("b", "2", `,"v":{"S":"old"}`), Seq: long, Created: t0},
				foldtest.Change{Event: "MODIFY", Keys: b, New: image("b", "2", `,"v":{"S":"new"}`), Seq: short, Created: t0.Add(time.Second)},
				// Every length from 21 to 40 digits in order.
				foldtest.Change{Event: "INSERT", Keys: c, New: image("c", "3", `,"d":{"N":"21"}`), Seq: seq(21, 5), Created: t0},
			)},
			{objectPath("o3"), stream(t, f, func() []foldtest.Change {
				var cs []foldtest.Change
				for d := 22; d <= 40; d++ {
					cs = append(cs, foldtest.Change{Event: "MODIFY", Keys: c, New: image("c", "3", fmt.Sprintf(`,"d":{"N":"%d"}`, d)), Seq: seq(d, 1), Created: t0})
				}
				return cs
			}()...)},
		}
	})
}

// TestDeleteThenReinsert: a REMOVE removes the item; an INSERT after it
// brings it back, whatever order the objects come in.
func TestDeleteThenReinsert(t *testing.T) {
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		a, b := keysOf("a", "1"), keysOf("b", "2")
		va, vb := image("a", "1", `,"v":{"N":"1"}`), image("a", "1", `,"v":{"N":"2"}`)
		return []object{
			{objectPath("o3"), stream(t, f, foldtest.Change{Event: "INSERT", Keys: a, New: vb, Seq: seq(21, 3), Created: t0.Add(2 * time.Second)})},
			{objectPath("o1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: a, New: va, Seq: seq(21, 1), Created: t0},
				foldtest.Change{Event: "INSERT", Keys: b, New: image("b", "2", ""), Seq: seq(21, 1), Created: t0},
			)},
			{objectPath("o2"), stream(t, f,
				foldtest.Change{Event: "REMOVE", Keys: a, Old: va, Seq: seq(21, 2), Created: t0.Add(time.Second)},
				foldtest.Change{Event: "REMOVE", Keys: b, Old: image("b", "2", ""), Seq: seq(21, 2), Created: t0.Add(time.Second)},
			)},
		}
	})
}

// TestSnapshotRacingStream: a snapshot row ranks at its export time less
// five minutes. A stream record created from then on wins over it (even a
// REMOVE); one created earlier loses to it, so the snapshot repairs the
// item. Both sides of the margin, and exactly on it.
func TestSnapshotRacingStream(t *testing.T) {
	export := t0.Add(time.Hour)
	inside, outside, on := export.Add(-4*time.Minute), export.Add(-6*time.Minute), export.Add(-orderkey.SnapshotMargin)
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		snap := func(pk, sk string) string { return image(pk, sk, `,"v":{"S":"snapshot"}`) }
		upd := func(pk, sk string) string { return image(pk, sk, `,"v":{"S":"stream"}`) }
		var items []string
		for i, pk := range []string{"modified-inside", "modified-outside", "removed-inside", "removed-outside", "removed-on", "modified-on"} {
			items = append(items, snap(pk, fmt.Sprint(i)))
		}
		return []object{
			{objectPath("snapshot-01234567890123-a1b2c3d4-data"), snapshot(t, f, export, items...)},
			{objectPath("stream"), stream(t, f,
				foldtest.Change{Event: "MODIFY", Keys: keysOf("modified-inside", "0"), New: upd("modified-inside", "0"), Seq: seq(30, 1), Created: inside},
				foldtest.Change{Event: "MODIFY", Keys: keysOf("modified-outside", "1"), New: upd("modified-outside", "1"), Seq: seq(30, 1), Created: outside},
				foldtest.Change{Event: "REMOVE", Keys: keysOf("removed-inside", "2"), Old: snap("removed-inside", "2"), Seq: seq(30, 1), Created: inside},
				foldtest.Change{Event: "REMOVE", Keys: keysOf("removed-outside", "3"), Old: snap("removed-outside", "3"), Seq: seq(30, 1), Created: outside},
				foldtest.Change{Event: "REMOVE", Keys: keysOf("removed-on", "4"), Old: snap("removed-on", "4"), Seq: seq(30, 1), Created: on},
				foldtest.Change{Event: "MODIFY", Keys: keysOf("modified-on", "5"), New: upd("modified-on", "5"), Seq: seq(30, 1), Created: on},
				foldtest.Change{Event: "INSERT", Keys: keysOf("after", "6"), New: upd("after", "6"), Seq: seq(30, 2), Created: export.Add(time.Minute)},
			)},
		}
	})
}

// TestDuplicateObjects: the same lines in two objects (a bisected retry,
// README "Delivery guarantees"), whole and in part, change nothing.
func TestDuplicateObjects(t *testing.T) {
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		a, b := keysOf("a", "1"), keysOf("b", "2")
		lines := stream(t, f,
			foldtest.Change{Event: "INSERT", Keys: a, New: image("a", "1", ""), Seq: seq(21, 1), Created: t0},
			foldtest.Change{Event: "INSERT", Keys: b, New: image("b", "2", ""), Seq: seq(21, 2), Created: t0},
			foldtest.Change{Event: "MODIFY", Keys: a, New: image("a", "1", `,"x":{"BOOL":true}`), Seq: seq(21, 3), Created: t0},
			foldtest.Change{Event: "REMOVE", Keys: b, Old: image("b", "2", ""), Seq: seq(21, 4), Created: t0},
		)
		return []object{
			{objectPath("s-1-4"), lines},
			{objectPath("s-1-2"), lines[:2]},
			{objectPath("s-3-4"), lines[2:]},
			{objectPath("s-1-4-again"), lines},
		}
	})
}

// TestTTLDeletes: with ttl_deletes=apply a TTL delete removes the item;
// with flag it stays, with its last image and ttlDeleted. A user's REMOVE
// removes it either way, and an INSERT after a TTL delete brings it back.
func TestTTLDeletes(t *testing.T) {
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		expired, removed, back := keysOf("expired", "1"), keysOf("removed", "2"), keysOf("back", "3")
		old := image("expired", "1", `,"ttl":{"N":"1795453445"}`)
		return []object{
			{objectPath("s-1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: expired, New: old, Seq: seq(25, 1), Created: t0},
				foldtest.Change{Event: "INSERT", Keys: removed, New: image("removed", "2", ""), Seq: seq(25, 2), Created: t0},
				foldtest.Change{Event: "REMOVE", Keys: removed, Old: image("removed", "2", ""), Seq: seq(25, 3), Created: t0},
				foldtest.Change{Event: "INSERT", Keys: back, New: image("back", "3", ""), Seq: seq(25, 4), Created: t0},
			)},
			{objectPath("s-2"), [][]byte{
				ttlRemove(t, f, expired, old, seq(25, 5), t0.Add(time.Hour)),
				ttlRemove(t, f, back, image("back", "3", ""), seq(25, 6), t0.Add(time.Hour)),
			}},
			{objectPath("s-3"), stream(t, f, foldtest.Change{Event: "INSERT", Keys: back, New: image("back", "3", `,"again":{"BOOL":true}`), Seq: seq(25, 7), Created: t0.Add(2 * time.Hour)})},
		}
	})
}

// TestExactValues: keys with escapes and other scripts, and numbers at
// DynamoDB's limits, come out as the exact text the line holds; a
// KEYS_ONLY stream's item is there, its state unknown (NULL).
func TestExactValues(t *testing.T) {
	check(t, func(t *testing.T, f record.ImageFormat) []object {
		pk := "quote\" backslash\\ tab\t é 東京 \u2028"
		k := fmt.Sprintf(`{"pk":{"S":%s},"sk":{"N":"19.990"}}`, jsonString(pk))
		img := fmt.Sprintf(`{"pk":{"S":%s},"sk":{"N":"19.990"},"big":{"N":"9.9999999999999999999999999999999999999E+125"},"small":{"N":"-1.2345678901234567890123456789012345678E-130"},"zero":{"N":"-0"},"digits":{"N":"12345678901234567890123456789012345678"},"set":{"NS":["1.10","2E+5"]},"m":{"M":{"l":{"L":[{"N":"0.000"},{"NULL":true},{"B":"AAEC"}]}}}}`, jsonString(pk))
		return []object{
			{objectPath("s-1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: k, New: img, Seq: seq(40, 1), Created: t0},
				foldtest.Change{Event: "INSERT", Keys: keysOf("keys-only", "-0.5"), Seq: seq(40, 2), Created: t0, ViewType: "KEYS_ONLY"},
			)},
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// randomLake makes a lake of many items with random histories: inserts,
// modifications, REMOVEs by users and by TTL, delete and re-insert,
// sequence numbers growing from 21 to 40 digits, a snapshot in the middle,
// objects of random sizes, some duplicated, all in a random order.
func randomLake(t *testing.T, f record.ImageFormat, seed uint64) []object {
	r := rand.New(rand.NewPCG(seed, 0))
	type event struct {
		at   time.Time
		line []byte
	}
	var events []event
	// Histories start in the first hour and go on for up to three; the
	// export is taken an hour in, so that snapshot rows win for some items
	// and lose to stream records for others.
	export := t0.Add(time.Hour)
	var snapItems []string
	for i := range 300 {
		pk, sk := fmt.Sprintf("item-%d", i), fmt.Sprint(r.IntN(1000))
		k := keysOf(pk, sk)
		at := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
		digits, n := 21, uint64(1)
		exists, img := false, ""
		exported := false
		viewType := ""
		if i%50 == 0 {
			viewType = "KEYS_ONLY"
		}
		var atExport string // the item at the export time, if it exists then
		for range 1 + r.IntN(12) {
			if r.IntN(4) > 0 { // else within the same second: the sequence number decides
				at = at.Add(time.Duration(1+r.IntN(900)) * time.Second)
			}
			if r.IntN(4) == 0 && digits < 40 {
				digits += 1 + r.IntN(40-digits)
			}
			n++
			s := seq(digits, n)
			if at.After(export) && !exported {
				exported = true
				if exists {
					atExport = img
				}
			}
			c := foldtest.Change{Keys: k, Seq: s, Created: at, ViewType: viewType}
			switch {
			case !exists:
				img = image(pk, sk, fmt.Sprintf(`,"v":{"N":"%d.%03d"},"big":{"N":"%dE+%d"}`, r.IntN(1e6), r.IntN(1000), 1+r.IntN(9), r.IntN(126)))
				c.Event, c.New, exists = "INSERT", img, true
			case r.IntN(4) == 0 && viewType == "":
				exists = false
				if r.IntN(2) == 0 {
					events = append(events, event{at, ttlRemove(t, f, k, img, s, at)})
					continue
				}
				c.Event, c.Old = "REMOVE", img
			default:
				old := img
				img = image(pk, sk, fmt.Sprintf(`,"v":{"N":"%d"},"s":{"S":"%x"}`, r.IntN(1e6), r.Uint64()))
				c.Event, c.New, c.Old = "MODIFY", img, old
			}
			if viewType == "KEYS_ONLY" {
				c.New, c.Old = "", ""
			}
			events = append(events, event{at, stream(t, f, c)[0]})
		}
		if !exported && exists {
			atExport = img
		}
		if atExport != "" && viewType == "" {
			snapItems = append(snapItems, atExport)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	var objects []object
	for i := 0; i < len(events); {
		size := 1 + r.IntN(40)
		var lines [][]byte
		for ; i < len(events) && len(lines) < size; i++ {
			lines = append(lines, events[i].line)
		}
		objects = append(objects, object{objectPath(fmt.Sprintf("stream-%05d", len(objects))), lines})
		if r.IntN(10) == 0 {
			lo := r.IntN(len(lines))
			objects = append(objects, object{objectPath(fmt.Sprintf("stream-%05d-retry", len(objects))), lines[lo:]})
		}
	}
	half := len(snapItems) / 2
	objects = append(objects,
		object{objectPath("snapshot-a"), snapshot(t, f, export, snapItems[:half]...)},
		object{objectPath("snapshot-b"), snapshot(t, f, export, snapItems[half:]...)})
	r.Shuffle(len(objects), func(i, j int) { objects[i], objects[j] = objects[j], objects[i] })
	return objects
}

// TestRandomLakes compares the query with the fold on random lakes.
func TestRandomLakes(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			check(t, func(t *testing.T, f record.ImageFormat) []object { return randomLake(t, f, seed) })
		})
	}
}

// mutationLake is a random lake with the cases each rule of the query
// exists for: an item whose only line is a TTL delete (its old image is
// all there is), one deleted then recreated by a line without an image,
// one TTL-deleted from a NEW_IMAGE stream (no old image), and a line with a broken order key that would otherwise win for an
// item. The broken line is returned apart: the fold cannot read it.
func mutationLake(t *testing.T) (objects []object, broken object) {
	t.Helper()
	objects = randomLake(t, record.Plain, 7)
	only := keysOf("ttl-only", "1")
	again := keysOf("recreated", "2")
	va := image("recreated", "2", `,"v":{"N":"1"}`)
	objects = append(objects,
		object{objectPath("ttl-only"), [][]byte{ttlRemove(t, record.Plain, only, image("ttl-only", "1", `,"v":{"N":"7"}`), seq(25, 1), t0)}},
		object{objectPath("recreated"), stream(t, record.Plain,
			foldtest.Change{Event: "INSERT", Keys: again, New: va, Seq: seq(25, 1), Created: t0},
			foldtest.Change{Event: "REMOVE", Keys: again, Old: va, Seq: seq(25, 2), Created: t0.Add(time.Second)},
			foldtest.Change{Event: "INSERT", Keys: again, Seq: seq(25, 3), Created: t0.Add(2 * time.Second), ViewType: "KEYS_ONLY"},
		)},
	)
	newOnly := keysOf("new-image", "3")
	objects = append(objects, object{objectPath("new-image"), [][]byte{
		stream(t, record.Plain, foldtest.Change{Event: "INSERT", Keys: newOnly, New: image("new-image", "3", ""), Seq: seq(25, 1), Created: t0, ViewType: "NEW_IMAGE"})[0],
		ttlRemoveView(t, record.Plain, "NEW_IMAGE", newOnly, "", seq(25, 2), t0.Add(time.Second)),
	}})
	line := stream(t, record.Plain, foldtest.Change{Event: "MODIFY", Keys: again, New: image("recreated", "2", `,"v":{"S":"broken"}`), Seq: seq(25, 9), Created: t0.Add(time.Hour)})[0]
	line = regexp.MustCompile(`"orderKey":"[^"]*"`).ReplaceAll(line, []byte(`"orderKey":"zzz"`))
	return objects, object{objectPath("broken"), [][]byte{line}}
}

// TestMutationsAreCaught: the comparison fails for queries that get the
// rule wrong, so a pass means something.
func TestMutationsAreCaught(t *testing.T) {
	db := openDB(t)
	q := currentStateSQL(t)
	objects, broken := mutationLake(t)
	loadBronze(t, db, append(slices.Clone(objects), broken), "plain")
	for _, mode := range []string{"apply", "flag"} {
		for _, d := range diff(query(t, db, q, mode), expected(t, objects, "plain", mode)) {
			t.Errorf("ttl_deletes=%s, the query unchanged: %s", mode, d)
		}
	}
	rank := "ORDER BY orderKey DESC, sourceFile DESC) AS lineRank"
	mutations := map[string]struct {
		from, to, mode string
	}{
		"oldest wins":          {rank, "ORDER BY orderKey ASC, sourceFile DESC) AS lineRank", "apply"},
		"creation time order":  {rank, "ORDER BY approximateCreationDateTime DESC, sourceFile DESC) AS lineRank", "apply"},
		"REMOVE kept":          {"eventName <> 'REMOVE' OR", "TRUE OR", "apply"},
		"order key unchecked":  {"length(orderKey) = 52", "TRUE", "apply"},
		"oldImage ignored":     {"THEN oldImage", "THEN newImage", "flag"},
		"last image ignored":   {"THEN lastImage", "THEN image", "flag"},
		"deletions ignored":    {"PARTITION BY keys, era", "PARTITION BY keys", "flag"},
		"missing images first": {"CASE WHEN image IS NULL THEN 1 ELSE 0 END", "CASE WHEN image IS NULL THEN 0 ELSE 1 END", "flag"},
	}
	for name, m := range mutations {
		if !strings.Contains(q, m.from) {
			t.Fatalf("%s: %q is not in the query", name, m.from)
		}
		got := query(t, db, strings.Replace(q, m.from, m.to, 1), m.mode)
		if len(diff(got, expected(t, objects, "plain", m.mode))) == 0 {
			t.Errorf("mutation %q was not caught", name)
		}
	}
}

// ttlRemoveView is ttlRemove from a stream of the given view type: only
// NEW_AND_OLD_IMAGES and OLD_IMAGE streams carry the old image.
func ttlRemoveView(t *testing.T, f record.ImageFormat, view, keys, old, seq string, created time.Time) []byte {
	t.Helper()
	oldImage := ""
	if view == "NEW_AND_OLD_IMAGES" || view == "OLD_IMAGE" {
		oldImage = `"OldImage":` + old + ","
	}
	ev := fmt.Sprintf(`{"Records":[{"eventID":"ttl%s","eventName":"REMOVE","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1",`+
		`"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},`+
		`"dynamodb":{"ApproximateCreationDateTime":%d,"Keys":%s,%s"SequenceNumber":%q,"SizeBytes":%d,"StreamViewType":%q},`+
		`"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/%s/stream/2026-11-01T00:00:00.000"}]}`,
		seq, created.Unix(), keys, oldImage, seq, len(keys), view, foldtest.Table)
	var line []byte
	_, err := record.NewConverter(record.WithImageFormat(f)).ConvertEvent([]byte(ev), func(r *record.Record) error {
		if r.Err != nil {
			return r.Err
		}
		line = bytes.Clone(r.Line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(line, []byte(`"ttlDelete":true`)) || bytes.Contains(line, []byte(`"oldImage"`)) != (oldImage != "") {
		t.Fatalf("not a %s TTL delete: %s", view, line)
	}
	return line
}

// TestTTLFlagKeepsTheLastImage: with ttl_deletes=flag a TTL delete keeps
// the item's last image also where the REMOVE carries none (NEW_IMAGE and
// KEYS_ONLY streams): the previous line's image, or the snapshot row's
// for a KEYS_ONLY stream; an item deleted for good and recreated without
// an image has none. The query equals the model (check), and the model
// says what is wanted, item by item.
func TestTTLFlagKeepsTheLastImage(t *testing.T) {
	newOnly, keysOnly, keysOnlyNew := keysOf("new-image", "1"), keysOf("keys-only", "2"), keysOf("keys-only-fresh", "3")
	recreated := keysOf("recreated", "4")
	v1, v2 := image("new-image", "1", `,"v":{"N":"1"}`), image("new-image", "1", `,"v":{"N":"2"}`)
	snap := image("keys-only", "2", `,"v":{"S":"exported"}`)
	export := t0.Add(-time.Hour)
	build := func(t *testing.T, f record.ImageFormat) []object {
		return []object{
			{objectPath("snapshot-01234567890123-a1b2c3d4-data"), snapshot(t, f, export, snap)},
			{objectPath("s-1"), stream(t, f,
				foldtest.Change{Event: "INSERT", Keys: newOnly, New: v1, Seq: seq(25, 1), Created: t0, ViewType: "NEW_IMAGE"},
				foldtest.Change{Event: "MODIFY", Keys: newOnly, New: v2, Seq: seq(25, 2), Created: t0, ViewType: "NEW_IMAGE"},
				foldtest.Change{Event: "INSERT", Keys: keysOnlyNew, Seq: seq(25, 3), Created: t0, ViewType: "KEYS_ONLY"},
				foldtest.Change{Event: "INSERT", Keys: recreated, New: image("recreated", "4", ""), Seq: seq(25, 4), Created: t0, ViewType: "NEW_IMAGE"},
				foldtest.Change{Event: "REMOVE", Keys: recreated, Seq: seq(25, 5), Created: t0, ViewType: "NEW_IMAGE"},
				foldtest.Change{Event: "INSERT", Keys: recreated, Seq: seq(25, 6), Created: t0, ViewType: "KEYS_ONLY"},
				foldtest.Change{Event: "INSERT", Keys: keysOf("stays", "5"), New: image("stays", "5", ""), Seq: seq(25, 11), Created: t0, ViewType: "NEW_IMAGE"},
			)},
			{objectPath("s-2"), [][]byte{
				ttlRemoveView(t, f, "NEW_IMAGE", newOnly, v2, seq(25, 7), t0.Add(time.Hour)),
				ttlRemoveView(t, f, "KEYS_ONLY", keysOnly, snap, seq(25, 8), t0.Add(time.Hour)),
				ttlRemoveView(t, f, "KEYS_ONLY", keysOnlyNew, "", seq(25, 9), t0.Add(time.Hour)),
				ttlRemoveView(t, f, "KEYS_ONLY", recreated, "", seq(25, 10), t0.Add(time.Hour)),
			}},
		}
	}
	check(t, build)
	for _, format := range []string{"plain", "dynamodb"} {
		f := formats[format]
		rows := expected(t, build(t, f), format, "flag")
		imageOf := func(pk, sk string, img string) *string {
			if img == "" {
				return nil
			}
			k, err := readKeys(json.RawMessage(fmt.Sprintf(`{"pk":%s,"sk":%s}`, lineValue(t, f, `{"S":`+jsonString(pk)+`}`), lineValue(t, f, `{"N":"`+sk+`"}`))), format)
			if err != nil {
				t.Fatal(err)
			}
			r, ok := rows[canonical(k)]
			if !ok {
				t.Fatalf("%s images: no row for %s", format, pk)
			}
			if !r.TTLDeleted {
				t.Errorf("%s images, %s: not flagged as a TTL delete: %s", format, pk, r)
			}
			return r.Item
		}
		for _, c := range []struct{ pk, sk, want string }{
			{"new-image", "1", v2}, {"keys-only", "2", snap}, {"keys-only-fresh", "3", ""}, {"recreated", "4", ""},
		} {
			got := imageOf(c.pk, c.sk, c.want)
			want := lineImage(t, f, c.want)
			if (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Errorf("%s images, %s: item %v, want the last image %v", format, c.pk, deref(got), deref(want))
			}
		}
	}
}

// lineValue is a DynamoDB JSON attribute value as the lines of format f
// carry it.
func lineValue(t *testing.T, f record.ImageFormat, attr string) string {
	t.Helper()
	img := lineImage(t, f, `{"x":`+attr+`}`)
	return strings.TrimSuffix(strings.TrimPrefix(*img, `{"x":`), "}")
}

// lineImage is a DynamoDB JSON image as the lines of format f carry it
// (nil for none), taken from a line the converter makes.
func lineImage(t *testing.T, f record.ImageFormat, img string) *string {
	t.Helper()
	if img == "" {
		return nil
	}
	line := stream(t, f, foldtest.Change{Event: "INSERT", Keys: keysOf("k", "1"), New: img, Seq: seq(21, 1), Created: t0})[0]
	var l struct {
		NewImage json.RawMessage `json:"newImage"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		t.Fatal(err)
	}
	s := string(l.NewImage)
	return &s
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

// TestConflictIsResolvedByObject documents where the query and the fold
// differ: two lines with the same orderKey that disagree, which the
// pipeline never writes (its duplicates are byte-identical). The fold
// reports a conflict; the query, like AUTO CDC's sequence
// struct(orderKey, sourceFile), takes the line from the greater object.
func TestConflictIsResolvedByObject(t *testing.T) {
	db := openDB(t)
	a := keysOf("a", "1")
	one := stream(t, record.Plain, foldtest.Change{Event: "INSERT", Keys: a, New: image("a", "1", `,"v":{"N":"1"}`), Seq: seq(21, 1), Created: t0})
	two := stream(t, record.Plain, foldtest.Change{Event: "INSERT", Keys: a, New: image("a", "1", `,"v":{"N":"2"}`), Seq: seq(21, 1), Created: t0})
	objects := []object{{objectPath("b"), two}, {objectPath("a"), one}}
	loadBronze(t, db, objects, "plain")
	got := query(t, db, currentStateSQL(t), "apply")
	if len(got) != 1 {
		t.Fatalf("rows %v", got)
	}
	for _, r := range got {
		if r.SourceFile != objectPath("b") || !strings.Contains(*r.Item, `"v":2`) {
			t.Errorf("conflict resolved to %s", r)
		}
	}
	tbl, err := fold.Lines(append(one, two...))
	if err != nil {
		t.Fatal(err)
	}
	tbl.Each(func(st fold.State) error {
		if st.Status != fold.StatusConflict {
			t.Errorf("fold status %s, want conflict", st.Status)
		}
		return nil
	})
}
