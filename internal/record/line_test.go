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
// line carries its fields in the table's order, leaves out only the
// optional ones, and across the fixtures every field is written.
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
	if len(Fields()) != len(fields) || len(fields) != 11 {
		t.Errorf("Fields() has %d names; want the 11 of the record format", len(Fields()))
	}
}
