package converter

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/exportgen"
)

// recordExports are the realistic exports package record keeps (see its
// export_test.go): their data files decompressed, and golden snapshot
// lines the converter's objects must hold exactly.
const recordExports = "../../record/testdata/export"

const outBucket = "lake"

// testPart is the part size of tests that need many parts, and manyItems
// a generated file that makes more than six of them.
const (
	testPart  = 32 << 10
	manyItems = 1200
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func md5Base64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// harness is a converter over a fake bucket, with its logs and metrics.
type harness struct {
	s3            *fakeS3
	c             *Converter
	logs, metrics bytes.Buffer
}

// newHarness builds a converter; partSize, when not 0, replaces the part
// size below S3's minimum, so that tests make many parts from little data
// (the fake then enforces that minimum instead).
func newHarness(t testing.TB, edit func(*Config), partSize int) *harness {
	t.Helper()
	h := &harness{s3: newFakeS3()}
	cfg := DefaultConfig()
	cfg.Bucket = outBucket
	if edit != nil {
		edit(&cfg)
	}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	c, err := New(h.s3, cfg, function.WithLogger(lambdalog.New(&h.logs, slog.LevelDebug)),
		function.WithMetrics(emf.New(&h.metrics, "NS")), function.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	if partSize > 0 {
		c.parts = newPartPool(partSize, cfg.PartsInFlight+3)
		h.s3.minPart = partSize
	}
	h.c = c
	return h
}

// addSource stores data (gzipped) as the job's data file, and sets the
// job's MD5Checksum to the stored bytes' as the manifest would.
func (h *harness) addSource(t testing.TB, job *export.Job, text []byte) {
	t.Helper()
	b := gzipped(t, text)
	h.s3.sources[job.Bucket+"/"+job.DataFileKey] = b
	job.MD5Checksum = md5Base64(b)
}

// metric returns the named value of the last EMF line.
func (h *harness) metric(t testing.TB, name string) float64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(h.metrics.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("metric line %q: %v", lines[len(lines)-1], err)
	}
	v, ok := m[name].(float64)
	if !ok {
		t.Fatalf("metric %s missing from %s", name, lines[len(lines)-1])
	}
	return v
}

// fixtureJobs returns the Jobs of one of record's export fixtures, as the
// planner would build them, with each data file stored in h.
func fixtureJobs(t testing.TB, h *harness, table string) []export.Job {
	t.Helper()
	dir := filepath.Join(recordExports, table)
	f, err := os.Open(filepath.Join(dir, "manifest-summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	summary, err := export.ReadSummary(f)
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Table struct {
			KeySchema []struct{ AttributeName, KeyType string }
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "describe-table.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &desc); err != nil {
		t.Fatal(err)
	}
	mf, err := os.Open(filepath.Join(dir, "manifest-files.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	files, err := export.ReadDataFiles(mf)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []export.Job
	for _, df := range files {
		j := export.Job{ExportArn: summary.ExportArn, ExportTime: summary.ExportTime, Table: table,
			Bucket: summary.S3Bucket, DataFileKey: df.DataFileS3Key, ItemCount: df.ItemCount}
		for _, k := range desc.Table.KeySchema {
			if k.KeyType == "HASH" {
				j.PartitionKey = k.AttributeName
			} else {
				j.SortKey = k.AttributeName
			}
		}
		text, err := os.ReadFile(filepath.Join(dir, "data", strings.TrimSuffix(path.Base(df.DataFileS3Key), ".gz")))
		if err != nil {
			t.Fatal(err)
		}
		h.addSource(t, &j, text)
		jobs = append(jobs, j)
	}
	return jobs
}

// goldenLines returns record's golden snapshot lines of one data file.
func goldenLines(t testing.TB, table string, format record.ImageFormat, dataFile string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(recordExports, "golden", table+"."+format.String()+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.Contains(l, `"eventID":"`) && strings.Contains(strings.SplitN(l, `","`, 2)[0], "/"+dataFile+":") {
			out = append(out, l)
		}
	}
	return out
}

func objectLines(t testing.TB, o *stored) []string {
	t.Helper()
	text := string(gunzipped(t, o.body))
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("object does not end with a newline")
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// TestConvertFixtures converts every data file of record's export
// fixtures, in both image formats, and finds exactly the golden lines in
// each data object: numeric and binary keys (Readings: deviceId N,
// digest B), a 400 KB item, every attribute type, an empty data file.
func TestConvertFixtures(t *testing.T) {
	tests := []struct {
		table, dataFile string
		expectOutcome   string
		expectRows      int64
		expectLargest   int // bytes of the longest line, at least
	}{
		{"Readings", "4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz", OutcomeWritten, 3, 0},
		{"Readings", "o2x5mqzj6e4hbd7lvyk3fna2wi.json.gz", OutcomeWritten, 1, 400_000},
		{"Readings", "ysl2bqgjcy5oznkkjfpc4ux3ru.json.gz", OutcomeEmpty, 0, 0},
		{"Customers", "c7kq3nqzuu3tzmdbwwr2bj7rpa.json.gz", OutcomeWritten, 2, 0},
	}
	for _, format := range []record.ImageFormat{record.Plain, record.DynamoDB} {
		for _, tc := range tests {
			t.Run(format.String()+"/"+tc.table+"/"+tc.dataFile, func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.ImageFormat = format }, 0)
				var job export.Job
				for _, j := range fixtureJobs(t, h, tc.table) {
					if j.DataFileName() == tc.dataFile {
						job = j
					}
				}
				res, err := h.c.Handle(context.Background(), job)
				if err != nil {
					t.Fatal(err)
				}
				expectKey := ""
				if tc.expectRows > 0 {
					expectKey, _ = objectkey.Snapshot(job.Objects("cdc"))
				}
				for _, f := range []struct {
					name        string
					got, expect any
				}{
					{"Outcome", res.Outcome, tc.expectOutcome},
					{"Items", res.Items, job.ItemCount},
					{"Rows", res.Rows, tc.expectRows},
					{"ConversionErrors", res.ConversionErrors, int64(0)},
					{"Key", res.Key, expectKey},
					{"ErrorsKey", res.ErrorsKey, ""},
					{"Attempts", res.Attempts, 1},
					{"BytesIn", res.BytesIn, int64(len(h.s3.sources[job.Bucket+"/"+job.DataFileKey]))},
					{"objects", strings.Join(h.s3.keys(), ","), expectKey},
					{"metric SnapshotRows", h.metric(t, "SnapshotRows"), float64(tc.expectRows)},
					{"metric ExportFiles", h.metric(t, "ExportFiles"), 1.0},
				} {
					if f.got != f.expect {
						t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
					}
				}
				if tc.expectRows == 0 {
					return
				}
				o, _ := h.s3.object(expectKey)
				got, expect := objectLines(t, o), goldenLines(t, tc.table, format, tc.dataFile)
				if strings.Join(got, "\n") != strings.Join(expect, "\n") {
					t.Errorf("object lines differ from record's golden lines:\ngot    %.2000s\nexpect %.2000s", strings.Join(got, "\n"), strings.Join(expect, "\n"))
				}
				largest := 0
				for _, l := range got {
					largest = max(largest, len(l))
				}
				if largest < tc.expectLargest {
					t.Errorf("longest line: got %d bytes, expect at least %d", largest, tc.expectLargest)
				}
			})
		}
	}
}

// TestObjectSettings: small objects go in one conditional PutObject,
// larger ones in a conditional multipart upload; both carry the same
// content type, encoding, SSE-KMS with a Bucket Key, CRC32C and metadata.
func TestObjectSettings(t *testing.T) {
	tests := []struct {
		name            string
		items           int64
		expectMultipart bool
		expectCalls     map[string]int
	}{
		{"one part: PutObject", 10, false, map[string]int{"PutObject": 1, "CreateMultipartUpload": 0, "CompleteMultipartUpload": 0}},
		{"many parts: multipart upload", manyItems, true, map[string]int{"PutObject": 0, "CreateMultipartUpload": 1, "CompleteMultipartUpload": 1, "AbortMultipartUpload": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.KMSKeyID = "alias/lake"
				c.ContentType = "application/json"
			}, testPart)
			job := genJob(t, h, tc.items)
			res, err := h.c.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			o, ok := h.s3.object(res.Key)
			if !ok {
				t.Fatalf("no object at %s", res.Key)
			}
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"multipart", o.multipart, tc.expectMultipart},
				{"content type", o.contentType, "application/json"},
				{"content encoding", o.encoding, "gzip"},
				{"SSE", o.sse, "aws:kms"},
				{"KMS key", o.kmsKey, "alias/lake"},
				{"bucket key", o.bucketKey, true},
				{"checksum", o.checksum, "CRC32C"},
				{"metadata export-id", o.metadata["export-id"], "01795449600123-5f1c2e3a"},
				{"metadata data-file", o.metadata["data-file"], "gen.json.gz"},
				{"metadata data-file-items", o.metadata["data-file-items"], strconv.FormatInt(tc.items, 10)},
				{"metadata image-format", o.metadata["image-format"], "plain"},
				{"rows", int64(len(objectLines(t, o))), tc.items},
				{"BytesOut", res.BytesOut, int64(len(o.body))},
				{"open uploads", h.s3.openUploads(), 0},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
			for op, n := range tc.expectCalls {
				if got := h.s3.callCount(op); got != n {
					t.Errorf("%s calls: got %d, expect %d", op, got, n)
				}
			}
		})
	}
}

