package errorlist

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

func gz(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for _, l := range lines {
		w.Write([]byte(l + "\n"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func lake(t *testing.T) *opsfake.Bucket {
	b := opsfake.NewBucket("lake")
	// The streamer's errors lines.
	b.Put("cdc/_errors/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz", gz(t,
		`{"reason":"dynamodb.NewImage.price: \"abc\" is not a number","index":3,"sequenceNumber":"4","record":{"eventID":"x"}}`,
		`{"reason":"dynamodb.NewImage.price: \"x1\" is not a number","index":5,"sequenceNumber":"6","record":{"eventID":"y"}}`,
		`{"reason":"dynamodb.NewImage.tags[2]: unknown attribute type \"Z\"","index":7,"sequenceNumber":"8","record":{}}`))
	b.Put("cdc/_errors/table=Orders/dt=2026-11-21/hour=03/20261101T000000000-sha256-"+strings.Repeat("ab", 32)+".jsonl.gz", gz(t,
		`{"reason":"dynamodb.SequenceNumber: is missing","index":0,"record":{}}`))
	// The backfill converter's errors lines.
	b.Put("cdc/_errors/table=Customers/dt=2026-11-22/hour=09/snapshot-01795453320456.0c9e7d21-c7kq3nqzuu3tzmdbwwr2bj7rpa.jsonl.gz", gz(t,
		`{"reason":"Item.age: \"x\" is not a number","line":12,"eventID":"01795453320456-0c9e7d21/c7kq3nqzuu3tzmdbwwr2bj7rpa:12","item":{}}`))
	b.Put("cdc/_errors/malformed/"+strings.Repeat("cd", 32)+".json.gz", gz(t, `not json`))
	b.Put("cdc/_errors/table=Orders/dt=2026-11-23/hour=18/20261101T000000000-10-19.jsonl.gz", []byte("not gzip"))
	b.Put("cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-1-9.jsonl.gz", gz(t, `{}`)) // data: not listed
	return b
}

func TestSummary(t *testing.T) {
	rep, err := Run(context.Background(), Config{Bucket: "lake", Prefix: "cdc", Examples: 1}, lake(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"objects", len(rep.Objects), 5},
		{"records", rep.Records, 5},
		{"malformed", rep.Malformed, 1},
		{"Orders records", rep.ByTable["Orders"], 4},
		{"Customers records", rep.ByTable["Customers"], 1},
		{"first hour", rep.First, time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)},
		{"last hour", rep.Last, time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)},
		{"unreadable", len(rep.Unreadable), 1},
		{"top reason", rep.Reasons[0].Reason, `dynamodb.NewImage.price: "…" is not a number`},
		{"top count", rep.Reasons[0].Count, 2},
		{"examples kept", len(rep.Reasons[0].Examples), 1},
		{"example is exact", rep.Reasons[0].Examples[0].Reason, `dynamodb.NewImage.price: "abc" is not a number`},
		{"example position", rep.Reasons[0].Examples[0].Line, 3},
		{"reasons", len(rep.Reasons), 4},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
	var masked []string
	for _, r := range rep.Reasons {
		masked = append(masked, r.Reason)
	}
	if !strings.Contains(strings.Join(masked, "\n"), `dynamodb.NewImage.tags[n]: unknown attribute type "…"`) {
		t.Errorf("reasons %q lack the masked list position", masked)
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		objects int
	}{
		{"one table", Config{Table: "Customers"}, 1},
		{"hours", Config{From: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)}, 3}, // + malformed
		{"listing only", Config{NoRead: true}, 5},
	}
	for _, tc := range tests {
		tc.cfg.Bucket, tc.cfg.Prefix = "lake", "cdc"
		rep, err := Run(context.Background(), tc.cfg, lake(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Objects) != tc.objects {
			t.Errorf("%s: objects %d, expect %d", tc.name, len(rep.Objects), tc.objects)
		}
		if tc.cfg.NoRead && (rep.Records != 0 || len(rep.Reasons) != 0) {
			t.Errorf("%s: read objects: %d records", tc.name, rep.Records)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, expect string }{
		{`eventName: "FOO" is not INSERT, MODIFY or REMOVE`, `eventName: "…" is not INSERT, MODIFY or REMOVE`},
		{`dynamodb.NewImage.l[12].m: must be an object`, `dynamodb.NewImage.l[n].m: must be an object`},
		{`a "q\"uote" b`, `a "…" b`},
	}
	for _, tc := range tests {
		if got := Mask(tc.in); got != tc.expect {
			t.Errorf("Mask(%q): got %q, expect %q", tc.in, got, tc.expect)
		}
	}
}
