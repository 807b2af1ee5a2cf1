package objectkey

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

var batch = Batch{
	Prefix: "cdc/prod", Table: "Orders", Stream: "2026-11-01T00:00:00.000",
	FirstSequence: "100", LastSequence: "900", Created: time.Date(2026, 11, 22, 7, 59, 59, 0, time.FixedZone("x", 3600)),
}

var snapshotFile = SnapshotFile{
	Prefix: "cdc/prod", Table: "Orders", ExportID: "01795449600123-5f1c2e3a", DataFile: "4vbnz2r2wy2hrjsyqifh7xkdsq",
	ExportTime: time.Date(2026, 11, 23, 17, 2, 0, 456e6, time.FixedZone("x", -3600)),
}

func mustKey(t *testing.T, f func(SnapshotFile) (string, error), s SnapshotFile) string {
	t.Helper()
	k, err := f(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"data", Data(batch), "cdc/prod/table=Orders/dt=2026-11-22/hour=06/20261101T000000000-100-900.jsonl.gz"},
		{"errors", Errors(batch), "cdc/prod/_errors/table=Orders/dt=2026-11-22/hour=06/20261101T000000000-100-900.jsonl.gz"},
		{"no prefix", Data(Batch{Table: "T", Stream: "s", FirstSequence: "1", LastSequence: "1"}), "table=T/dt=0001-01-01/hour=00/s-1-1.jsonl.gz"},
		{"data prefix", DataPrefix("cdc"), "cdc/table="},
		{"malformed", Malformed("cdc", []byte("x")), "cdc/_errors/malformed/2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881.json.gz"},
		{"errors by content", ErrorsByContent(batch, sha256.Sum256([]byte("x"))),
			"cdc/prod/_errors/table=Orders/dt=2026-11-22/hour=06/20261101T000000000-sha256-2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881.jsonl.gz"},
		{"snapshot", mustKey(t, Snapshot, snapshotFile),
			"cdc/prod/table=Orders/dt=2026-11-23/hour=18/snapshot-01795449600123.5f1c2e3a-4vbnz2r2wy2hrjsyqifh7xkdsq.jsonl.gz"},
		{"snapshot errors", mustKey(t, SnapshotErrors, snapshotFile),
			"cdc/prod/_errors/table=Orders/dt=2026-11-23/hour=18/snapshot-01795449600123.5f1c2e3a-4vbnz2r2wy2hrjsyqifh7xkdsq.jsonl.gz"},
		{"snapshot, no prefix", mustKey(t, Snapshot, SnapshotFile{Table: "T.t-1", ExportID: "1-a", DataFile: "x_y", ExportTime: time.Unix(0, 0)}),
			"table=T.t-1/dt=1970-01-01/hour=00/snapshot-1.a-x_y.jsonl.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q\nwant %q", tc.got, tc.want)
			}
		})
	}
	if !strings.HasPrefix(Data(batch), DataPrefix(batch.Prefix)) || strings.HasPrefix(Errors(batch), DataPrefix(batch.Prefix)) {
		t.Error("the data prefix must match data keys and not error keys")
	}
	// The forwarder's rule and its KEY_PREFIX/KEY_SUFFIX see snapshot data
	// objects, and not their errors objects.
	data, errs := mustKey(t, Snapshot, snapshotFile), mustKey(t, SnapshotErrors, snapshotFile)
	if !strings.HasPrefix(data, DataPrefix(snapshotFile.Prefix)) || !strings.HasSuffix(data, Suffix) || strings.HasPrefix(errs, DataPrefix(snapshotFile.Prefix)) {
		t.Error("the data prefix and suffix must match snapshot data keys and not their error keys")
	}
}

func TestSnapshotRejects(t *testing.T) {
	for name, f := range map[string]SnapshotFile{
		"no table":               {ExportID: "1-a", DataFile: "f"},
		"slash in table":         {Table: "a/b", ExportID: "1-a", DataFile: "f"},
		"no export ID":           {Table: "T", DataFile: "f"},
		"dot in export ID":       {Table: "T", ExportID: "1.a", DataFile: "f"},
		"slash in export ID":     {Table: "T", ExportID: "1/a", DataFile: "f"},
		"no data file":           {Table: "T", ExportID: "1-a"},
		"dash in data file":      {Table: "T", ExportID: "1-a", DataFile: "a-b"},
		"extension in data file": {Table: "T", ExportID: "1-a", DataFile: "a.json.gz"},
	} {
		t.Run(name, func(t *testing.T) {
			if k, err := Snapshot(f); err == nil {
				t.Errorf("Snapshot(%+v) = %q; want an error", f, k)
			}
			if k, err := SnapshotErrors(f); err == nil {
				t.Errorf("SnapshotErrors(%+v) = %q; want an error", f, k)
			}
		})
	}
}