// genJob stores a generated data file of n items and returns its Job.
func genJob(t testing.TB, h *harness, n int64) export.Job {
	t.Helper()
	var text bytes.Buffer
	if _, _, err := exportgen.Write(&text, exportgen.Options{Items: n, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	job := export.Job{
		ExportArn:  "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/01795449600123-5f1c2e3a",
		ExportTime: time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC), Table: "Orders",
		PartitionKey: exportgen.PartitionKey, SortKey: exportgen.SortKey, Bucket: "exports-bucket",
		DataFileKey: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/gen.json.gz", ItemCount: n,
	}
	h.addSource(t, &job, text.Bytes())
	return job
}

// TestLinesNotConverted: lines that are not items go, whole, to the
// errors object beside the data object, are counted and logged, and do
// not fail the file.
func TestLinesNotConverted(t *testing.T) {
	h := newHarness(t, nil, 0)
	job := genJob(t, h, 1)
	lines := []string{
		`{"Item":{"pk":{"S":"a"},"sk":{"S":"1"}}}`,
		`{"Item":{"pk":{"S":"a"}`,
		`{"Keys":{"pk":{"S":"a"}},"NewImage":{}}`,
		`{"Item":{"sk":{"S":"1"},"x":{"N":"1"}}}`,
		"{\"Item\":{\"pk\":{\"S\":\"\xff\"},\"sk\":{\"S\":\"1\"}}}",
		``,
		`{"Item":{"pk":{"S":"b"},"sk":{"S":"2"},"price":{"N":"19.990"}}}`,
		`{"Item":{"pk":{"S":"c"},"sk":{"S":"3"},"bad":{"Q":"1"}}}`,
	}
	job.ItemCount = 7
	h.addSource(t, &job, []byte(strings.Join(lines, "\n")+"\n"))
	res, err := h.c.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	errorsKey, _ := objectkey.SnapshotErrors(job.Objects("cdc"))
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"Rows", res.Rows, int64(2)},
		{"ConversionErrors", res.ConversionErrors, int64(5)},
		{"ErrorsKey", res.ErrorsKey, errorsKey},
		{"metric ConversionErrors", h.metric(t, "ConversionErrors"), 5.0},
		{"logged", strings.Count(h.logs.String(), `"msg":"item not converted"`), 5},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
	o, ok := h.s3.object(errorsKey)
	if !ok {
		t.Fatalf("no errors object at %s; objects %v", errorsKey, h.s3.keys())
	}
	type errLine struct {
		Reason  string          `json:"reason"`
		Line    int             `json:"line"`
		EventID string          `json:"eventID"`
		Item    json.RawMessage `json:"item"`
		Text    *string         `json:"text"`
		Base64  *string         `json:"base64"`
	}
	expect := []struct {
		line   int
		reason string
		kept   string // item, text or base64
	}{
		{2, "invalid JSON", "text"},
		{3, `line must be a JSON object with an "Item"`, "item"},
		{4, "pk", "item"},
		{5, "invalid JSON", "base64"},
		{8, `Item.bad`, "item"},
	}
	got := objectLines(t, o)
	if len(got) != len(expect) {
		t.Fatalf("errors object lines: got %d, expect %d:\n%s", len(got), len(expect), strings.Join(got, "\n"))
	}
	for i, e := range expect {
		var l errLine
		if err := json.Unmarshal([]byte(got[i]), &l); err != nil {
			t.Fatalf("errors line %d %q: %v", i, got[i], err)
		}
		var kept string
		switch {
		case l.Item != nil:
			kept = "item"
			if string(l.Item) != lines[e.line-1] {
				t.Errorf("line %d item: got %s, expect the line as read", e.line, l.Item)
			}
		case l.Text != nil:
			kept = "text"
			if *l.Text != lines[e.line-1] {
				t.Errorf("line %d text: got %q, expect the line as read", e.line, *l.Text)
			}
		case l.Base64 != nil:
			kept = "base64"
			if raw, _ := base64.StdEncoding.DecodeString(*l.Base64); string(raw) != lines[e.line-1] {
				t.Errorf("line %d base64: got %q, expect the line as read", e.line, raw)
			}
		}
		for _, f := range []struct {
			name        string
			got, expect any
		}{
			{"line", l.Line, e.line},
			{"kept as", kept, e.kept},
			{"eventID", l.EventID, "01795449600123-5f1c2e3a/gen.json.gz:" + strconv.Itoa(e.line)},
			{"reason mentions", strings.Contains(l.Reason, e.reason), true},
		} {
			if f.got != f.expect {
				t.Errorf("errors line %d %s: got %v, expect %v (reason %q)", i, f.name, f.got, f.expect, l.Reason)
			}
		}
	}
	data, _ := h.s3.object(res.Key)
	if rows := objectLines(t, data); len(rows) != 2 || !strings.Contains(rows[1], `"price":19.990`) || !strings.Contains(rows[1], `gen.json.gz:7"`) {
		t.Errorf("data rows: %q", rows)
	}
}

