package export

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordExports are realistic exports kept by package record, read here
// by relative path: Readings (a composite key of a number and a binary,
// three data files, one of them empty, one item of 400 KB) and Customers.
const recordExports = "../record/testdata/export"

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSummary(t *testing.T) {
	tests := []struct {
		file   string
		expect Summary
	}{
		{"testdata/documented/manifest-summary.json", Summary{
			Version:    "2020-06-30",
			ExportArn:  "arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog/export/01234567890123-a1b2c3d4",
			StartTime:  time.Date(2020, 11, 4, 7, 28, 34, 28e6, time.UTC),
			EndTime:    time.Date(2020, 11, 4, 7, 33, 43, 897e6, time.UTC),
			TableArn:   "arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog",
			TableID:    "12345a12-abcd-123a-ab12-1234abc12345",
			ExportTime: time.Date(2020, 11, 4, 7, 28, 34, 28e6, time.UTC),
			S3Bucket:   "ddb-productcatalog-export", S3Prefix: "2020-Nov", S3SseAlgorithm: "AES256",
			ManifestFilesS3Key: "AWSDynamoDB/01234567890123-a1b2c3d4/manifest-files.json",
			ItemCount:          8, OutputFormat: "DYNAMODB_JSON",
		}},
		{recordExports + "/Readings/manifest-summary.json", Summary{
			Version:    "2020-06-30",
			ExportArn:  "arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/01795449600123-5f1c2e3a",
			StartTime:  time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC),
			EndTime:    time.Date(2026, 11, 23, 16, 7, 41, 902e6, time.UTC),
			TableArn:   "arn:aws:dynamodb:eu-west-1:123456789012:table/Readings",
			TableID:    "5e0c6b1a-7f3d-4c2e-9a41-0b8d2f6e1c37",
			ExportTime: time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC),
			S3Bucket:   "lake-backfill", S3Prefix: "exports", S3SseAlgorithm: "AES256",
			ManifestFilesS3Key: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/manifest-files.json",
			ItemCount:          4, OutputFormat: "DYNAMODB_JSON",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadSummary(bytes.NewReader(readFile(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name        string
				got, expect any
			}{
				{"Version", got.Version, tc.expect.Version},
				{"ExportArn", got.ExportArn, tc.expect.ExportArn},
				{"StartTime", got.StartTime, tc.expect.StartTime},
				{"EndTime", got.EndTime, tc.expect.EndTime},
				{"TableArn", got.TableArn, tc.expect.TableArn},
				{"TableID", got.TableID, tc.expect.TableID},
				{"ExportTime", got.ExportTime, tc.expect.ExportTime},
				{"S3Bucket", got.S3Bucket, tc.expect.S3Bucket},
				{"S3Prefix", got.S3Prefix, tc.expect.S3Prefix},
				{"S3SseAlgorithm", got.S3SseAlgorithm, tc.expect.S3SseAlgorithm},
				{"S3SseKmsKeyID", got.S3SseKmsKeyID, tc.expect.S3SseKmsKeyID},
				{"ManifestFilesS3Key", got.ManifestFilesS3Key, tc.expect.ManifestFilesS3Key},
				{"BilledSizeBytes", got.BilledSizeBytes, tc.expect.BilledSizeBytes},
				{"ItemCount", got.ItemCount, tc.expect.ItemCount},
				{"OutputFormat", got.OutputFormat, tc.expect.OutputFormat},
				{"ExportType", got.ExportType, tc.expect.ExportType},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
				}
			}
			if err := got.Supported(); err != nil {
				t.Errorf("Supported: %v", err)
			}
		})
	}
}

