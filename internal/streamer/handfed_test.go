package streamer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestHandFedRecordsAnswerAlone: a batch fed by hand holds a record nested
// deeper than the converter walks, one written with escaped member names
// ("\u004eewImage"), and numbers DynamoDB cannot hold (1e999, 39
// significant digits). Each record gets its own answer: the escaped one is
// converted like any other, each of the others goes to the errors object
// with its reason, and the good records around them are data. Nothing is
// kept as a malformed event.
func TestHandFedRecordsAnswerAlone(t *testing.T) {
	fs := newFakeS3()
	resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), readFixture(t, "testdata/hand_fed.json"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	for k := range fs.objects {
		if strings.Contains(k, "/malformed/") {
			t.Fatalf("the batch was kept as malformed: %s", k)
		}
	}
	const base = "table=Orders/dt=2026-11-23/hour=17/20261101T000000000-442158450000000000000300-442158450000000000000305.jsonl.gz"
	data, errs := fs.objects["cdc/"+base], fs.objects["cdc/_errors/"+base]
	if data == nil || errs == nil {
		t.Fatalf("objects: %v; want a data and an errors object", keys(fs.objects))
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(gunzip(t, data), "\n"), "\n") {
		var line struct {
			EventID  string          `json:"eventID"`
			NewImage json.RawMessage `json:"newImage"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		got = append(got, line.EventID+" "+string(line.NewImage))
	}
	expect := []string{`h0 {"pk":"o-0","total":19.990}`, `h2 {"pk":"o-2","total":5}`, `h5 {"pk":"o-5","total":7}`}
	if strings.Join(got, "\n") != strings.Join(expect, "\n") {
		t.Errorf("data lines:\ngot    %q\nexpect %q", got, expect)
	}
	// The fixture is pretty-printed, as a hand-made event may be: each
	// errors line still holds its whole record on one line.
	type errLine struct {
		Reason         string `json:"reason"`
		Index          int    `json:"index"`
		SequenceNumber string `json:"sequenceNumber"`
		Record         struct {
			EventID string `json:"eventID"`
		} `json:"record"`
	}
	var failed []errLine
	for _, l := range strings.Split(strings.TrimSuffix(gunzip(t, errs), "\n"), "\n") {
		var e errLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%v: %.300s", err, l)
		}
		failed = append(failed, e)
	}
	expectFailed := []struct {
		index  int
		seq    string
		reason string // its start and its end
	}{
		{1, "442158450000000000000301", "dynamodb.NewImage.doc.a.a.a|: nesting deeper than 200 levels"},
		{3, "442158450000000000000303", `dynamodb.NewImage.total: N value "1e999" is out of DynamoDB's range|`},
		{4, "442158450000000000000304", `dynamodb.NewImage.total: N value "123456789012345678901234567890123456789" has more than 38 significant digits|`},
	}
	if len(failed) != len(expectFailed) {
		t.Fatalf("errors object holds %+v; expect records 1, 3 and 4", failed)
	}
	for i, e := range expectFailed {
		head, tail, _ := strings.Cut(e.reason, "|")
		f := failed[i]
		if f.Index != e.index || f.SequenceNumber != e.seq || f.Record.EventID != fmt.Sprintf("h%d", e.index) ||
			!strings.HasPrefix(f.Reason, head) || !strings.HasSuffix(f.Reason, tail) {
			t.Errorf("errors line %d = %+v; expect index %d, sequence number %s, reason %q…%q", i, f, e.index, e.seq, head, tail)
		}
	}
}
