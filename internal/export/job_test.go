package export

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

var job = Job{
	ExportArn:    "arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/01795449600123-5f1c2e3a",
	ExportTime:   time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC),
	Table:        "Readings",
	PartitionKey: "deviceId",
	SortKey:      "digest",
	Bucket:       "lake-backfill",
	DataFileKey:  "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz",
	ItemCount:    3,
	MD5Checksum:  "sQMSpEILNgoQmarvDFonGQ==",
	ETag:         "af83d6f217c19b8b0fff8023d8ca4716-1",
}

// TestJobJSON pins the payload's field names: the planner, the converter
// and a local harness share them.
func TestJobJSON(t *testing.T) {
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	const expect = `{"exportArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/01795449600123-5f1c2e3a",` +
		`"exportTime":"2026-11-23T16:00:00.123Z","table":"Readings","partitionKey":"deviceId","sortKey":"digest",` +
		`"bucket":"lake-backfill","dataFileKey":"exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz",` +
		`"itemCount":3,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"af83d6f217c19b8b0fff8023d8ca4716-1"}`
	if string(b) != expect {
		t.Errorf("JSON:\ngot    %s\nexpect %s", b, expect)
	}
	got, err := ParseJob(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != job {
		t.Errorf("round trip: got %+v, expect %+v", got, job)
	}
	noSort := job
	noSort.SortKey, noSort.MD5Checksum, noSort.ETag = "", "", ""
	b, _ = json.Marshal(noSort)
	if strings.Contains(string(b), "sortKey") || strings.Contains(string(b), "md5Checksum") || strings.Contains(string(b), "etag") {
		t.Errorf("empty optional fields are written: %s", b)
	}
}

func TestParseJobRejects(t *testing.T) {
	valid, _ := json.Marshal(job)
	with := func(edit func(j *Job)) string {
		j := job
		edit(&j)
		b, _ := json.Marshal(j)
		return string(b)
	}
	tests := []struct {
		name, payload, expectErr string
	}{
		{"not JSON", "{", "not a JSON Job"},
		{"unknown field", strings.Replace(string(valid), `"table"`, `"bucketOverride":"x","table"`, 1), `unknown field "bucketOverride"`},
		{"trailing data", string(valid) + `{}`, "data after the Job"},
		{"bad export ARN", with(func(j *Job) { j.ExportArn = "arn:aws:dynamodb:eu-west-1:1:table/Readings" }), "exportArn"},
		{"no bucket", with(func(j *Job) { j.Bucket = "" }), "bucket is missing"},
		{"not a data file", with(func(j *Job) { j.DataFileKey = "exports/AWSDynamoDB/x/data/f.ion.gz" }), "is not a data file"},
		{"negative count", with(func(j *Job) { j.ItemCount = -1 }), "itemCount -1 is negative"},
		{"bad MD5", with(func(j *Job) { j.MD5Checksum = "AAAA" }), "md5Checksum"},
		{"no partition key", with(func(j *Job) { j.PartitionKey = "" }), "partition key name"},
		{"same keys", with(func(j *Job) { j.SortKey = j.PartitionKey }), "both"},
		{"bad table", with(func(j *Job) { j.Table = "a/b" }), "table name"},
		{"no export time", with(func(j *Job) { j.ExportTime = time.Time{} }), "export time"},
		{"data file name unfit for a key", with(func(j *Job) { j.DataFileKey = "exports/AWSDynamoDB/x/data/a-b.json.gz" }), "snapshot key: data file"},
		{"too large", `{"table":"` + strings.Repeat("a", maxJobBytes) + `"}`, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJob([]byte(tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.expectErr) {
				t.Errorf("error: got %v, expect one containing %q", err, tc.expectErr)
			}
		})
	}
}

func TestJobDerived(t *testing.T) {
	s := job.Snapshot()
	o := job.Objects("cdc")
	for _, f := range []struct{ name, got, expect string }{
		{"ExportID", job.ExportID(), "01795449600123-5f1c2e3a"},
		{"DataFileName", job.DataFileName(), "4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz"},
		{"Snapshot.Table", s.Table, "Readings"},
		{"Snapshot.Keys.PartitionKey", s.Keys.PartitionKey, "deviceId"},
		{"Snapshot.Keys.SortKey", s.Keys.SortKey, "digest"},
		{"Snapshot.ExportID", s.ExportID, "01795449600123-5f1c2e3a"},
		{"Snapshot.DataFile", s.DataFile, "4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz"},
		{"Snapshot.ExportTime", s.ExportTime.String(), job.ExportTime.String()},
		{"Objects.DataFile", o.DataFile, "4vbnz2r2wy2hrjsyqifh7xkdsq"},
		{"Objects.Prefix", o.Prefix, "cdc"},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %q, expect %q", f.name, f.got, f.expect)
		}
	}
	key, err := objectkey.Snapshot(o)
	if err != nil {
		t.Fatal(err)
	}
	if expect := "cdc/table=Readings/dt=2026-11-23/hour=16/snapshot-01795449600123.5f1c2e3a-4vbnz2r2wy2hrjsyqifh7xkdsq.jsonl.gz"; key != expect {
		t.Errorf("data key: got %q, expect %q", key, expect)
	}
}