// TestLongLine: a line longer than the line buffer is read whole.
func TestLongLine(t *testing.T) {
	h := newHarness(t, nil, 0)
	job := genJob(t, h, 1)
	long := strings.Repeat("x", 3*lineBuffer/2)
	text := `{"Item":{"pk":{"S":"a"},"sk":{"S":"1"}}}` + "\n" + `{"Item":{"pk":{"S":"b"},"sk":{"S":"2"},"blob":{"S":"` + long + `"}}}` + "\n" +
		`{"Item":{"pk":{"S":"c"},"sk":{"S":"3"}}}`
	job.ItemCount = 3
	h.addSource(t, &job, []byte(text))
	res, err := h.c.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := h.s3.object(res.Key)
	rows := objectLines(t, o)
	if len(rows) != 3 || !strings.Contains(rows[1], `"blob":"`+long+`"`) || !strings.Contains(rows[2], `gen.json.gz:3"`) {
		t.Errorf("rows: %d, the long one whole: %v", len(rows), len(rows) == 3 && strings.Contains(rows[1], long))
	}
}

// TestFileFailsWhole: a file that does not match its manifest, or cannot
// be read, fails with no object written and no upload left open, so that
// Lambda retries the job and finally keeps it.
func TestFileFailsWhole(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(t *testing.T, h *harness, job *export.Job)
		expectErr string
	}{
		{"fewer items than the manifest says", func(_ *testing.T, _ *harness, job *export.Job) { job.ItemCount++ },
			"data file has 1200 items; the manifest says 1201"},
		{"more items than the manifest says", func(_ *testing.T, _ *harness, job *export.Job) { job.ItemCount-- },
			"data file has 1200 items; the manifest says 1199"},
		{"MD5 differs", func(_ *testing.T, _ *harness, job *export.Job) { job.MD5Checksum = md5Base64([]byte("other")) },
			"the manifest's md5Checksum is"},
		{"not gzip", func(_ *testing.T, h *harness, job *export.Job) {
			h.s3.sources[job.Bucket+"/"+job.DataFileKey] = []byte(`{"Item":{}}`)
			job.MD5Checksum = ""
		}, "data file is not gzip"},
		{"truncated gzip", func(_ *testing.T, h *harness, job *export.Job) {
			b := h.s3.sources[job.Bucket+"/"+job.DataFileKey]
			h.s3.sources[job.Bucket+"/"+job.DataFileKey] = b[:len(b)/2]
			job.MD5Checksum = ""
		}, "unexpected EOF"},
		{"missing", func(_ *testing.T, h *harness, job *export.Job) { delete(h.s3.sources, job.Bucket+"/"+job.DataFileKey) },
			"NoSuchKey"},
		{"a line no item can be", func(t *testing.T, h *harness, job *export.Job) {
			h.addSource(t, job, append(bytes.Repeat([]byte{' '}, MaxLine+1), '\n'))
			job.ItemCount = 1
		}, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, testPart)
			job := genJob(t, h, manyItems)
			tc.edit(t, h, &job)
			_, err := h.c.Handle(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), tc.expectErr) {
				t.Fatalf("error: got %v, expect one containing %q", err, tc.expectErr)
			}
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"objects", len(h.s3.keys()), 0},
				{"open uploads", h.s3.openUploads(), 0},
				{"metric FailedExportFiles", h.metric(t, "FailedExportFiles"), 1.0},
				{"metric ExportFiles", h.metric(t, "ExportFiles"), 0.0},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
		})
	}
}

