package record

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fixtures")

// fixtures lists the well-formed fixture events.
func fixtures(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range all {
		if !strings.HasPrefix(filepath.Base(f), "malformed_") {
			out = append(out, f)
		}
	}
	if len(out) < 8 {
		t.Fatalf("found only %d fixtures", len(out))
	}
	return out
}

// render converts an event into the lines a golden file holds: each
// converted line, or the record's index and error.
func render(t testing.TB, c *Converter, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := c.ConvertEvent(payload, func(r *Record) error {
		if r.Err != nil {
			fmt.Fprintf(&buf, "{\"index\":%d,\"sequenceNumber\":%q,\"error\":%q}\n", r.Index, r.SequenceNumber, r.Err.Error())
			return nil
		}
		buf.Write(r.Line)
		buf.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatalf("ConvertEvent: %v", err)
	}
	return buf.Bytes()
}

func TestLargeItemFixture(t *testing.T) {
	const path = "testdata/large_item.json"
	if *update {
		o := eventgen.DefaultOptions()
		o.Records, o.ItemBytes, o.Table = 1, 399*1024, "Documents"
		if err := os.WriteFile(path, eventgen.Event(o), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	payload, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	n, err := NewConverter().ConvertEvent(payload, func(r *Record) error {
		if r.Err != nil {
			return r.Err
		}
		lines = append(lines, bytes.Clone(r.Line))
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("ConvertEvent = %d, %v; want 1 record", n, err)
	}
	if len(lines[0]) < 399*1024 {
		t.Errorf("line is %d bytes; the 400 KB item was not carried whole", len(lines[0]))
	}
	if !json.Valid(lines[0]) {
		t.Error("line is not valid JSON")
	}
}

func TestGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			t.Run(name+"/"+format.String(), func(t *testing.T) {
				payload, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				got := render(t, NewConverter(WithImageFormat(format)), payload)
				golden := filepath.Join("testdata", "golden", name+"."+format.String()+".jsonl")
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
					t.Errorf("output differs from %s (run go test -update after checking):\ngot:\n%s\nwant:\n%s", golden, got, want)
				}
				for _, line := range bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
					if !json.Valid(line) {
						t.Errorf("line is not valid JSON: %s", line)
					}
				}
			})
		}
	}
}

// plainValue is the reference mapping of an attribute value to plain JSON,
// built from aws-lambda-go's own decoding.
func plainValue(t testing.TB, av events.DynamoDBAttributeValue) any {
	t.Helper()
	switch av.DataType() {
	case events.DataTypeString:
		return av.String()
	case events.DataTypeNumber:
		return json.Number(av.Number())
	case events.DataTypeBinary:
		return base64.StdEncoding.EncodeToString(av.Binary())
	case events.DataTypeBoolean:
		return av.Boolean()
	case events.DataTypeNull:
		return nil
	case events.DataTypeStringSet:
		out := []any{}
		for _, s := range av.StringSet() {
			out = append(out, s)
		}
		return out
	case events.DataTypeNumberSet:
		out := []any{}
		for _, s := range av.NumberSet() {
			out = append(out, json.Number(s))
		}
		return out
	case events.DataTypeBinarySet:
		out := []any{}
		for _, b := range av.BinarySet() {
			out = append(out, base64.StdEncoding.EncodeToString(b))
		}
		return out
	case events.DataTypeList:
		out := []any{}
		for _, v := range av.List() {
			out = append(out, plainValue(t, v))
		}
		return out
	case events.DataTypeMap:
		return plainMap(t, av.Map())
	}
	t.Fatalf("unknown data type %v", av.DataType())
	return nil
}

func plainMap(t testing.TB, m map[string]events.DynamoDBAttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = plainValue(t, v)
	}
	return out
}

func decodeLine(t testing.TB, line []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	return m
}

