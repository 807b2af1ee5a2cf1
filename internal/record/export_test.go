package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// An export fixture is a table export as DynamoDB writes it to S3, under
// testdata/export/<table>/: manifest-summary.json, manifest-files.json, the
// data files (stored decompressed as data/<name>.json; an export's are
// <name>.json.gz) and describe-table.json for the key schema, which an
// export does not carry.
type exportFixture struct {
	snap  Snapshot
	files []exportFile
}

type exportFile struct {
	name string // the data file's name in the export, as in eventIDs
	path string // the decompressed copy under testdata
}

func exportFixtures(t testing.TB) map[string]exportFixture {
	t.Helper()
	dirs, err := filepath.Glob("testdata/export/*/manifest-summary.json")
	if err != nil || len(dirs) < 2 {
		t.Fatalf("export fixtures: %v (%d found)", err, len(dirs))
	}
	out := map[string]exportFixture{}
	for _, summary := range dirs {
		dir := filepath.Dir(summary)
		fx := loadExport(t, dir)
		out[fx.snap.Table] = fx
	}
	return out
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadExport(t testing.TB, dir string) exportFixture {
	t.Helper()
	var summary struct {
		ExportArn  string    `json:"exportArn"`
		ExportTime time.Time `json:"exportTime"`
		TableArn   string    `json:"tableArn"`
	}
	readJSON(t, filepath.Join(dir, "manifest-summary.json"), &summary)
	var table struct {
		Table struct {
			TableName string
			KeySchema []struct{ AttributeName, KeyType string }
		}
	}
	readJSON(t, filepath.Join(dir, "describe-table.json"), &table)
	var ks KeySchema
	for _, k := range table.Table.KeySchema {
		if k.KeyType == "HASH" {
			ks.PartitionKey = k.AttributeName
		} else {
			ks.SortKey = k.AttributeName
		}
	}
	_, exportID, _ := strings.Cut(summary.ExportArn, "/export/")
	fx := exportFixture{snap: Snapshot{
		Table:      table.Table.TableName,
		Keys:       ks,
		ExportTime: summary.ExportTime,
		ExportID:   exportID,
	}}
	mf, err := os.ReadFile(filepath.Join(dir, "manifest-files.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(bytes.TrimSpace(mf), []byte("\n")) {
		var entry struct{ DataFileS3Key string }
		if err := json.Unmarshal(l, &entry); err != nil {
			t.Fatalf("manifest-files.json: %v", err)
		}
		name := path.Base(entry.DataFileS3Key)
		fx.files = append(fx.files, exportFile{name, filepath.Join(dir, "data", strings.TrimSuffix(name, ".gz"))})
	}
	return fx
}

// exportLines calls fn for every non-empty line of the export's data
// files, as a backfill reads them: the empty lines are the caller's to
// skip.
func exportLines(t testing.TB, fx exportFixture, fn func(file string, n int, item []byte)) {
	t.Helper()
	for _, f := range fx.files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				fn(f.name, n, sc.Bytes())
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// renderExport converts an export into the lines a golden file holds.
func renderExport(t testing.TB, c *Converter, fx exportFixture) []byte {
	t.Helper()
	var buf bytes.Buffer
	exportLines(t, fx, func(file string, n int, item []byte) {
		s := fx.snap
		s.DataFile = file
		line, err := c.ConvertItem(item, &s, n)
		if err != nil {
			fmt.Fprintf(&buf, "{\"dataFile\":%q,\"line\":%d,\"error\":%q}\n", file, n, err)
			return
		}
		buf.Write(line)
		buf.WriteByte('\n')
	})
	return buf.Bytes()
}

func TestExportGolden(t *testing.T) {
	for table, fx := range exportFixtures(t) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			t.Run(table+"/"+format.String(), func(t *testing.T) {
				got := renderExport(t, NewConverter(WithImageFormat(format)), fx)
				golden := filepath.Join("testdata", "export", "golden", table+"."+format.String()+".jsonl")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s (run go test -update after checking):\ngot:\n%.4000s\nwant:\n%.4000s", golden, got, want)
				}
				for _, line := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
					if !json.Valid(line) || bytes.Contains(line, []byte(`"error"`)) {
						t.Errorf("line is not a valid snapshot line: %.300s", line)
					}
				}
			})
		}
	}
}