func TestVerifyMD5Off(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.VerifyMD5 = false }, 0)
	job := genJob(t, h, 5)
	job.MD5Checksum = md5Base64([]byte("other"))
	if _, err := h.c.Handle(context.Background(), job); err != nil {
		t.Fatalf("VERIFY_MD5=false: %v", err)
	}
}

// TestEmptyDataFiles: AWS writes a file for every empty partition; such a
// file, empty or an empty gzip stream, makes no object and no error.
func TestEmptyDataFiles(t *testing.T) {
	tests := []struct {
		name   string
		stored func(t *testing.T) []byte
	}{
		{"no bytes", func(*testing.T) []byte { return nil }},
		{"empty gzip", func(t *testing.T) []byte { return gzipped(t, nil) }},
		{"one newline", func(t *testing.T) []byte { return gzipped(t, []byte("\n")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, 0)
			job := genJob(t, h, 1)
			b := tc.stored(t)
			h.s3.sources[job.Bucket+"/"+job.DataFileKey] = b
			job.ItemCount, job.MD5Checksum = 0, md5Base64(b)
			res, err := h.c.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"Outcome", res.Outcome, OutcomeEmpty},
				{"Key", res.Key, ""},
				{"objects", len(h.s3.keys()), 0},
				{"calls", strings.Join(h.s3.calls, ","), "GetObject"},
				{"metric ExportFiles", h.metric(t, "ExportFiles"), 1.0},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
		})
	}
}