// TestMatchesReference checks every converted line against the slow,
// obvious conversion through aws-lambda-go's event types.
func TestMatchesReference(t *testing.T) {
	payloads := map[string][]byte{"generated": eventgen.Event(eventgen.Options{
		Records: 300, ItemBytes: 300, Table: "Gen", Start: time.Unix(1795453445, 0), FirstSequence: 1, Seed: 7})}
	for _, path := range fixtures(t) {
		if strings.HasPrefix(filepath.Base(path), "bad_") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		payloads[filepath.Base(path)] = b
	}
	for name, payload := range payloads {
		t.Run(name, func(t *testing.T) {
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			n, err := NewConverter().ConvertEvent(payload, func(r *Record) error {
				if r.Err != nil {
					return r.Err
				}
				ref := ev.Records[r.Index]
				got := decodeLine(t, r.Line)
				arn := strings.Split(ref.EventSourceArn, "/")
				key, err := orderkey.Stream(ref.Change.ApproximateCreationDateTime.Time, ref.Change.SequenceNumber)
				if err != nil {
					t.Fatalf("record %d: %v", r.Index, err)
				}
				want := map[string]any{
					"eventID":                     ref.EventID,
					"eventName":                   ref.EventName,
					"table":                       arn[1],
					"keys":                        plainMap(t, ref.Change.Keys),
					"sequenceNumber":              ref.Change.SequenceNumber,
					"approximateCreationDateTime": ref.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339Nano),
					"orderKey":                    key,
					"sizeBytes":                   json.Number(fmt.Sprint(ref.Change.SizeBytes)),
					"streamViewType":              ref.Change.StreamViewType,
					"ttlDelete": ref.EventName == "REMOVE" && ref.UserIdentity != nil &&
						ref.UserIdentity.Type == "Service" && ref.UserIdentity.PrincipalID == "dynamodb.amazonaws.com",
				}
				if ref.Change.NewImage != nil {
					want["newImage"] = plainMap(t, ref.Change.NewImage)
				}
				if ref.Change.OldImage != nil {
					want["oldImage"] = plainMap(t, ref.Change.OldImage)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("record %d:\ngot  %v\nwant %v", r.Index, got, want)
				}
				return nil
			})
			if err != nil || n != len(ev.Records) {
				t.Fatalf("ConvertEvent = %d, %v; want %d records", n, err, len(ev.Records))
			}
		})
	}
}

