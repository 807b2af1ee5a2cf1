package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Inputs AWS never sends, fed by hand: member names written with escapes,
// numbers DynamoDB cannot hold, and values nested deeper than the walk
// goes. Each gets an answer for its record alone: decoded as the same
// input without escapes, or a *ConversionError that sends the record (or
// the export's line) to _errors/ with its reason.

// convertAll converts a fixture event and returns each record's line, or
// its error as "error: <reason>".
func convertAll(t *testing.T, c *Converter, payload []byte) []string {
	t.Helper()
	var out []string
	_, err := c.ConvertEvent(payload, func(r *Record) error {
		if r.Err != nil {
			out = append(out, "error: "+r.Err.Error())
			return nil
		}
		if !json.Valid(r.Line) {
			t.Errorf("record %d: invalid line %s", r.Index, r.Line)
		}
		out = append(out, string(r.Line))
		return nil
	})
	if err != nil {
		t.Fatalf("ConvertEvent: %v", err)
	}
	return out
}

// TestEscapedNamesDecode: every member name of the event (Records,
// eventName, dynamodb, Keys, NewImage, OldImage, SequenceNumber, the type
// names S, N, M, L, ..., and the attribute names themselves), and the
// envelope's string values, may be written with JSON escapes. The
// fixture's records come in pairs, the second the first with escapes; each
// pair must give the very same line, in both image formats.
func TestEscapedNamesDecode(t *testing.T) {
	payload, err := os.ReadFile("testdata/escaped_names.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []ImageFormat{Plain, DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			lines := convertAll(t, NewConverter(WithImageFormat(format)), payload)
			if len(lines) != 4 {
				t.Fatalf("%d records; want 4", len(lines))
			}
			for i := 0; i < len(lines); i += 2 {
				if strings.HasPrefix(lines[i], "error") || lines[i] != lines[i+1] {
					t.Errorf("record %d differs from its escaped copy %d:\nplain   %s\nescaped %s", i, i+1, lines[i], lines[i+1])
				}
			}
		})
	}
	lines := convertAll(t, NewConverter(), payload)
	for _, want := range []string{
		`"eventName":"INSERT","table":"Orders","keys":{"pk":"order#1","sk":1},"newImage":{"pk":"order#1","sk":1,"name":"Ada",` +
			`"quote\"d":"q","back\\slash":true,"été":19.990,"tab\t":null,"a/b":[{"inner<>":["x"]},[1,2]],"bin":"AQ==","bins":["AQ=="]}`,
		`"sequenceNumber":"442158450000000000000101"`,
	} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("escaped INSERT %s\nlacks %s", lines[1], want)
		}
	}
	for _, want := range []string{`"eventName":"REMOVE","table":"Sessions"`, `"oldImage":{"session":"s-1","expiresAt":1795453000}`,
		`"sequenceNumber":"442158450000000000000102"`, `"ttlDelete":true`} {
		if !strings.Contains(lines[3], want) {
			t.Errorf("escaped TTL delete %s\nlacks %s", lines[3], want)
		}
	}
}

// TestEscapedNewImage is the case as reported: "\u004eewImage" is NewImage.
func TestEscapedNewImage(t *testing.T) {
	p := bytes.Replace(oneRecord(`{"id":{"S":"k"},"n":{"N":"5"}}`), []byte(`"NewImage"`), []byte(`"\u004eewImage"`), 1)
	r := convertOne(t, p)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := `"newImage":{"id":"k","n":5}`; !bytes.Contains(r.Line, []byte(want)) {
		t.Errorf("line %s lacks %s", r.Line, want)
	}
}