func TestParseSummaryRejects(t *testing.T) {
	valid := string(readFile(t, "testdata/documented/manifest-summary.json"))
	tests := []struct {
		name, summary, expectErr string
	}{
		{"not JSON", "{", "not the documented JSON object"},
		{"an array", "[]", "not the documented JSON object"},
		{"no export ARN", strings.Replace(valid, `"exportArn"`, `"x"`, 1), `exportArn "" is not`},
		{"export ARN of a table", strings.Replace(valid, "/export/01234567890123-a1b2c3d4", "", 1), "exportArn"},
		{"table ARN of a stream", strings.Replace(valid, `table/ProductCatalog"`, `table/ProductCatalog/stream/x"`, 1), "tableArn"},
		{"no export time", strings.Replace(valid, `"exportTime"`, `"x"`, 1), "exportTime is missing"},
		{"bad export time", strings.Replace(valid, `"exportTime": "2020-11-04T07:28:34.028Z"`, `"exportTime": "yesterday"`, 1), "not the documented JSON object"},
		{"no files manifest", strings.Replace(valid, `"manifestFilesS3Key"`, `"x"`, 1), "manifestFilesS3Key is missing"},
		{"negative item count", strings.Replace(valid, `"itemCount": 8`, `"itemCount": -8`, 1), "itemCount -8 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSummary([]byte(tc.summary))
			if err == nil || !strings.Contains(err.Error(), tc.expectErr) {
				t.Errorf("error: got %v, expect one containing %q", err, tc.expectErr)
			}
		})
	}
	if _, err := ReadSummary(strings.NewReader(strings.Repeat(" ", maxSummaryBytes+1))); err == nil {
		t.Error("a summary larger than the bound was read")
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		format, typ string
		expectOK    bool
	}{
		{"DYNAMODB_JSON", "", true},
		{"DYNAMODB_JSON", "FULL_EXPORT", true},
		{"DYNAMODB_JSON", "INCREMENTAL_EXPORT", false},
		{"ION", "FULL_EXPORT", false},
		{"", "", false},
	}
	for _, tc := range tests {
		err := Summary{ExportArn: "a", OutputFormat: tc.format, ExportType: tc.typ}.Supported()
		if got := err == nil; got != tc.expectOK {
			t.Errorf("format %q type %q: got %v, expect supported %v", tc.format, tc.typ, err, tc.expectOK)
		}
	}
}