// TestDynamoDBFormatRoundTrip checks that the typed image format decodes
// back to exactly the attribute values that came in.
func TestDynamoDBFormatRoundTrip(t *testing.T) {
	for _, path := range fixtures(t) {
		if strings.HasPrefix(filepath.Base(path), "bad_") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			payload, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			_, err = NewConverter(WithImageFormat(DynamoDB)).ConvertEvent(payload, func(r *Record) error {
				var got struct {
					Keys     map[string]events.DynamoDBAttributeValue `json:"keys"`
					NewImage map[string]events.DynamoDBAttributeValue `json:"newImage"`
					OldImage map[string]events.DynamoDBAttributeValue `json:"oldImage"`
				}
				if err := json.Unmarshal(r.Line, &got); err != nil {
					t.Fatalf("record %d: %v", r.Index, err)
				}
				ch := ev.Records[r.Index].Change
				if !reflect.DeepEqual(got.Keys, ch.Keys) || !reflect.DeepEqual(got.NewImage, ch.NewImage) ||
					!reflect.DeepEqual(got.OldImage, ch.OldImage) {
					t.Errorf("record %d images differ after the round trip", r.Index)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func oneRecord(image string) []byte {
	return []byte(`{"Records":[{"eventID":"e","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1795453445,` +
		`"Keys":{"id":{"S":"k"}},"NewImage":` + image + `,"SequenceNumber":"1","SizeBytes":1},` +
		`"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/T1/stream/2026-11-01T00:00:00.000"}]}`)
}

func convertOne(t *testing.T, payload []byte) *Record {
	t.Helper()
	var got Record
	n, err := NewConverter().ConvertEvent(payload, func(r *Record) error {
		got = *r
		got.Line = bytes.Clone(r.Line)
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("ConvertEvent = %d, %v", n, err)
	}
	return &got
}

func TestNumbersAreExact(t *testing.T) {
	for _, n := range []string{
		"0", "-0", "7", "-12", "19.990", "0.1", "3.14159265358979323846264338327950288",
		"12345678901234567890123456789012345678", "-12345678901234567890123456789012345678",
		"1E+125", "1e-130", "9.9999999999999999999999999999999999999E+125", "-1.0E-130", "100000000000000000001",
	} {
		t.Run(n, func(t *testing.T) {
			r := convertOne(t, oneRecord(`{"n":{"N":"`+n+`"},"s":{"NS":["`+n+`"]}}`))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			want := `"newImage":{"n":` + n + `,"s":[` + n + `]}`
			if !bytes.Contains(r.Line, []byte(want)) {
				t.Errorf("line %s does not contain %s", r.Line, want)
			}
		})
	}
}

func TestConversionErrors(t *testing.T) {
	tests := []struct {
		name, image, want string
	}{
		{"unknown type", `{"a":{"X":"1"}}`, `dynamodb.NewImage.a: unknown attribute type "X"`},
		{"two types", `{"a":{"S":"1","N":"1"}}`, `dynamodb.NewImage.a: attribute value has more than one type`},
		{"no type", `{"a":{}}`, `dynamodb.NewImage.a: attribute value has no type`},
		{"not an object", `{"a":"plain"}`, `dynamodb.NewImage.a: attribute value must be an object such as {"S": "text"}`},
		{"bad number", `{"a":{"M":{"b":{"L":[{"N":"1"},{"N":"1,5"}]}}}}`, `dynamodb.NewImage.a.b[1]: N value "1,5" is not a number`},
		{"leading plus", `{"a":{"N":"+1"}}`, `dynamodb.NewImage.a: N value "+1" is not a number`},
		{"number not string", `{"a":{"N":1}}`, `dynamodb.NewImage.a: N value must be a string of digits`},
		{"string not string", `{"a":{"S":1}}`, `dynamodb.NewImage.a: S value must be a string`},
		{"bool as string", `{"a":{"BOOL":"true"}}`, `dynamodb.NewImage.a: BOOL value must be true or false`},
		{"null false", `{"a":{"NULL":false}}`, `dynamodb.NewImage.a: NULL value must be true`},
		{"set of numbers", `{"a":{"SS":[1]}}`, `dynamodb.NewImage.a[0]: set element must be a string`},
		{"list not array", `{"a":{"L":{}}}`, `dynamodb.NewImage.a: L value must be an array`},
		{"image not object", `[]`, `dynamodb.NewImage: must be an object of attribute values`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := convertOne(t, oneRecord(tc.image))
			if r.Err == nil {
				t.Fatalf("converted to %s; want an error", r.Line)
			}
			if r.Err.Error() != tc.want {
				t.Errorf("error = %q; want %q", r.Err, tc.want)
			}
			if string(r.SequenceNumber) != "1" || string(r.Table) != "T1" || r.Created.IsZero() {
				t.Errorf("envelope not kept for the error record: seq %q table %q time %v", r.SequenceNumber, r.Table, r.Created)
			}
		})
	}
}

func TestBadRecordsKeepTheirPlace(t *testing.T) {
	checkRecordErrors(t, "testdata/bad_records.json", []string{
		"",
		`dynamodb.NewImage.when: unknown attribute type "DATE"`,
		`dynamodb.NewImage.nested.list[1]: N value "12abc" is not a number`,
		`dynamodb.SequenceNumber: is missing`,
		`record must be a JSON object`,
		`eventName: "UPSERT" is not INSERT, MODIFY or REMOVE`,
		`dynamodb.Keys.id: attribute value has more than one type`,
		`eventSourceARN: "arn:aws:s3:::bucket" is not a DynamoDB stream ARN`,
		"",
	})
}

// TestOrderAndKeyErrors: a record that cannot be ordered, or whose keys
// cannot be written canonically, is a conversion error.
func TestOrderAndKeyErrors(t *testing.T) {
	checkRecordErrors(t, "testdata/bad_keys_and_order.json", []string{
		"",
		`dynamodb.ApproximateCreationDateTime: is missing, so the record has no order key`,
		`dynamodb.SequenceNumber: "50000000000000000000000000000000000000010" is not a sequence number (1 to 40 digits)`,
		`dynamodb.Keys.id: key attribute must be of type S, N or B, not "M"`,
		`dynamodb.Keys: key attribute "id" appears twice`,
		`dynamodb.Keys.id: string has an unpaired surrogate \ud800`,
	})
}

// checkRecordErrors converts the fixture at path and checks each record's
// error, "" for a record that converts.
func checkRecordErrors(t *testing.T, path string, want []string) {
	t.Helper()
	payload, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err = NewConverter().ConvertEvent(payload, func(r *Record) error {
		if r.Err == nil {
			got = append(got, "")
			if !json.Valid(r.Line) {
				t.Errorf("record %d: invalid line", r.Index)
			}
		} else {
			got = append(got, r.Err.Error())
			if !json.Valid(r.Raw) {
				t.Errorf("record %d: raw is not the record's JSON: %s", r.Index, r.Raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\ngot  %q\nwant %q", got, want)
	}
}

func TestMalformedEvents(t *testing.T) {
	truncated, err := os.ReadFile("testdata/malformed_truncated.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, payload, want string
	}{
		{"empty", ``, "event must be a JSON object"},
		{"array", `[]`, "event must be a JSON object"},
		{"truncated fixture", string(truncated), "unterminated string"},
		{"no records", `{"foo":1}`, "event has no Records array"},
		{"records not array", `{"Records":{}}`, "Records must be an array"},
		{"trailing data", `{"Records":[]} x`, "data after the event object"},
		{"corrupt tail after good records", `{"Records":[{"eventID":"a"},{"eventID":"b"}],"x":[1,}`, "unexpected character"},
		{"bad escape", `{"Records":[{"eventID":"\q"}]}`, "invalid escape"},
		{"control character", "{\"Records\":[{\"eventID\":\"a\x01\"}]}", "control character 0x01"},
		{"invalid utf-8", "{\"Records\":[{\"eventID\":\"\xff\"}]}", "invalid UTF-8"},
		{"bad literal", `{"Records":[tru]}`, "invalid literal"},
		{"bad number", `{"Records":[01]}`, `invalid number "01"`},
		{"missing comma", `{"Records":[{} {}]}`, "expected ',' or ']'"},
		{"deep and unterminated", `{"Records":[` + strings.Repeat("[", 100000), "unexpected end of input"},
		{"deep and mismatched", `{"Records":[` + strings.Repeat(`{"a":[`, 1000) + `1}` + `]}`, "expected ',' or ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewConverter().ConvertEvent([]byte(tc.payload), func(*Record) error { return nil })
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v; want *SyntaxError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q; want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPlain8(t *testing.T) {
	for i := 0; i < 256; i++ {
		for pos := 0; pos < 8; pos++ {
			w := []byte("abcdefgh")
			w[pos] = byte(i)
			want := true
			for _, c := range w {
				want = want && strPlain[c]
			}
			if got := plain8(binary.LittleEndian.Uint64(w)); got != want {
				t.Fatalf("plain8(%q) = %v; want %v", w, got, want)
			}
		}
	}
}

func TestEmptyRecords(t *testing.T) {
	n, err := NewConverter().ConvertEvent([]byte(`{"Records":[]}`), func(*Record) error {
		t.Fatal("callback for an empty batch")
		return nil
	})
	if n != 0 || err != nil {
		t.Fatalf("= %d, %v", n, err)
	}
}

func TestCallbackErrorStopsTheWalk(t *testing.T) {
	stop := errors.New("stop")
	n, err := NewConverter().ConvertEvent(oneRecord(`{}`), func(*Record) error { return stop })
	if err != stop || n != 1 {
		t.Fatalf("= %d, %v; want 1, stop", n, err)
	}
}

func TestCreationTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1795453445", "2026-11-23T17:04:05Z"},
		{"1795453445.5", "2026-11-23T17:04:05.5Z"},
		{"1795453445.123456789", "2026-11-23T17:04:05.123456789Z"},
		{"1.795453445E9", "2026-11-23T17:04:05Z"},
		{"0", "1970-01-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := bytes.Replace(oneRecord(`{}`), []byte("1795453445"), []byte(tc.in), 1)
			r := convertOne(t, p)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			want := `"approximateCreationDateTime":"` + tc.want + `"`
			if !bytes.Contains(r.Line, []byte(want)) {
				t.Errorf("line %s lacks %s", r.Line, want)
			}
		})
	}
	r := convertOne(t, bytes.Replace(oneRecord(`{}`), []byte("1795453445"), []byte("-5"), 1))
	if r.Err == nil || r.Err.Path != "dynamodb.ApproximateCreationDateTime" {
		t.Errorf("negative time: err = %v", r.Err)
	}
}

func TestParseImageFormat(t *testing.T) {
	for in, want := range map[string]ImageFormat{"plain": Plain, "dynamodb": DynamoDB} {
		if got, err := ParseImageFormat(in); err != nil || got != want || got.String() != in {
			t.Errorf("ParseImageFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseImageFormat("avro"); err == nil || !strings.Contains(err.Error(), `"avro"`) {
		t.Errorf("unknown format: err = %v", err)
	}
}

func TestConvertDoesNotAllocate(t *testing.T) {
	payload := eventgen.Event(eventgen.DefaultOptions())
	c := NewConverter()
	lines := 0
	fn := func(r *Record) error {
		if r.Err != nil {
			return r.Err
		}
		lines++
		return nil
	}
	if _, err := c.ConvertEvent(payload, fn); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := c.ConvertEvent(payload, fn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("ConvertEvent allocated %v times per batch of %d records; want 0", allocs, lines/4)
	}
}

func FuzzConvertEvent(f *testing.F) {
	for _, p := range fixtures(f) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Records":[{"dynamodb":{"Keys":{"a":{"L":[{"M":{"b":{"NS":["1e5"]}}}]}}}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, format := range []ImageFormat{Plain, DynamoDB} {
			n, err := NewConverter(WithImageFormat(format)).ConvertEvent(payload, func(r *Record) error {
				if r.Err == nil && !json.Valid(r.Line) {
					t.Fatalf("invalid line %q from %q", r.Line, payload)
				}
				if !json.Valid(r.Raw) {
					t.Fatalf("raw record is not JSON: %q", r.Raw)
				}
				return nil
			})
			if err == nil && !json.Valid(payload) {
				t.Fatalf("accepted invalid JSON %q (%d records)", payload, n)
			}
		}
	})
}

// TestEveryTruncationIsAnError cuts a real event at every byte: each cut
// must be reported as a syntax error, never a panic or a partial success.
func TestEveryTruncationIsAnError(t *testing.T) {
	payload, err := os.ReadFile("testdata/modify_new_and_old.json")
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.TrimSpace(payload)
	c := NewConverter()
	for n := 0; n < len(payload); n++ {
		_, err := c.ConvertEvent(payload[:n], func(*Record) error { return nil })
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("cut at %d of %d: err = %v; want *SyntaxError", n, len(payload), err)
		}
	}
}