// TestEscapedEnvelopeValues: the envelope's string values are compared and
// kept as text, so an escape in them is resolved too, and the text
// outlives the record (the streamer keeps a batch's first and last
// sequence numbers while it converts the next records).
func TestEscapedEnvelopeValues(t *testing.T) {
	p := oneRecord(`{}`)
	for old, escaped := range map[string]string{
		`"INSERT"`: `"\u0049NSERT"`,
		`"1"`:      `"\u0031"`,
		`table/T1`: `table\/T1`,
	} {
		p = bytes.Replace(p, []byte(old), []byte(escaped), 1)
	}
	var seq, table []byte
	n, err := NewConverter().ConvertEvent(p, func(r *Record) error {
		if r.Err != nil {
			return r.Err
		}
		seq, table = r.SequenceNumber, r.Table
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("ConvertEvent = %d, %v", n, err)
	}
	if string(seq) != "1" || string(table) != "T1" {
		t.Errorf("sequence number %q, table %q; want 1, T1", seq, table)
	}
	r := convertOne(t, bytes.Replace(oneRecord(`{}`), []byte(`"INSERT"`), []byte(`"IN\ud800"`), 1))
	if r.Err == nil || r.Err.Error() != `eventName: string has an unpaired surrogate \ud800` {
		t.Errorf("unpaired surrogate in eventName: err = %v", r.Err)
	}
}

// TestImageNamesAreCanonical: an image's attribute names are written as
// the canonical writer writes keys (only '"', '\' and control characters
// escaped), so the same item has the same bytes from the stream, an export
// or a Scan whatever its encoder escaped.
func TestImageNamesAreCanonical(t *testing.T) {
	snap := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "id"}, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	tests := []struct{ name, want string }{
		{`plain`, `plain`},
		{`\u0061b`, `ab`},
		{`a\/b`, `a/b`},
		{`caf\u00e9`, `café`},
		{`\ud83d\ude00`, `😀`},
		{`q\u0022`, `q\"`},
		{`b\u005c`, `b\\`},
		{`\u001f\u0009\n\u000a`, `\u001f\t\n\n`},
		{`\u003c\u0026\u003e`, `<&>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item := `{"id":{"S":"k"},"` + tc.name + `":{"N":"1"}}`
			want := `{"id":"k","` + tc.want + `":1}`
			r := convertOne(t, oneRecord(item))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if !bytes.Contains(r.Line, []byte(`"newImage":`+want)) {
				t.Errorf("stream line %s lacks newImage %s", r.Line, want)
			}
			line, err := NewConverter().ConvertItem([]byte(`{"Item":`+item+`}`), snap, 1)
			if err != nil || !bytes.Contains(line, []byte(`"newImage":`+want)) {
				t.Errorf("snapshot line %s, %v; want newImage %s", line, err, want)
			}
			img, err := NewConverter().AppendImage(nil, []byte(item))
			if err != nil || string(img) != want {
				t.Errorf("AppendImage = %s, %v; want %s", img, err, want)
			}
		})
	}
	r := convertOne(t, oneRecord(`{"id":{"S":"k"},"x\ud800":{"N":"1"}}`))
	if r.Err == nil || r.Err.Error() != `dynamodb.NewImage.x\ud800: string has an unpaired surrogate \ud800` {
		t.Errorf("unpaired surrogate in a name: err = %v", r.Err)
	}
}

// TestEscapedExportItems: an export's line may be escaped as a stream
// record may; the fixture's lines are the escaped_names.json INSERT's item,
// plainly and with escapes. Both give the same snapshot line, whose keys
// and newImage are the stream line's bytes.
func TestEscapedExportItems(t *testing.T) {
	f, err := os.Open("testdata/items/escaped_names.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items [][]byte
	for sc := bufio.NewScanner(f); sc.Scan(); {
		items = append(items, bytes.Clone(sc.Bytes()))
	}
	payload, err := os.ReadFile("testdata/escaped_names.json")
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{Table: "Orders", Keys: KeySchema{PartitionKey: "pk", SortKey: "sk"}, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	for _, format := range []ImageFormat{Plain, DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			var stream struct{ Keys, NewImage json.RawMessage }
			if err := json.Unmarshal([]byte(convertAll(t, NewConverter(WithImageFormat(format)), payload)[0]), &stream); err != nil {
				t.Fatal(err)
			}
			c := NewConverter(WithImageFormat(format))
			for i, item := range items {
				line, err := c.ConvertItem(item, snap, 1)
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				var got struct{ Keys, NewImage json.RawMessage }
				if err := json.Unmarshal(line, &got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Keys, stream.Keys) || !bytes.Equal(got.NewImage, stream.NewImage) {
					t.Errorf("line %d: keys %s newImage %s;\nthe stream line's are %s and %s", i+1, got.Keys, got.NewImage, stream.Keys, stream.NewImage)
				}
			}
		})
	}
}

// TestNumbersDynamoDBHolds: an N value DynamoDB cannot hold (more than 38
// significant digits, or a magnitude outside 1E-130 to
// 9.9999999999999999999999999999999999999E+125) fails its record, wherever
// it is (image, key, set, nested map), in both image formats. Record 0
// holds the boundary values DynamoDB does accept.
func TestNumbersDynamoDBHolds(t *testing.T) {
	const rng = "is out of DynamoDB's range (zero, or a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125)"
	want := []string{
		"",
		`dynamodb.NewImage.huge: N value "1e999" ` + rng,
		`dynamodb.NewImage.precise: N value "123456789012345678901234567890123456789" has more than 38 significant digits, more than DynamoDB holds`,
		`dynamodb.Keys.at: N value "1E+126" ` + rng,
		`dynamodb.NewImage.s[1]: N value "1E-131" ` + rng,
		`dynamodb.OldImage.m.n: N value "-1e999" ` + rng,
		`dynamodb.NewImage.small: N value "0.1E-130" ` + rng,
		`dynamodb.NewImage.nines: N value "9.99999999999999999999999999999999999999E+125" has more than 38 significant digits, more than DynamoDB holds`,
		"",
	}
	payload, err := os.ReadFile("testdata/bad_numbers.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []ImageFormat{Plain, DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			var got []string
			for _, l := range convertAll(t, NewConverter(WithImageFormat(format)), payload) {
				reason, _ := strings.CutPrefix(l, "error: ")
				if reason == l {
					reason = ""
				}
				got = append(got, reason)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

// TestTooDeepFailsItsRecordAlone: a record whose attribute values nest
// deeper than the walk goes (maxDepth) fails alone, with its reason and its
// envelope (sequence number, table, time) kept; the batch's other records
// convert. Nesting in a member the converter does not read is skipped
// however deep, and a value as deep as DynamoDB nests (32 levels)
// converts.
func TestTooDeepFailsItsRecordAlone(t *testing.T) {
	payload, err := os.ReadFile("testdata/bad_deep_record.json")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		index  int
		prefix string // of the reason; "" when the record converts
		deep   bool   // the reason is the nesting
	}
	want := []outcome{
		{0, "", false},
		{1, "dynamodb.NewImage.doc.a.a.a.a.", true},
		{2, "", false},
		{3, "dynamodb.OldImage.doc[0][0][0]", true},
		{4, "", false},
		{5, "", false},
	}
	for _, format := range []ImageFormat{Plain, DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			var got []outcome
			_, err := NewConverter(WithImageFormat(format)).ConvertEvent(payload, func(r *Record) error {
				o := outcome{index: r.Index}
				if r.Err != nil {
					reason := r.Err.Error()
					if len(reason) > 600 {
						t.Errorf("record %d: reason of %d bytes", r.Index, len(reason))
					}
					o.prefix, o.deep = reason[:min(len(reason), 30)], strings.HasSuffix(reason, ": nesting deeper than 200 levels")
				} else if !json.Valid(r.Line) {
					t.Errorf("record %d: invalid line", r.Index)
				}
				if string(r.Table) != "Readings" || r.SequenceNumber == nil || r.Created.IsZero() {
					t.Errorf("record %d: envelope lost: table %q seq %q time %v", r.Index, r.Table, r.SequenceNumber, r.Created)
				}
				got = append(got, o)
				return nil
			})
			if err != nil {
				t.Fatalf("ConvertEvent: %v; want the deep records to fail alone", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("outcomes:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestTooDeepExportItem: the same rules hold for an export's line: too
// deep is a *ConversionError for the line, a syntax fault however deep is
// a *SyntaxError, and deep JSON outside the Item is skipped.
func TestTooDeepExportItem(t *testing.T) {
	snap := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk"}, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	deep := func(levels int) string {
		return `{"pk":{"S":"a"},"doc":` + strings.Repeat(`{"L":[`, levels) + `{"NULL":true}` + strings.Repeat(`]}`, levels) + `}`
	}
	c := NewConverter()
	if _, err := c.ConvertItem([]byte(`{"Item":`+deep(32)+`}`), snap, 1); err != nil {
		t.Errorf("32 levels: %v", err)
	}
	_, err := c.ConvertItem([]byte(`{"Item":`+deep(150)+`}`), snap, 1)
	var ce *ConversionError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Error(), "Item.doc[0][0]") || !strings.HasSuffix(ce.Error(), ": nesting deeper than 200 levels") {
		t.Errorf("150 levels: err = %v; want a *ConversionError, nesting deeper than 200 levels", err)
	}
	_, err = c.ConvertItem([]byte(`{"Item":{"pk":{"S":"a"}},"x":`+strings.Repeat("[", 100000)+`}`), snap, 1)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("deep and unterminated: err = %v; want a *SyntaxError", err)
	}
	line, err := c.ConvertItem([]byte(`{"x":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`,"Item":{"pk":{"S":"a"}}}`), snap, 1)
	if err != nil || !bytes.Contains(line, []byte(`"newImage":{"pk":"a"}`)) {
		t.Errorf("deep JSON beside the Item: %s, %v", line, err)
	}
	if _, err := c.AppendImage(nil, []byte(deep(150))); !errors.As(err, &ce) {
		t.Errorf("AppendImage of 150 levels: err = %v; want a *ConversionError", err)
	}
}

// TestNumbersInExportItems: an export's line with a number DynamoDB cannot
// hold is a *ConversionError, as a stream record's is.
func TestNumbersInExportItems(t *testing.T) {
	snap := &Snapshot{Table: "T", Keys: KeySchema{PartitionKey: "pk", SortKey: "sk"}, ExportTime: time.Unix(1795449600, 0), ExportID: "e", DataFile: "f"}
	tests := []struct{ item, want string }{
		{`{"Item":{"pk":{"S":"a"},"sk":{"N":"1e999"}}}`, `Item.sk: N value "1e999" is out of DynamoDB's range`},
		{`{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"NS":["1","123456789012345678901234567890123456789"]}}}`,
			`Item.v[1]: N value "123456789012345678901234567890123456789" has more than 38 significant digits`},
		{`{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"m":{"M":{"x":{"N":"-1E-131"}}}}}`, `Item.m.x: N value "-1E-131" is out of DynamoDB's range`},
	}
	for _, tc := range tests {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			_, err := NewConverter(WithImageFormat(format)).ConvertItem([]byte(tc.item), snap, 1)
			var ce *ConversionError
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%s (%s): err = %v; want a *ConversionError %q", tc.item, format, err, tc.want)
			}
		}
	}
	long := `{"Item":{"pk":{"S":"a"},"sk":{"N":"1` + strings.Repeat("0", 10000) + `1"}}}`
	if _, err := NewConverter().ConvertItem([]byte(long), snap, 1); err == nil || len(err.Error()) > 300 {
		t.Errorf("a 10,000-digit number: err of %d bytes, %.300v", len(err.Error()), err)
	}
}