// TestExportLargeItem: the export's item of almost 400 KB, DynamoDB's
// limit, is carried whole.
func TestExportLargeItem(t *testing.T) {
	fx := exportFixtures(t)["Readings"]
	c := NewConverter()
	largest := 0
	exportLines(t, fx, func(file string, n int, item []byte) {
		s := fx.snap
		s.DataFile = file
		line, err := c.ConvertItem(item, &s, n)
		if err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		largest = max(largest, len(line))
	})
	if largest < 400_000 {
		t.Errorf("largest snapshot line is %d bytes; the fixture's 400 KB item was not carried whole", largest)
	}
}

// TestSnapshotLineFields checks one snapshot line field by field.
func TestSnapshotLineFields(t *testing.T) {
	exportTime := time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC)
	s := &Snapshot{
		Table:      "Readings",
		Keys:       KeySchema{PartitionKey: "deviceId", SortKey: "digest"},
		ExportTime: exportTime,
		ExportID:   "01795449600123-5f1c2e3a",
		DataFile:   "4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz",
	}
	item := `{"Item":{"site":{"S":"plant-7"},"digest":{"B":"q/8="},"tags":{"SS":["a"]},"deviceId":{"N":"1042"}}}`
	tests := []struct {
		format ImageFormat
		expect map[string]string // field: its JSON text; "" for absent
	}{
		{Plain, map[string]string{
			FieldKeys:     `{"deviceId":1042,"digest":"q/8="}`,
			FieldNewImage: `{"site":"plant-7","digest":"q/8=","tags":["a"],"deviceId":1042}`,
		}},
		{DynamoDB, map[string]string{
			FieldKeys:     `{"deviceId":{"N":"1042"},"digest":{"B":"q/8="}}`,
			FieldNewImage: `{"site":{"S":"plant-7"},"digest":{"B":"q/8="},"tags":{"SS":["a"]},"deviceId":{"N":"1042"}}`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format.String(), func(t *testing.T) {
			line, err := NewConverter(WithImageFormat(tc.format)).ConvertItem([]byte(item), s, 17)
			if err != nil {
				t.Fatal(err)
			}
			expect := map[string]string{
				FieldEventID:                     `"01795449600123-5f1c2e3a/4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz:17"`,
				FieldEventName:                   `"SNAPSHOT"`,
				FieldTable:                       `"Readings"`,
				FieldKeys:                        tc.expect[FieldKeys],
				FieldNewImage:                    tc.expect[FieldNewImage],
				FieldOldImage:                    "",
				FieldSequenceNumber:              "",
				FieldApproximateCreationDateTime: `"2026-11-23T16:00:00.123Z"`,
				FieldOrderKey:                    `"` + orderkey.Snapshot(exportTime) + `"`,
				FieldSizeBytes:                   "",
				FieldStreamViewType:              "",
				FieldTTLDelete:                   `false`,
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("line %s: %v", line, err)
			}
			for _, f := range Fields() {
				if string(got[f]) != expect[f] {
					t.Errorf("%s: got %s, expect %s", f, got[f], expect[f])
				}
			}
			if len(got) != len(Fields())-4 {
				t.Errorf("line has %d fields, expect %d: %s", len(got), len(Fields())-4, line)
			}
		})
	}
}