// checkOneCopy asserts that the bucket holds exactly the file's data
// object, with every item exactly once.
func checkOneCopy(t *testing.T, h *harness, job export.Job) {
	t.Helper()
	key, _ := objectkey.Snapshot(job.Objects("cdc"))
	if got := strings.Join(h.s3.keys(), ","); got != key {
		t.Fatalf("objects: got %q, expect only %q", got, key)
	}
	o, _ := h.s3.object(key)
	seen := map[string]bool{}
	for _, l := range objectLines(t, o) {
		var row struct{ EventID string }
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		if seen[row.EventID] {
			t.Errorf("duplicate line %s", row.EventID)
		}
		seen[row.EventID] = true
	}
	if int64(len(seen)) != job.ItemCount {
		t.Errorf("lines: got %d distinct, expect %d", len(seen), job.ItemCount)
	}
	if n := h.s3.openUploads(); n != 0 {
		t.Errorf("open uploads: got %d, expect 0", n)
	}
}

// TestKilledMidFileThenRetried: an attempt that dies after some parts
// were uploaded (S3 failing a part, or the deadline) leaves no object and
// aborts its upload; the retry writes the one object, each line once.
func TestKilledMidFileThenRetried(t *testing.T) {
	tests := []struct {
		name   string
		breaks func(h *harness, cancel context.CancelFunc)
	}{
		{"upload fails after some parts", func(h *harness, _ context.CancelFunc) {
			h.s3.uploadPartErr = func(n int) error {
				if n >= 4 {
					return apiError("InternalError", "We encountered an internal error. Please try again.")
				}
				return nil
			}
		}},
		{"deadline after some parts", func(h *harness, cancel context.CancelFunc) {
			h.s3.uploadPartErr = func(n int) error {
				if n == 4 {
					cancel()
				}
				return nil
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, testPart)
			job := genJob(t, h, manyItems)
			ctx, cancel := context.WithCancel(context.Background())
			tc.breaks(h, cancel)
			if _, err := h.c.Handle(ctx, job); err == nil {
				t.Fatal("the broken attempt succeeded")
			}
			if h.s3.partsPut < 4 {
				t.Fatalf("the attempt broke after %d parts; expect a file of more than 3", h.s3.partsPut)
			}
			if keys := h.s3.keys(); len(keys) != 0 {
				t.Fatalf("the broken attempt left objects %v", keys)
			}
			if n := h.s3.openUploads(); n != 0 {
				t.Fatalf("the broken attempt left %d uploads open", n)
			}
			h.s3.uploadPartErr = nil
			res, err := h.c.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeWritten {
				t.Errorf("retry outcome: got %q, expect %q", res.Outcome, OutcomeWritten)
			}
			checkOneCopy(t, h, job)
		})
	}
}

