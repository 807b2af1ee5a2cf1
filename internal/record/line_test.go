package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

// topLevelKeys returns the keys of the JSON object line in their order.
func topLevelKeys(t *testing.T, line []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %s does not start an object: %v", line, err)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
	}
	return keys
}

// TestLineFieldOrder holds the line assembly to the Fields table: every
// stream line carries its fields in the table's order, leaves out only the
// optional ones, and across the fixtures every field is written; every
// snapshot line carries the fields a snapshot has, in the same order.
func TestLineFieldOrder(t *testing.T) {
	optional := map[string]bool{
		FieldNewImage: true, FieldOldImage: true, FieldSizeBytes: true, FieldStreamViewType: true,
	}
	payloads := map[string][]byte{"generated": eventgen.Event(eventgen.DefaultOptions())}
	for _, path := range fixtures(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		payloads[filepath.Base(path)] = b
	}
	seen := map[string]bool{}
	for name, payload := range payloads {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			_, err := NewConverter(WithImageFormat(format)).ConvertEvent(payload, func(r *Record) error {
				if r.Err != nil {
					return nil
				}
				var want []string
				keys := topLevelKeys(t, r.Line)
				for _, f := range Fields() {
					if slices.Contains(keys, f) || !optional[f] {
						want = append(want, f)
					}
				}
				if !slices.Equal(keys, want) {
					t.Errorf("%s/%s record %d: fields %q; want %q", name, format, r.Index, keys, want)
				}
				for _, k := range keys {
					seen[k] = true
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// A snapshot line has every field but the stream's own.
	var want []string
	for _, f := range Fields() {
		switch f {
		case FieldOldImage, FieldSequenceNumber, FieldSizeBytes, FieldStreamViewType:
		default:
			want = append(want, f)
		}
	}
	for table, fx := range exportFixtures(t) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			c := NewConverter(WithImageFormat(format))
			exportLines(t, fx, func(file string, n int, item []byte) {
				s := fx.snap
				s.DataFile = file
				line, err := c.ConvertItem(item, &s, n)
				if err != nil {
					t.Fatalf("%s %s:%d: %v", table, file, n, err)
				}
				if keys := topLevelKeys(t, line); !slices.Equal(keys, want) {
					t.Errorf("%s/%s %s:%d: fields %q; want %q", table, format, file, n, keys, want)
				}
			})
		}
	}
	for _, f := range Fields() {
		if !seen[f] {
			t.Errorf("no fixture line has the field %q", f)
		}
	}
}

func TestFieldsIsACopy(t *testing.T) {
	f := Fields()
	f[0] = "changed"
	if Fields()[0] != FieldEventID {
		t.Error("changing the slice Fields returned changed the record format")
	}
	if len(Fields()) != len(fields) || len(fields) != 12 {
		t.Errorf("Fields() has %d names; want the 12 of the record format", len(Fields()))
	}
}