// TestSnapshotMatchesReference checks every export line against the slow,
// obvious conversion through aws-lambda-go's attribute values.
func TestSnapshotMatchesReference(t *testing.T) {
	for table, fx := range exportFixtures(t) {
		c := NewConverter()
		exportLines(t, fx, func(file string, n int, item []byte) {
			var ref struct {
				Item map[string]events.DynamoDBAttributeValue
			}
			if err := json.Unmarshal(item, &ref); err != nil {
				t.Fatalf("%s %s:%d: %v", table, file, n, err)
			}
			s := fx.snap
			s.DataFile = file
			line, err := c.ConvertItem(item, &s, n)
			if err != nil {
				t.Fatalf("%s %s:%d: %v", table, file, n, err)
			}
			keys := map[string]events.DynamoDBAttributeValue{s.Keys.PartitionKey: ref.Item[s.Keys.PartitionKey]}
			if s.Keys.SortKey != "" {
				keys[s.Keys.SortKey] = ref.Item[s.Keys.SortKey]
			}
			want := map[string]any{
				"eventID":                     fmt.Sprintf("%s/%s:%d", s.ExportID, file, n),
				"eventName":                   EventSnapshot,
				"table":                       table,
				"keys":                        plainMap(t, keys),
				"newImage":                    plainMap(t, ref.Item),
				"approximateCreationDateTime": s.ExportTime.UTC().Format(time.RFC3339Nano),
				"orderKey":                    orderkey.Snapshot(s.ExportTime),
				"ttlDelete":                   false,
			}
			if got := decodeLine(t, line); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:%d:\ngot  %.600v\nwant %.600v", table, file, n, got, want)
			}
		})
	}
}