// TestRepeatedConversionIsDone: converting a file again (a redelivered
// event, a retry after a crash past the completion) meets the object
// already there; the 412 counts as done, the object is untouched and the
// repeat's upload is aborted.
func TestRepeatedConversionIsDone(t *testing.T) {
	for _, items := range []int64{10, manyItems} {
		t.Run(strconv.FormatInt(items, 10)+" items", func(t *testing.T) {
			h := newHarness(t, nil, testPart)
			job := genJob(t, h, items)
			first, err := h.c.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := h.s3.object(first.Key)
			before := bytes.Clone(o.body)
			second, err := h.c.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := h.s3.object(first.Key)
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"first outcome", first.Outcome, OutcomeWritten},
				{"second outcome", second.Outcome, OutcomeAlreadyWritten},
				{"second key", second.Key, first.Key},
				{"object unchanged", bytes.Equal(before, after.body), true},
				{"metric AlreadyConverted", h.metric(t, "AlreadyConverted"), 1.0},
				{"metric ExportFiles", h.metric(t, "ExportFiles"), 1.0},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
			checkOneCopy(t, h, job)
		})
	}
}

// TestConflictStartsAgain: a 409 ConditionalRequestConflict to the
// completion starts the file again, as AWS advises; the second attempt
// writes the object.
func TestConflictStartsAgain(t *testing.T) {
	h := newHarness(t, nil, testPart)
	job := genJob(t, h, manyItems)
	h.s3.completeErr = func(n int) error {
		if n == 1 {
			return apiError("ConditionalRequestConflict", "A conflicting operation occurred.")
		}
		return nil
	}
	res, err := h.c.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"Attempts", res.Attempts, 2},
		{"Outcome", res.Outcome, OutcomeWritten},
		{"GetObject calls", h.s3.callCount("GetObject"), 2},
		{"metric UploadRestarts", h.metric(t, "UploadRestarts"), 1.0},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
	checkOneCopy(t, h, job)

	h = newHarness(t, nil, testPart)
	job = genJob(t, h, manyItems)
	h.s3.completeErr = func(int) error { return apiError("ConditionalRequestConflict", "A conflicting operation occurred.") }
	if _, err := h.c.Handle(context.Background(), job); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("endless conflicts: got %v, expect the 409 after %d attempts", err, maxAttempts)
	}
	if got := h.s3.callCount("GetObject"); got != maxAttempts {
		t.Errorf("attempts: got %d, expect %d", got, maxAttempts)
	}
}

