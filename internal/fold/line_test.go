package fold

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

const ok52 = "01795406400s0000000000000000000100000000000000000001"

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		kind  Kind
		keys  string
		order string
		image string
		// err: "" for none, "syntax" or "parse" for the error's type.
		err string
	}{
		{"put", `{"eventName":"MODIFY","keys":{"pk":"a"},"newImage":{"pk":"a","v":[1,{"x":"}"}]},"oldImage":{"pk":"a"},"orderKey":"` + ok52 + `"}`,
			Put, `{"pk":"a"}`, ok52, `{"pk":"a","v":[1,{"x":"}"}]}`, ""},
		{"fields in another order, with space", ` { "orderKey" : "` + ok52 + `" , "newImage" : { } , "keys":{"pk":"a"}, "eventName":"SNAPSHOT" } `,
			Put, `{"pk":"a"}`, ok52, `{ }`, ""},
		{"remove ignores any image", `{"eventName":"REMOVE","keys":{"pk":"a"},"newImage":{"x":1},"orderKey":"` + ok52 + `"}`,
			Remove, `{"pk":"a"}`, ok52, "", ""},
		{"insert without image", `{"eventName":"INSERT","keys":{"pk":"a"},"orderKey":"` + ok52 + `","ttlDelete":false}`,
			NoImage, `{"pk":"a"}`, ok52, "", ""},
		{"escapes in skipped strings", `{"eventID":"a\"b\\","eventName":"INSERT","keys":{"pk":"\u00e9\""},"newImage":{"s":"\\\""},"orderKey":"` + ok52 + `"}`,
			Put, `{"pk":"\u00e9\""}`, ok52, `{"s":"\\\""}`, ""},
		{"not an object", `[1]`, 0, "", "", "", "syntax"},
		{"empty object", `{}`, 0, "", "", "", "parse"},
		{"truncated", `{"eventName":"INSERT","keys":{"pk":"a"`, 0, "", "", "", "syntax"},
		{"truncated string", `{"eventName":"INS`, 0, "", "", "", "syntax"},
		{"mismatched brackets", `{"eventName":"INSERT","keys":{"pk":["a"}},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "syntax"},
		{"data after the object", `{"eventName":"INSERT","keys":{"pk":"a"},"orderKey":"` + ok52 + `"} x`, 0, "", "", "", "syntax"},
		{"missing comma", `{"eventName":"INSERT" "keys":{}}`, 0, "", "", "", "syntax"},
		{"bad scalar", `{"eventName":"INSERT","sizeBytes":12x,"keys":{"pk":"a"},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "syntax"},
		{"control character in a string", "{\"eventID\":\"a\nb\"}", 0, "", "", "", "syntax"},
		{"no order key", `{"eventName":"INSERT","keys":{"pk":"a"}}`, 0, "", "", "", "parse"},
		{"short order key", `{"eventName":"INSERT","keys":{"pk":"a"},"orderKey":"0179540640s1"}`, 0, "", "", "", "parse"},
		{"order key of another kind", `{"eventName":"INSERT","keys":{"pk":"a"},"orderKey":"` + strings.Replace(ok52, "s", "x", 1) + `"}`, 0, "", "", "", "parse"},
		{"unknown event", `{"eventName":"UPSERT","keys":{"pk":"a"},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "parse"},
		{"snapshot without image", `{"eventName":"SNAPSHOT","keys":{"pk":"a"},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "parse"},
		{"keys twice", `{"eventName":"INSERT","keys":{"pk":"a"},"keys":{"pk":"b"},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "parse"},
		{"keys not an object", `{"eventName":"INSERT","keys":"a","orderKey":"` + ok52 + `"}`, 0, "", "", "", "parse"},
		{"event name not a string", `{"eventName":1,"keys":{"pk":"a"},"orderKey":"` + ok52 + `"}`, 0, "", "", "", "parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.line))
			var se *SyntaxError
			var pe *ParseError
			gotErr := ""
			switch {
			case errors.As(err, &se):
				gotErr = "syntax"
			case errors.As(err, &pe):
				gotErr = "parse"
			case err != nil:
				gotErr = "other: " + err.Error()
			}
			if gotErr != tc.err {
				t.Fatalf("error: got %q (%v), expect %q", gotErr, err, tc.err)
			}
			if err != nil {
				return
			}
			if got.Kind != tc.kind {
				t.Errorf("kind: got %v, expect %v", got.Kind, tc.kind)
			}
			if string(got.Keys) != tc.keys {
				t.Errorf("keys: got %s, expect %s", got.Keys, tc.keys)
			}
			if string(got.OrderKey) != tc.order {
				t.Errorf("order key: got %s, expect %s", got.OrderKey, tc.order)
			}
			if string(got.Image) != tc.image {
				t.Errorf("image: got %s, expect %s", got.Image, tc.image)
			}
		})
	}
}

// TestParseConverterLines: the lines the converter writes, in both image
// formats, stream and snapshot, parse to their own fields.
func TestParseConverterLines(t *testing.T) {
	for _, format := range []record.ImageFormat{record.Plain, record.DynamoDB} {
		stream, err := foldtest.StreamLines(format, ins("a", 1, "1", "1", t0), rem("a", 1, "2", t0),
			foldtest.Change{Event: "INSERT", Keys: keys("k", 2), Seq: "3", Created: t0, ViewType: "KEYS_ONLY"})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := foldtest.SnapshotLines(format, t0, item("a", 1, "5"))
		if err != nil {
			t.Fatal(err)
		}
		expectKinds := []Kind{Put, Remove, NoImage, Put}
		for i, line := range append(stream, snap...) {
			got, err := Parse(line)
			if err != nil {
				t.Fatalf("%v line %d: %v", format, i, err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(line, &fields); err != nil {
				t.Fatal(err)
			}
			var ok string
			_ = json.Unmarshal(fields[record.FieldOrderKey], &ok)
			if _, err := orderkey.Parse(ok); err != nil {
				t.Errorf("%v line %d: %v", format, i, err)
			}
			if got.Kind != expectKinds[i] {
				t.Errorf("%v line %d: kind: got %v, expect %v", format, i, got.Kind, expectKinds[i])
			}
			if string(got.Keys) != string(fields[record.FieldKeys]) {
				t.Errorf("%v line %d: keys: got %s, expect %s", format, i, got.Keys, fields[record.FieldKeys])
			}
			if string(got.OrderKey) != ok {
				t.Errorf("%v line %d: order key: got %s, expect %s", format, i, got.OrderKey, ok)
			}
			if expect := fields[record.FieldNewImage]; got.Kind == Put && string(got.Image) != string(expect) {
				t.Errorf("%v line %d: image: got %s, expect %s", format, i, got.Image, expect)
			}
		}
	}
}

// FuzzParse: Parse never panics, rejects what is not JSON structure, and
// on valid JSON agrees with encoding/json about the fields it reads.
func FuzzParse(f *testing.F) {
	lines, _ := foldtest.StreamLines(record.Plain, ins("a", 1, "1", "1", t0), mod("a\u00e9\"", 1, "2", "2", t0), rem("a", 1, "3", t0))
	for _, l := range lines {
		f.Add(l)
	}
	f.Add([]byte(`{"eventName":"INSERT","keys":{"pk":[[[[{}]]]]},"orderKey":"` + ok52 + `"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := Parse(line)
		if err != nil {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(line, &fields) != nil {
			// Parse checks structure, not scalar grammar or UTF-8: a line
			// it accepts may still be invalid JSON only in those.
			return
		}
		if !bytes.Equal(got.Keys, fields[record.FieldKeys]) {
			t.Errorf("keys: got %s, expect %s", got.Keys, fields[record.FieldKeys])
		}
		if got.Kind == Put && !bytes.Equal(got.Image, fields[record.FieldNewImage]) {
			t.Errorf("image: got %s, expect %s", got.Image, fields[record.FieldNewImage])
		}
	})
}

func TestObjectReader(t *testing.T) {
	long := strings.Repeat("x", 600<<10) // longer than the read buffer
	tests := []struct {
		name   string
		body   []byte
		expect []string
		err    bool
	}{
		{"gzip", foldtest.Gzip([][]byte{[]byte("a"), []byte("bb")}), []string{"1:a", "2:bb"}, false},
		{"plain, no final newline", []byte("a\n\nc"), []string{"1:a", "3:c"}, false},
		{"a long line", foldtest.Gzip([][]byte{[]byte(long), []byte("z")}), []string{"1:" + long, "2:z"}, false},
		{"empty", nil, nil, false},
		{"corrupt gzip", append(foldtest.Gzip([][]byte{[]byte("a")})[:12], 0, 0, 0), nil, true},
	}
	r := NewObjectReader()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			n, err := r.Read(bytes.NewReader(tc.body), func(no int, line []byte) error {
				got = append(got, strconv.Itoa(no)+":"+string(line))
				return nil
			})
			if (err != nil) != tc.err {
				t.Fatalf("error: got %v, expect one: %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if n != len(tc.expect) {
				t.Errorf("lines: got %d, expect %d", n, len(tc.expect))
			}
			if strings.Join(got, "|") != strings.Join(tc.expect, "|") {
				t.Errorf("got %.80q, expect %.80q", got, tc.expect)
			}
		})
	}
}