func TestConvertItemErrors(t *testing.T) {
	s := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk", SortKey: "sk"},
		ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f.json.gz"}
	tests := []struct {
		name, item string
		syntax     bool // a *SyntaxError rather than a *ConversionError
		expect     string
	}{
		{"not JSON", `{"Item":{"pk":{"S":"a"},`, true, "invalid JSON at byte 24: expected object key"},
		{"not JSON at all", `Item`, true, `unexpected character 'I'`},
		{"empty", ``, true, "unexpected end of input"},
		{"blank", " \r", true, "unexpected end of input"},
		{"array", `[{"Item":{}}]`, false, `line must be a JSON object with an "Item"`},
		{"string then data", `"Item" x`, true, "data after the line's value"},
		{"no Item", `{"item":{"pk":{"S":"a"},"sk":{"N":"1"}}}`, false, `line must be a JSON object with an "Item"`},
		{"incremental export line", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"pk":{"S":"a"},"sk":{"N":"1"}},"NewImage":{"pk":{"S":"a"},"sk":{"N":"1"}}}`, false, `line must be a JSON object with an "Item"`},
		{"Item not an object", `{"Item":[]}`, false, "Item: must be an object of attribute values"},
		{"Item twice", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"}},"Item":{"pk":{"S":"a"},"sk":{"N":"1"}}}`, false, "Item: appears twice"},
		{"partition key missing", `{"Item":{"sk":{"N":"1"},"x":{"S":"a"}}}`, false, `Item: key attribute "pk" is missing`},
		{"sort key missing", `{"Item":{"pk":{"S":"a"}}}`, false, `Item: key attribute "sk" is missing`},
		{"key of a map type", `{"Item":{"pk":{"M":{}},"sk":{"N":"1"}}}`, false, `Item.pk: key attribute must be of type S, N or B, not "M"`},
		{"key twice", `{"Item":{"pk":{"S":"a"},"p\u006b":{"S":"b"},"sk":{"N":"1"}}}`, false, `Item: key attribute "p\\u006b" appears twice`},
		{"unknown type", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"when":{"DATE":"2026"}}}`, false, `Item.when: unknown attribute type "DATE"`},
		{"bad number", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1,5"}}}`, false, `Item.sk: N value "1,5" is not a number`},
		{"nested bad value", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"m":{"M":{"l":{"L":[{"BOOL":"yes"}]}}}}}`, false, `Item.m.l[0]: BOOL value must be true or false`},
		{"two types", `{"Item":{"pk":{"S":"a","N":"1"},"sk":{"N":"1"}}}`, false, `Item.pk: attribute value has more than one type`},
		{"unpaired surrogate in a key", `{"Item":{"pk":{"S":"\udc00"},"sk":{"N":"1"}}}`, false, `Item.pk: string has an unpaired surrogate \udc00`},
		{"trailing data", `{"Item":{"pk":{"S":"a"},"sk":{"N":"1"}}} {}`, true, "data after the line's object"},
		{"two lines in one", "{\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}\n{\"Item\":{}}", true, "data after the line's object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, err := NewConverter().ConvertItem([]byte(tc.item), s, 1)
			if err == nil {
				t.Fatalf("converted to %s; expect an error", line)
			}
			var se *SyntaxError
			var ce *ConversionError
			if gotSyntax := errors.As(err, &se); gotSyntax != tc.syntax || !gotSyntax && !errors.As(err, &ce) {
				t.Errorf("error %T (%v): expect a *SyntaxError %v, else a *ConversionError", err, err, tc.syntax)
			}
			if !strings.Contains(err.Error(), tc.expect) {
				t.Errorf("error = %q; expect it to contain %q", err, tc.expect)
			}
		})
	}
}

func TestConvertItemAcceptsSpaceAndCR(t *testing.T) {
	s := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk"}, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	line, err := NewConverter().ConvertItem([]byte(" { \"Item\" : { \"pk\" : { \"S\" : \"a\" } } }\r"), s, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(line, []byte(`"keys":{"pk":"a"},"newImage":{"pk":"a"}`)) {
		t.Errorf("line %s", line)
	}
}

func TestSnapshotValidate(t *testing.T) {
	good := Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk", SortKey: "sk"},
		ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	tests := []struct {
		name   string
		change func(*Snapshot)
		expect string // "" for valid
	}{
		{"valid", func(*Snapshot) {}, ""},
		{"no sort key", func(s *Snapshot) { s.Keys.SortKey = "" }, ""},
		{"bad table", func(s *Snapshot) { s.Table = "a/b" }, "table name"},
		{"no table", func(s *Snapshot) { s.Table = "" }, "table name"},
		{"no partition key", func(s *Snapshot) { s.Keys.PartitionKey = "" }, "partition key name"},
		{"same keys", func(s *Snapshot) { s.Keys.SortKey = "pk" }, "both"},
		{"long key name", func(s *Snapshot) { s.Keys.SortKey = strings.Repeat("k", 256) }, "sort key name"},
		{"no export time", func(s *Snapshot) { s.ExportTime = time.Time{} }, "export time"},
		{"no export ID", func(s *Snapshot) { s.ExportID = "" }, "export ID"},
		{"no data file", func(s *Snapshot) { s.DataFile = "" }, "data file"},
		{"bad UTF-8", func(s *Snapshot) { s.DataFile = "\xff" }, "data file"},
	}
	item := []byte(`{"Item":{"pk":{"S":"a"},"sk":{"N":"1"}}}`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.change(&s)
			err := s.Validate()
			if got := ""; err != nil {
				got = err.Error()
				if tc.expect == "" || !strings.Contains(got, tc.expect) {
					t.Errorf("Validate = %q; expect %q", got, tc.expect)
				}
			} else if tc.expect != "" {
				t.Errorf("Validate = nil; expect %q", tc.expect)
			}
			_, cerr := NewConverter().ConvertItem(item, &s, 1)
			var se *SyntaxError
			var ce *ConversionError
			if (cerr == nil) != (err == nil) || errors.As(cerr, &se) || errors.As(cerr, &ce) {
				t.Errorf("ConvertItem error %v (%T); expect the snapshot's own %v", cerr, cerr, err)
			}
		})
	}
	if _, err := NewConverter().ConvertItem(item, &good, 0); err == nil {
		t.Error("line 0: no error")
	}
	if _, err := NewConverter().ConvertItem(item, nil, 1); err == nil {
		t.Error("no snapshot: no error")
	}
}

// TestEventIDEscapes: a data file name with characters JSON escapes still
// makes a valid line.
func TestEventIDEscapes(t *testing.T) {
	s := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk"}, ExportTime: time.Unix(1795449600, 0),
		ExportID: "e", DataFile: "odd \"name\"\\\t.json.gz"}
	line, err := NewConverter().ConvertItem([]byte(`{"Item":{"pk":{"S":"a"}}}`), s, 9)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ EventID string }
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("line %s: %v", line, err)
	}
	if expect := "e/" + s.DataFile + ":9"; got.EventID != expect {
		t.Errorf("eventID: got %q, expect %q", got.EventID, expect)
	}
}

// identityCases are the same items as a stream record's Keys (in the order
// and with the escapes a stream might use) and as an export's Item.
var identityCases = []struct {
	name       string
	ks         KeySchema
	streamKeys string
	exportItem string
}{
	{"string and number, stream order reversed", KeySchema{"pk", "sk"},
		`{"sk":{"N":"7"},"pk":{"S":"customer#42"}}`,
		`{"Item":{"pk":{"S":"customer#42"},"sk":{"N":"7"},"name":{"S":"Ada"}}}`},
	{"escapes differ", KeySchema{"pk", "sk"},
		`{"p\u006b":{"S":"a\/b \u003c\u0026\u003e caf\u00e9 \ud83d\ude00 \"q\" \u0001\u001f\t \u2028"},"sk":{"N":"-1.5E+3"}}`,
		`{"Item":{"sk":{"N":"-1.5E+3"},"pk":{"S":"a/b <&> café 😀 \"q\" \u0001\u001F\t ` + "\u2028" + `"},"note":{"S":"x"}}}`},
	{"numeric and binary key", KeySchema{"deviceId", "digest"},
		`{"digest":{"B":"q\/8="},"deviceId":{"N":"-7"}}`,
		`{"Item":{"x":{"L":[]},"deviceId":{"N":"-7"},"digest":{"B":"q/8="}}}`},
	{"partition key only", KeySchema{PartitionKey: "名前"},
		`{"\u540d\u524d":{"S":"東京"}}`,
		`{"Item":{"名前":{"S":"\u6771\u4eac"},"pop":{"N":"14000000"}}}`},
	{"names sort by bytes, not key schema", KeySchema{"userId", "createdAt"},
		`{"userId":{"S":"u1"},"createdAt":{"S":"2026-11-23"}}`,
		`{"Item":{"userId":{"S":"u1"},"createdAt":{"S":"2026-11-23"}}}`},
}

// TestKeysIdentity: for the same item, a stream line's keys, a snapshot
// line's keys and AppendKeys of a Scan result are the same bytes, in both
// formats, whatever order and escapes each source used. The Scan result is
// marshalled by Go (sorted names, <>& escaped), as a reconcile tool would.
func TestKeysIdentity(t *testing.T) {
	for _, tc := range identityCases {
		var item struct {
			Item map[string]events.DynamoDBAttributeValue
		}
		if err := json.Unmarshal([]byte(tc.exportItem), &item); err != nil {
			t.Fatal(err)
		}
		scan, err := json.Marshal(item.Item)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tc.exportItem, "<") && !bytes.Contains(scan, []byte(`\u003c`)) {
			t.Fatalf("Go's encoder no longer escapes '<' (%s): the case lost its point", scan)
		}
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			t.Run(tc.name+"/"+format.String(), func(t *testing.T) {
				c := NewConverter(WithImageFormat(format))
				stream := streamKeys(t, c, tc.streamKeys)
				s := &Snapshot{Table: "T", Keys: tc.ks, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
				line, err := c.ConvertItem([]byte(tc.exportItem), s, 1)
				if err != nil {
					t.Fatal(err)
				}
				var snap struct{ Keys json.RawMessage }
				if err := json.Unmarshal(line, &snap); err != nil {
					t.Fatal(err)
				}
				fromScan, err := c.AppendKeys(nil, scan, tc.ks)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(stream, snap.Keys) || !bytes.Equal(stream, fromScan) {
					t.Errorf("keys differ:\nstream   %s\nsnapshot %s\nscan     %s (from %s)", stream, snap.Keys, fromScan, scan)
				}
				if !json.Valid(stream) {
					t.Errorf("keys %s are not JSON", stream)
				}
			})
		}
	}
}

// streamKeys converts a stream record with the given Keys and returns the
// line's keys field as written.
func streamKeys(t *testing.T, c *Converter, keys string) []byte {
	t.Helper()
	payload := `{"Records":[{"eventID":"e","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1795453445,` +
		`"Keys":` + keys + `,"SequenceNumber":"1"},` +
		`"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2026-11-01T00:00:00.000"}]}`
	var out []byte
	_, err := c.ConvertEvent([]byte(payload), func(r *Record) error {
		if r.Err != nil {
			return r.Err
		}
		var line struct{ Keys json.RawMessage }
		if err := json.Unmarshal(r.Line, &line); err != nil {
			return err
		}
		out = bytes.Clone(line.Keys)
		return nil
	})
	if err != nil {
		t.Fatalf("stream record with keys %s: %v", keys, err)
	}
	return out
}

// TestKeysIdentityWithFixtures: the Customers export holds the item of the
// insert_all_types stream fixture.
func TestKeysIdentityWithFixtures(t *testing.T) {
	fx := exportFixtures(t)["Customers"]
	payload, err := os.ReadFile("testdata/insert_all_types.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []ImageFormat{Plain, DynamoDB} {
		c := NewConverter(WithImageFormat(format))
		var stream map[string]json.RawMessage
		if _, err := c.ConvertEvent(payload, func(r *Record) error { return json.Unmarshal(r.Line, &stream) }); err != nil {
			t.Fatal(err)
		}
		var snap map[string]json.RawMessage
		exportLines(t, fx, func(file string, n int, item []byte) {
			if n == 1 {
				s := fx.snap
				s.DataFile = file
				line, err := c.ConvertItem(item, &s, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(line, &snap); err != nil {
					t.Fatal(err)
				}
			}
		})
		if !bytes.Equal(stream[FieldKeys], snap[FieldKeys]) {
			t.Errorf("%s: keys differ: stream %s, snapshot %s", format, stream[FieldKeys], snap[FieldKeys])
		}
		if !bytes.Equal(stream[FieldNewImage], snap[FieldNewImage]) {
			t.Errorf("%s: the same item's images differ:\nstream   %s\nsnapshot %s", format, stream[FieldNewImage], snap[FieldNewImage])
		}
		// The stream record was created after the export: it ranks later.
		if !(string(stream[FieldOrderKey]) > string(snap[FieldOrderKey])) {
			t.Errorf("%s: stream orderKey %s does not rank after the snapshot's %s", format, stream[FieldOrderKey], snap[FieldOrderKey])
		}
	}
}

func TestAppendKeysErrors(t *testing.T) {
	ks := KeySchema{PartitionKey: "pk", SortKey: "sk"}
	tests := []struct{ name, item, expect string }{
		{"missing sort key", `{"pk":{"S":"a"}}`, `key attribute "sk" is missing`},
		{"list key", `{"pk":{"L":[]},"sk":{"N":"1"}}`, `pk: key attribute must be of type S, N or B, not "L"`},
		{"not an object", `[]`, "must be an object of attribute values"},
		{"not JSON", `{"pk":{"S":"a"}`, "unexpected end of input"},
		{"trailing data", `{"pk":{"S":"a"},"sk":{"N":"1"}}x`, "data after the item"},
		{"non-key attribute not JSON", `{"pk":{"S":"a"},"sk":{"N":"1"},"x":[1,]}`, "unexpected character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := NewConverter().AppendKeys([]byte("prefix"), []byte(tc.item), ks)
			if err == nil || !strings.Contains(err.Error(), tc.expect) {
				t.Errorf("AppendKeys = %s, %v; expect an error containing %q", out, err, tc.expect)
			}
			if string(out) != "prefix" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
	if _, err := NewConverter().AppendKeys(nil, []byte(`{"pk":{"S":"a"}}`), KeySchema{}); err == nil {
		t.Error("empty key schema: no error")
	}
}

// TestAppendImage: a Scan result rendered by AppendImage equals, as a JSON
// value, the newImage of the snapshot line of the same item, in both
// formats, although Go's encoder wrote it in another order and escaping.
func TestAppendImage(t *testing.T) {
	for table, fx := range exportFixtures(t) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			c := NewConverter(WithImageFormat(format))
			exportLines(t, fx, func(file string, n int, item []byte) {
				var ref struct {
					Item map[string]events.DynamoDBAttributeValue
				}
				if err := json.Unmarshal(item, &ref); err != nil {
					t.Fatal(err)
				}
				scan, err := json.Marshal(ref.Item)
				if err != nil {
					t.Fatal(err)
				}
				img, err := c.AppendImage([]byte("x"), scan)
				if err != nil {
					t.Fatalf("%s %s:%d: %v", table, file, n, err)
				}
				if img[0] != 'x' {
					t.Fatalf("AppendImage did not append")
				}
				s := fx.snap
				s.DataFile = file
				line, err := c.ConvertItem(item, &s, n)
				if err != nil {
					t.Fatal(err)
				}
				var snap struct{ NewImage json.RawMessage }
				if err := json.Unmarshal(line, &snap); err != nil {
					t.Fatal(err)
				}
				got, want := decodeLine(t, img[1:]), decodeLine(t, snap.NewImage)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s/%s %s:%d: AppendImage of the Scan result differs from newImage", table, format, file, n)
				}
			})
		}
	}
	if _, err := NewConverter().AppendImage(nil, []byte(`{"a":{"X":"1"}}`)); err == nil || err.Error() != `a: unknown attribute type "X"` {
		t.Errorf("unknown type: err = %v", err)
	}
	if _, err := NewConverter().AppendImage(nil, []byte(`{"a":{"S":"1"}} 1`)); err == nil {
		t.Error("trailing data: no error")
	}
}

func TestConvertItemDoesNotAllocate(t *testing.T) {
	fx := exportFixtures(t)["Readings"]
	type line struct {
		file string
		n    int
		item []byte
	}
	var lines []line
	exportLines(t, fx, func(file string, n int, item []byte) { lines = append(lines, line{file, n, bytes.Clone(item)}) })
	c := NewConverter()
	scanItem := []byte(`{"deviceId":{"N":"1"},"digest":{"B":"q\/8="},"x":{"S":"a\u003cb"}}`)
	var dst []byte
	run := func() {
		for _, l := range lines {
			s := fx.snap
			s.DataFile = l.file
			if _, err := c.ConvertItem(l.item, &s, l.n); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if dst, err = c.AppendKeys(dst[:0], scanItem, fx.snap.Keys); err != nil {
			t.Fatal(err)
		}
		if dst, err = c.AppendImage(dst[:0], scanItem); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if allocs := testing.AllocsPerRun(5, run); allocs > 0 {
		t.Errorf("ConvertItem, AppendKeys and AppendImage allocated %v times for %d lines; want 0", allocs, len(lines))
	}
}

func FuzzConvertItem(f *testing.F) {
	for _, fx := range exportFixtures(f) {
		exportLines(f, fx, func(_ string, _ int, item []byte) {
			if len(item) < 4<<10 {
				f.Add(item)
			}
		})
	}
	for _, tc := range identityCases {
		f.Add([]byte(tc.exportItem))
	}
	f.Add([]byte(`{"Item":{"pk":{"S":"\ud800\udc00"},"sk":{"N":"1"},"m":{"M":{"l":{"L":[{"NS":["1e5"]}]}}}}}`))
	s := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk", SortKey: "sk"},
		ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	f.Fuzz(func(t *testing.T, item []byte) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			c := NewConverter(WithImageFormat(format))
			line, err := c.ConvertItem(item, s, 1)
			if err != nil {
				var se *SyntaxError
				var ce *ConversionError
				if !errors.As(err, &se) && !errors.As(err, &ce) {
					t.Fatalf("error %T %v is neither a syntax nor a conversion error", err, err)
				}
				continue
			}
			if !json.Valid(item) {
				t.Fatalf("accepted invalid JSON %q", item)
			}
			var got struct{ Keys, NewImage json.RawMessage }
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("invalid line %q from %q: %v", line, item, err)
			}
			// The keys of the item's attribute map are the line's keys.
			var whole map[string]json.RawMessage
			if err := json.Unmarshal(item, &whole); err != nil {
				t.Fatal(err)
			}
			keys, err := c.AppendKeys(nil, whole["Item"], s.Keys)
			if err != nil || !bytes.Equal(keys, got.Keys) {
				t.Fatalf("AppendKeys = %s, %v; the line's keys are %s", keys, err, got.Keys)
			}
		}
	})
}

func BenchmarkConvertItem(b *testing.B) {
	fx := exportFixtures(b)["Readings"]
	var items [][]byte
	var size int64
	exportLines(b, fx, func(_ string, _ int, item []byte) {
		if len(item) < 4<<10 { // the small items: the large one dominates otherwise
			items = append(items, bytes.Clone(item))
			size += int64(len(item))
		}
	})
	c := NewConverter()
	s := fx.snap
	s.DataFile = "f"
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for i, item := range items {
			if _, err := c.ConvertItem(item, &s, i+1); err != nil {
				b.Fatal(err)
			}
		}
	}
}