func TestInvoke(t *testing.T) {
	h := newHarness(t, nil, 0)
	job := genJob(t, h, 5)
	payload, _ := json.Marshal(job)
	out, err := h.c.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(out, &res); err != nil || res.Rows != 5 || res.Outcome != OutcomeWritten {
		t.Errorf("answer %s: %v", out, err)
	}
	if _, err := h.c.Invoke(context.Background(), []byte(`{"exportArn":"x"}`)); err == nil {
		t.Error("a bad Job was accepted")
	}
	if !strings.Contains(h.logs.String(), `"msg":"job not understood"`) {
		t.Errorf("a bad Job is not logged: %s", h.logs.String())
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := ConfigFromEnv(env("BUCKET_NAME", "lake", "S3_PREFIX", "cdc/prod/", "IMAGE_FORMAT", "dynamodb", "PART_SIZE", "16777216",
		"KMS_KEY_ID", "alias/lake", "CONTENT_ENCODING", "none", "VERIFY_MD5", "false"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"Bucket", c.Bucket, "lake"},
		{"Prefix", c.Prefix, "cdc/prod"},
		{"ImageFormat", c.ImageFormat, record.DynamoDB},
		{"PartSize", c.PartSize, 16 << 20},
		{"KMSKeyID", c.KMSKeyID, "alias/lake"},
		{"ContentEncoding", c.ContentEncoding, ""},
		{"VerifyMD5", c.VerifyMD5, false},
		{"GzipLevel", c.GzipLevel, DefaultGzipLevel},
		{"PartsInFlight", c.PartsInFlight, 2},
		{"ConditionalWrites", c.ConditionalWrites, true},
		{"MetricsNamespace", c.MetricsNamespace, emf.DefaultNamespace},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
	_, err = ConfigFromEnv(env("S3_PREFIX", "/x", "PART_SIZE", "1024", "GZIP_LEVEL", "0", "KMS_KEY_ID", "k", "IMAGE_FORMAT", "ion"))
	for _, name := range []string{"BUCKET_NAME", "S3_PREFIX", "PART_SIZE", "GZIP_LEVEL", "KMS_KEY_ID", "IMAGE_FORMAT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

// TestFlatMemory: the parts of a file are uploaded through a fixed set
// of buffers, however many parts there are, and a second file reuses
// them.
func TestFlatMemory(t *testing.T) {
	h := newHarness(t, nil, testPart)
	for i := 0; i < 2; i++ {
		job := genJob(t, h, manyItems)
		job.DataFileKey = strings.Replace(job.DataFileKey, "gen.", "gen"+strconv.Itoa(i)+".", 1)
		h.addSource(t, &job, gunzipped(t, h.s3.sources[job.Bucket+"/exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/gen.json.gz"]))
		if _, err := h.c.Handle(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}
	parts := h.s3.callCount("UploadPart")
	if parts < 12 {
		t.Fatalf("parts: got %d, expect many", parts)
	}
	if made, limit := h.c.parts.made.Load(), int64(h.c.cfg.PartsInFlight+1); made > limit {
		t.Errorf("part buffers made: %d for %d parts; expect at most %d", made, parts, limit)
	}
}