func TestParseRoundTrip(t *testing.T) {
	const sum = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
	unknown := Batch{Table: "unknown", Stream: "unknown"}
	tests := []struct {
		name string
		key  string
		want Parts
	}{
		{"data", Data(batch), Parts{Prefix: "cdc/prod", Table: "Orders", Date: "2026-11-22", Hour: "06", Stream: "20261101T000000000",
			FirstSequence: "100", LastSequence: "900", Name: "20261101T000000000-100-900.jsonl.gz"}},
		{"errors", Errors(batch), Parts{Prefix: "cdc/prod", Table: "Orders", Date: "2026-11-22", Hour: "06", Stream: "20261101T000000000",
			FirstSequence: "100", LastSequence: "900", Name: "20261101T000000000-100-900.jsonl.gz", Errors: true}},
		{"errors by content", ErrorsByContent(batch, sha256.Sum256([]byte("x"))), Parts{Prefix: "cdc/prod", Table: "Orders",
			Date: "2026-11-22", Hour: "06", Stream: "20261101T000000000", SHA256: sum,
			Name: "20261101T000000000-sha256-" + sum + ".jsonl.gz", Errors: true}},
		{"errors by content, nothing known", ErrorsByContent(unknown, sha256.Sum256([]byte("x"))), Parts{Table: "unknown",
			Date: "0001-01-01", Hour: "00", Stream: "unknown", SHA256: sum, Name: "unknown-sha256-" + sum + ".jsonl.gz", Errors: true}},
		{"snapshot", mustKey(t, Snapshot, snapshotFile), Parts{Prefix: "cdc/prod", Table: "Orders", Date: "2026-11-23", Hour: "18",
			Stream: "snapshot", FirstSequence: "01795449600123.5f1c2e3a", LastSequence: "4vbnz2r2wy2hrjsyqifh7xkdsq",
			Name:     "snapshot-01795449600123.5f1c2e3a-4vbnz2r2wy2hrjsyqifh7xkdsq.jsonl.gz",
			Snapshot: true, ExportID: "01795449600123-5f1c2e3a", DataFile: "4vbnz2r2wy2hrjsyqifh7xkdsq"}},
		{"snapshot errors", mustKey(t, SnapshotErrors, snapshotFile), Parts{Prefix: "cdc/prod", Table: "Orders", Date: "2026-11-23", Hour: "18",
			Stream: "snapshot", FirstSequence: "01795449600123.5f1c2e3a", LastSequence: "4vbnz2r2wy2hrjsyqifh7xkdsq",
			Name: "snapshot-01795449600123.5f1c2e3a-4vbnz2r2wy2hrjsyqifh7xkdsq.jsonl.gz", Errors: true,
			Snapshot: true, ExportID: "01795449600123-5f1c2e3a", DataFile: "4vbnz2r2wy2hrjsyqifh7xkdsq"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct{ name, got, want string }{
				{"Prefix", got.Prefix, tc.want.Prefix},
				{"Table", got.Table, tc.want.Table},
				{"Date", got.Date, tc.want.Date},
				{"Hour", got.Hour, tc.want.Hour},
				{"Stream", got.Stream, tc.want.Stream},
				{"FirstSequence", got.FirstSequence, tc.want.FirstSequence},
				{"LastSequence", got.LastSequence, tc.want.LastSequence},
				{"SHA256", got.SHA256, tc.want.SHA256},
				{"Name", got.Name, tc.want.Name},
				{"ExportID", got.ExportID, tc.want.ExportID},
				{"DataFile", got.DataFile, tc.want.DataFile},
			} {
				if f.got != f.want {
					t.Errorf("Parse(%q).%s: got %q, want %q", tc.key, f.name, f.got, f.want)
				}
			}
			if got.Errors != tc.want.Errors {
				t.Errorf("Parse(%q).Errors: got %v, want %v", tc.key, got.Errors, tc.want.Errors)
			}
			if got.Snapshot != tc.want.Snapshot {
				t.Errorf("Parse(%q).Snapshot: got %v, want %v", tc.key, got.Snapshot, tc.want.Snapshot)
			}
			// The forwarder's templates rebuild names from {stream}-{first}-{last}.
			if got.FirstSequence != "" {
				if rebuilt := got.Stream + "-" + got.FirstSequence + "-" + got.LastSequence + Suffix; rebuilt != got.Name {
					t.Errorf("Parse(%q): name rebuilt from stream, first and last is %q, not %q", tc.key, rebuilt, got.Name)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for name, key := range map[string]string{
		"short":                     "a/b",
		"no table":                  "cdc/x=1/dt=2026-01-01/hour=01/s-1-2.jsonl.gz",
		"bad date":                  "table=T/dt=2026-13-01/hour=01/s-1-2.jsonl.gz",
		"bad hour":                  "table=T/dt=2026-01-01/hour=24/s-1-2.jsonl.gz",
		"bad name":                  "table=T/dt=2026-01-01/hour=01/s-1.jsonl.gz",
		"no suffix":                 "table=T/dt=2026-01-01/hour=01/s-1-2.json",
		"data key named by content": "table=T/dt=2026-01-01/hour=01/s-sha256-" + strings.Repeat("ab", 32) + ".jsonl.gz",
		"short sum":                 "_errors/table=T/dt=2026-01-01/hour=01/s-sha256-abc.jsonl.gz",
		"upper-case sum":            "_errors/table=T/dt=2026-01-01/hour=01/s-sha256-" + strings.Repeat("AB", 32) + ".jsonl.gz",
		"snapshot, empty export":    "table=T/dt=2026-01-01/hour=01/snapshot--f.jsonl.gz",
		"snapshot, bad data file":   "table=T/dt=2026-01-01/hour=01/snapshot-1.a-f+g.jsonl.gz",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(key); err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("Parse(%q) err = %v; want an error naming the key", key, err)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	for p, ok := range map[string]bool{
		"": true, "cdc": true, "cdc/prod-1/v=2": true,
		"/cdc": false, "cdc/": false, "a//b": false, "a/../b": false, "a b": false, "ü": false, strings.Repeat("a", 513): false,
	} {
		if err := ValidatePrefix(p); (err == nil) != ok {
			t.Errorf("ValidatePrefix(%q) = %v; want ok=%v", p, err, ok)
		}
	}
}