func TestReadDataFiles(t *testing.T) {
	tests := []struct {
		file   string
		expect []DataFile
	}{
		{"testdata/documented/manifest-files.json", []DataFile{{ItemCount: 8, MD5Checksum: "sQMSpEILNgoQmarvDFonGQ==",
			ETag: "af83d6f217c19b8b0fff8023d8ca4716-1", DataFileS3Key: "AWSDynamoDB/01234567890123-a1b2c3d4/data/bafybeiczss3yxay3o4abnabbb.json.gz"}}},
		{recordExports + "/Readings/manifest-files.json", []DataFile{
			{ItemCount: 3, DataFileS3Key: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz"},
			{ItemCount: 1, DataFileS3Key: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/o2x5mqzj6e4hbd7lvyk3fna2wi.json.gz"},
			{ItemCount: 0, DataFileS3Key: "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/ysl2bqgjcy5oznkkjfpc4ux3ru.json.gz"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadDataFiles(bytes.NewReader(readFile(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.expect) {
				t.Fatalf("files: got %d, expect %d", len(got), len(tc.expect))
			}
			for i := range got {
				if got[i] != tc.expect[i] {
					t.Errorf("file %d: got %+v, expect %+v", i, got[i], tc.expect[i])
				}
			}
		})
	}
}

func TestReadDataFilesRejects(t *testing.T) {
	tests := map[string]string{
		"item-count-not-a-number.json": "line 2: not a JSON object",
		"item-count-missing.json":      "line 3: itemCount is missing",
		"item-count-negative.json":     "line 1: itemCount -1 is negative",
		"md5-not-base64.json":          `line 1: md5Checksum "not base64" is not the base64 of 16 bytes`,
		"key-missing.json":             "line 1: dataFileS3Key is missing",
		"truncated.json":               "line 1: not a JSON object",
	}
	for file, expect := range tests {
		t.Run(file, func(t *testing.T) {
			files, err := ReadDataFiles(bytes.NewReader(readFile(t, filepath.Join("testdata/malformed", file))))
			if err == nil || !strings.Contains(err.Error(), "manifest-files.json "+expect) {
				t.Errorf("error: got %v, expect one containing %q", err, expect)
			}
			if files != nil {
				t.Errorf("files: got %d, expect none from a malformed manifest", len(files))
			}
		})
	}
	long := `{"itemCount":1,"dataFileS3Key":"` + strings.Repeat("a", maxManifestLine) + `"}`
	if _, err := ReadDataFiles(strings.NewReader(long)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("overlong line: got %v", err)
	}
}

// TestDocumentedMD5IsOfTheObject pins what md5Checksum is a checksum of,
// which the documentation does not say in words: its example's etag is
// the ETag of a one-part multipart upload, MD5(MD5(part))-1, and the MD5
// of md5Checksum's bytes is that ETag. So md5Checksum is the MD5 of the
// stored (gzip) object, which the converter checks as it reads.
func TestDocumentedMD5IsOfTheObject(t *testing.T) {
	files, err := ReadDataFiles(bytes.NewReader(readFile(t, "testdata/documented/manifest-files.json")))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := DecodeMD5(files[0].MD5Checksum)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(raw)
	if got, expect := hex.EncodeToString(sum[:])+"-1", files[0].ETag; got != expect {
		t.Errorf("MD5 of md5Checksum's bytes: got %s, expect the etag %s", got, expect)
	}
}

func TestParseArns(t *testing.T) {
	tests := []struct {
		arn, expectTable, expectID string
	}{
		{"arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/01795449600123-5f1c2e3a", "Readings", "01795449600123-5f1c2e3a"},
		{"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/a.b-c_d/export/1-2", "a.b-c_d", "1-2"},
		{"arn:aws:dynamodb:eu-west-1:123456789012:table/Readings", "", ""},
		{"arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/", "", ""},
		{"arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/export/a/b", "", ""},
		{"arn:aws:s3:eu-west-1:123456789012:table/Readings/export/x", "", ""},
		{"table/Readings/export/x", "", ""},
	}
	for _, tc := range tests {
		table, id, err := ParseExportArn(tc.arn)
		if table != tc.expectTable || id != tc.expectID || (err == nil) != (tc.expectID != "") {
			t.Errorf("ParseExportArn(%q): got %q %q %v, expect %q %q", tc.arn, table, id, err, tc.expectTable, tc.expectID)
		}
	}
	if name, err := TableNameFromArn("arn:aws:dynamodb:eu-west-1:123456789012:table/Readings"); name != "Readings" || err != nil {
		t.Errorf("TableNameFromArn: got %q %v", name, err)
	}
	if _, err := TableNameFromArn("arn:aws:dynamodb:eu-west-1:123456789012:table/Readings/stream/x"); err == nil {
		t.Error("TableNameFromArn accepted a stream ARN")
	}
}

func TestLocateAndResolve(t *testing.T) {
	tests := []struct {
		name, summaryKey, key string
		expectRoot, expectKey string
		expectErr             bool
	}{
		{"key with the prefix, as exports write it", "exports/AWSDynamoDB/1-a/manifest-summary.json",
			"exports/AWSDynamoDB/1-a/data/f.json.gz", "exports", "exports/AWSDynamoDB/1-a/data/f.json.gz", false},
		{"key without the prefix, as documented", "2020-Nov/AWSDynamoDB/1-a/manifest-summary.json",
			"AWSDynamoDB/1-a/manifest-files.json", "2020-Nov", "2020-Nov/AWSDynamoDB/1-a/manifest-files.json", false},
		{"deep prefix without it", "a/b/c/AWSDynamoDB/1-a/manifest-summary.json",
			"AWSDynamoDB/1-a/data/f.json.gz", "a/b/c", "a/b/c/AWSDynamoDB/1-a/data/f.json.gz", false},
		{"export at the bucket's root", "AWSDynamoDB/1-a/manifest-summary.json",
			"AWSDynamoDB/1-a/data/f.json.gz", "", "AWSDynamoDB/1-a/data/f.json.gz", false},
		{"another export's file", "exports/AWSDynamoDB/1-a/manifest-summary.json",
			"exports/AWSDynamoDB/2-b/data/f.json.gz", "exports", "", true},
		{"outside the export", "exports/AWSDynamoDB/1-a/manifest-summary.json",
			"cdc/table=T/x.jsonl.gz", "exports", "", true},
		{"climbing out", "exports/AWSDynamoDB/1-a/manifest-summary.json",
			"exports/AWSDynamoDB/1-a/../2-b/data/f.json.gz", "exports", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := LocateSummary(tc.summaryKey)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Root != tc.expectRoot || loc.ExportID != "1-a" {
				t.Errorf("location: got %+v, expect root %q and export 1-a", loc, tc.expectRoot)
			}
			got, err := loc.Resolve(tc.key)
			if got != tc.expectKey || (err != nil) != tc.expectErr {
				t.Errorf("Resolve(%q): got %q, %v; expect %q (error %v)", tc.key, got, err, tc.expectKey, tc.expectErr)
			}
		})
	}
	for _, key := range []string{"manifest-summary.json", "exports/1-a/manifest-summary.json", "exports/AWSDynamoDB/manifest-summary.json",
		"exports/AWSDynamoDB/1-a/manifest-files.json", "exports/AWSDynamoDB/1-a/data/manifest-summary.json", "exports//AWSDynamoDB/1-a/manifest-summary.json"} {
		if loc, err := LocateSummary(key); err == nil {
			t.Errorf("LocateSummary(%q) = %+v; expect an error", key, loc)
		}
	}
}

func TestDecodeMD5(t *testing.T) {
	for s, ok := range map[string]bool{"": true, "sQMSpEILNgoQmarvDFonGQ==": true, "sQMSpEILNgoQmarvDFon": false, "!!": false,
		strconv.Quote("x"): false} {
		if _, err := DecodeMD5(s); (err == nil) != ok {
			t.Errorf("DecodeMD5(%q): got %v, expect ok %v", s, err, ok)
		}
	}
}
