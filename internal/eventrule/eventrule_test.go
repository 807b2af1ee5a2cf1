package eventrule

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadMap decodes a fixture as encoding/json does, the shape Document
// promises.
func loadMap(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(load(t, name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEventRuleDocumentIsThePatternAsDeployed(t *testing.T) {
	expect := loadMap(t, "pattern.json")
	for name, p := range map[string]Pattern{
		"ObjectCreated": ObjectCreated("cdc-bucket", "cdc/table=", ".jsonl.gz"),
		"Forwarder":     Forwarder("cdc-bucket", "cdc"),
	} {
		if got := p.Document(); !reflect.DeepEqual(got, expect) {
			t.Errorf("%s: Document()\n got %#v\nwant %#v", name, got, expect)
		}
	}
}

func TestEventRuleDocumentKeepsTokensAndEscapesWildcards(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		bucket, prefix, suffix string
		expectBucket           string
		expectFilters          []string
	}{
		{"plain", "b", "cdc/table=", ".jsonl.gz", "b", []string{"cdc/table=*.jsonl.gz", "cdc/table%3D*.jsonl.gz"}},
		{"token bucket", "${Token[TOKEN.123]}", "cdc/table=", ".jsonl.gz", "${Token[TOKEN.123]}", []string{"cdc/table=*.jsonl.gz", "cdc/table%3D*.jsonl.gz"}},
		{"star and backslash", "b", `a*b\c/`, `*.gz`, "b", []string{`a\*b\\c/*\*.gz`, `a%2Ab%5Cc/*%2A.gz`}},
		{"no special character", "b", "cdc/", ".gz", "b", []string{"cdc/*.gz"}},
		{"no prefix", "b", "", ".gz", "b", []string{"*.gz"}},
		{"nothing", "b", "", "", "b", []string{"*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := ObjectCreated(tc.bucket, tc.prefix, tc.suffix).Document()
			detail := doc["detail"].(map[string]any)
			gotBucket := detail["bucket"].(map[string]any)["name"]
			gotKey := detail["object"].(map[string]any)["key"]
			if expect := []any{tc.expectBucket}; !reflect.DeepEqual(gotBucket, expect) {
				t.Errorf("bucket name: got %#v, expect %#v", gotBucket, expect)
			}
			var expect []any
			for _, f := range tc.expectFilters {
				expect = append(expect, map[string]any{"wildcard": f})
			}
			if !reflect.DeepEqual(gotKey, expect) {
				t.Errorf("key: got %#v, expect %#v", gotKey, expect)
			}
		})
	}
}

func TestEventRuleValidate(t *testing.T) {
	if err := ObjectCreated("", "p", "s").Validate(); err == nil || !strings.Contains(err.Error(), "no bucket") {
		t.Errorf("empty bucket: got %v, expect an error naming the bucket", err)
	}
	if err := Forwarder("${Token[TOKEN.1]}", "").Validate(); err != nil {
		t.Errorf("token bucket: got %v, expect nil", err)
	}
}

// withChange returns fixture name with change applied to its decoded
// form, so each case differs from a real event in one visible way.
func withChange(t *testing.T, name string, change func(ev map[string]any)) []byte {
	t.Helper()
	ev := loadMap(t, name)
	if change != nil {
		change(ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setKey(key string) func(map[string]any) {
	return func(ev map[string]any) { ev["detail"].(map[string]any)["object"].(map[string]any)["key"] = key }
}

func TestEventRuleForwarderRuleSelectsDataObjectsOnly(t *testing.T) {
	const data = "cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-9.jsonl.gz"
	for _, tc := range []struct {
		name    string
		fixture string
		change  func(map[string]any)
		expect  bool
	}{
		{"data object", "object_created.json", nil, true},
		{"'=' and spaces and '+' in the key", "object_created.json", setKey("cdc/table=Or ders/dt=2026-11-22/hour=17/a b+c=1.jsonl.gz"), true},
		{"nothing between prefix and suffix", "object_created.json", setKey("cdc/table=.jsonl.gz"), true},
		{"URL-encoded key, in case EventBridge encodes as notifications do", "object_created.json", setKey("cdc/table%3DOrders/dt%3D2026-11-22/hour%3D17/x.jsonl.gz"), true},
		{"URL-encoded errors key", "object_created.json", setKey("cdc/_errors/table%3DOrders/dt%3D2026-11-22/hour%3D17/x.jsonl.gz"), false},
		{"errors object", "object_created.json", setKey("cdc/_errors/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-9.jsonl.gz"), false},
		{"malformed payload", "object_created.json", setKey("cdc/_errors/malformed/0123.json.gz"), false},
		{"other suffix", "object_created.json", setKey(strings.TrimSuffix(data, ".jsonl.gz") + ".json.gz"), false},
		{"suffix not at the end", "object_created.json", setKey(data + ".tmp"), false},
		{"other prefix", "object_created.json", setKey("other/table=Orders/x.jsonl.gz"), false},
		{"prefix not at the start", "object_created.json", setKey("x/cdc/table=Orders/x.jsonl.gz"), false},
		{"other bucket", "object_created.json", func(ev map[string]any) {
			ev["detail"].(map[string]any)["bucket"].(map[string]any)["name"] = "cdc-bucket-2"
		}, false},
		{"Object Deleted", "object_deleted.json", nil, false},
		{"Object Deleted relabelled as created", "object_deleted.json", func(ev map[string]any) { ev["detail-type"] = "Object Created" }, true},
		{"other source", "object_created.json", func(ev map[string]any) { ev["source"] = "my.app" }, false},
		{"no key", "object_created.json", func(ev map[string]any) {
			delete(ev["detail"].(map[string]any)["object"].(map[string]any), "key")
		}, false},
		{"no detail", "object_created.json", func(ev map[string]any) { delete(ev, "detail") }, false},
		{"key is a number", "object_created.json", setKeyValue(7), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Matches(Forwarder("cdc-bucket", "cdc").Document(), withChange(t, tc.fixture, tc.change))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.expect {
				t.Errorf("got %t, expect %t", got, tc.expect)
			}
		})
	}
}

func setKeyValue(v any) func(map[string]any) {
	return func(ev map[string]any) { ev["detail"].(map[string]any)["object"].(map[string]any)["key"] = v }
}

func TestEventRuleForwarderRuleWithoutPrefix(t *testing.T) {
	doc := Forwarder("cdc-bucket", "").Document()
	for key, expect := range map[string]bool{
		"table=Orders/dt=2026-11-22/hour=17/s-1-2.jsonl.gz":         true,
		"_errors/table=Orders/dt=2026-11-22/hour=17/s-1-2.jsonl.gz": false,
		"x/table=Orders/s-1-2.jsonl.gz":                             false,
	} {
		got, err := Matches(doc, withChange(t, "object_created.json", setKey(key)))
		if err != nil {
			t.Fatal(err)
		}
		if got != expect {
			t.Errorf("%s: got %t, expect %t", key, got, expect)
		}
	}
}

func TestEventRuleEscapedPrefixMatchesItselfOnly(t *testing.T) {
	doc := ObjectCreated("cdc-bucket", `a*b\c/`, ".gz").Document()
	for key, expect := range map[string]bool{
		`a*b\c/x.gz`:  true,
		`a*b\c/.gz`:   true,
		`aXb\c/x.gz`:  false,
		`a*bc/x.gz`:   false,
		`a*b\\c/x.gz`: false,
	} {
		got, err := Matches(doc, withChange(t, "object_created.json", setKey(key)))
		if err != nil {
			t.Fatal(err)
		}
		if got != expect {
			t.Errorf("%s: got %t, expect %t", key, got, expect)
		}
	}
}

func TestEventRuleMatchesOperators(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, event string
		expect               bool
	}{
		{"one of several values", `{"a":["x","y"]}`, `{"a":"y"}`, true},
		{"none of several values", `{"a":["x","y"]}`, `{"a":"z"}`, false},
		{"exact is case-sensitive", `{"a":["x"]}`, `{"a":"X"}`, false},
		{"field absent", `{"a":["x"]}`, `{"b":"x"}`, false},
		{"every field must match", `{"a":["x"],"b":["y"]}`, `{"a":"x","b":"z"}`, false},
		{"other fields are ignored", `{"a":["x"]}`, `{"a":"x","b":"z"}`, true},
		{"nested", `{"d":{"a":["x"]}}`, `{"d":{"a":"x"}}`, true},
		{"nested but a string", `{"d":{"a":["x"]}}`, `{"d":"x"}`, false},
		{"leaf but an object", `{"d":["x"]}`, `{"d":{"a":"x"}}`, false},
		{"event array, one element matches", `{"r":["b"]}`, `{"r":["a","b"]}`, true},
		{"event array, none matches", `{"r":["c"]}`, `{"r":["a","b"]}`, false},
		{"prefix", `{"a":[{"prefix":"cdc/"}]}`, `{"a":"cdc/x"}`, true},
		{"prefix misses", `{"a":[{"prefix":"cdc/"}]}`, `{"a":"cd"}`, false},
		{"suffix", `{"a":[{"suffix":".gz"}]}`, `{"a":"x.gz"}`, true},
		{"suffix misses", `{"a":[{"suffix":".gz"}]}`, `{"a":"x.gzip"}`, false},
		{"prefix or suffix is OR", `{"a":[{"prefix":"p"},{"suffix":"s"}]}`, `{"a":"p-x"}`, true},
		{"string operator on a number", `{"a":[{"prefix":"1"}]}`, `{"a":12}`, false},
		{"number", `{"n":[5]}`, `{"n":5.0}`, true},
		{"number is not a string", `{"n":[5]}`, `{"n":"5"}`, false},
		{"null", `{"n":[null]}`, `{"n":null}`, true},
		{"bool", `{"n":[true]}`, `{"n":false}`, false},
		{"wildcard star crosses slashes", `{"k":[{"wildcard":"cdc/table=*.jsonl.gz"}]}`, `{"k":"cdc/table=T/dt=D/hour=H/n.jsonl.gz"}`, true},
		{"wildcard star may be empty", `{"k":[{"wildcard":"a*b"}]}`, `{"k":"ab"}`, true},
		{"wildcard anchored at both ends", `{"k":[{"wildcard":"a*b"}]}`, `{"k":"xab"}`, false},
		{"wildcard several stars", `{"k":[{"wildcard":"a*b*c"}]}`, `{"k":"aXbYbZc"}`, true},
		{"wildcard parts in order", `{"k":[{"wildcard":"a*b*c"}]}`, `{"k":"acb"}`, false},
		{"wildcard ends do not overlap", `{"k":[{"wildcard":"ab*ba"}]}`, `{"k":"aba"}`, false},
		{"wildcard only a star", `{"k":[{"wildcard":"*"}]}`, `{"k":""}`, true},
		{"wildcard no star is exact", `{"k":[{"wildcard":"abc"}]}`, `{"k":"abcd"}`, false},
		{"wildcard escaped star is literal", `{"k":[{"wildcard":"a\\*"}]}`, `{"k":"aX"}`, false},
		{"wildcard escaped star matches a star", `{"k":[{"wildcard":"a\\*"}]}`, `{"k":"a*"}`, true},
		{"wildcard escaped backslash", `{"k":[{"wildcard":"a\\\\*"}]}`, `{"k":"a\\bc"}`, true},
		{"wildcard escaped star then star", `{"k":[{"wildcard":"a\\**"}]}`, `{"k":"a*bc"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pattern map[string]any
			if err := json.Unmarshal([]byte(tc.pattern), &pattern); err != nil {
				t.Fatal(err)
			}
			got, err := Matches(pattern, []byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.expect {
				t.Errorf("got %t, expect %t", got, tc.expect)
			}
		})
	}
}

func TestEventRuleMatchesRefusesWhatItCannotEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, expectErr string
	}{
		{"anything-but", `{"a":[{"anything-but":"x"}]}`, `operator "anything-but"`},
		{"exists", `{"a":[{"exists":false}]}`, `operator "exists"`},
		{"numeric", `{"a":[{"numeric":[">",1]}]}`, `operator "numeric"`},
		{"equals-ignore-case", `{"a":[{"equals-ignore-case":"x"}]}`, `operator "equals-ignore-case"`},
		{"prefix ignoring case", `{"a":[{"prefix":{"equals-ignore-case":"x"}}]}`, `operator "prefix" with an object`},
		{"two operators in one object", `{"a":[{"prefix":"x","suffix":"y"}]}`, "one key"},
		{"$or", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, "$or"},
		{"value not in an array", `{"a":"x"}`, `the string "x"`},
		{"empty array", `{"a":[]}`, "no values"},
		{"empty pattern", `{}`, "empty"},
		{"empty nested object", `{"d":{}}`, "d is empty"},
		{"array in an array", `{"a":[["x"]]}`, "an array"},
		{"consecutive stars", `{"a":[{"wildcard":"a**b"}]}`, "consecutive"},
		{"escaping another character", `{"a":[{"wildcard":"a\\b"}]}`, "may only escape"},
		{"trailing backslash", `{"a":[{"wildcard":"a\\"}]}`, "may only escape"},
		// The first field already fails; the error must still be found.
		{"unsupported after a mismatch", `{"a":["nope"],"z":[{"cidr":"10.0.0.0/8"}]}`, `operator "cidr"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pattern map[string]any
			if err := json.Unmarshal([]byte(tc.pattern), &pattern); err != nil {
				t.Fatal(err)
			}
			got, err := Matches(pattern, []byte(`{"a":"x","z":"10.0.0.1"}`))
			if err == nil || !strings.Contains(err.Error(), tc.expectErr) {
				t.Errorf("got (%t, %v), expect an error containing %q", got, err, tc.expectErr)
			}
			if got {
				t.Error("got a match along with the error")
			}
		})
	}
}

func TestEventRuleMatchesRefusesBadEvents(t *testing.T) {
	doc := Forwarder("cdc-bucket", "cdc").Document()
	for name, event := range map[string]string{
		"not JSON":      `{"source":`,
		"an array":      `[{"source":"aws.s3"}]`,
		"trailing data": `{"source":"aws.s3"} {}`,
	} {
		if got, err := Matches(doc, []byte(event)); err == nil || got {
			t.Errorf("%s: got (%t, %v), expect an error", name, got, err)
		}
	}
	if got, err := Matches(nil, load(t, "object_created.json")); err == nil || got {
		t.Errorf("nil pattern: got (%t, %v), expect an error", got, err)
	}
}

func TestEventRuleMatchesAcceptsDocumentsBuiltInGo(t *testing.T) {
	pattern := map[string]any{"source": []string{"aws.s3"}, "detail": map[string]any{"bucket": map[string]any{"name": []string{"cdc-bucket"}}}}
	got, err := Matches(pattern, load(t, "object_created.json"))
	if err != nil || !got {
		t.Errorf("got (%t, %v), expect (true, nil)", got, err)
	}
}

func TestEventRuleExportManifest(t *testing.T) {
	doc := ExportManifest("b", "cdc-exports").Document()
	if got := toJSONString(t, doc["detail"].(map[string]any)["object"]); got != `{"key":[{"wildcard":"cdc-exports/AWSDynamoDB/*/manifest-summary.json"}]}` {
		t.Errorf("key filter %s", got)
	}
	for _, tc := range []struct {
		key    string
		expect bool
	}{
		{"cdc-exports/AWSDynamoDB/01700000000000-abcd1234/manifest-summary.json", true},
		{"cdc-exports/AWSDynamoDB/01700000000000-abcd1234/manifest-files.json", false},
		{"cdc-exports/AWSDynamoDB/01700000000000-abcd1234/data/x.json.gz", false},
		{"cdc-exports/AWSDynamoDB/01700000000000-abcd1234/_started", false},
		{"cdc/table=T/dt=2026-01-01/hour=00/x-1-2.jsonl.gz", false},
	} {
		ev := []byte(`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"` + tc.key + `"}}}`)
		got, err := Matches(doc, ev)
		if err != nil || got != tc.expect {
			t.Errorf("%s: got %v, %v; expect %v", tc.key, got, err, tc.expect)
		}
	}
}

func toJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
