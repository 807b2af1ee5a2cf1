package export

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// The field names below are AWS's, from "DynamoDB table export output
// format" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html).
// Decoding is not strict: AWS adds fields (exportType, for incremental
// exports, came later than the documented example), and an unknown field
// says nothing against the ones read here.

// Summary is an export's manifest-summary.json.
type Summary struct {
	Version    string    `json:"version"`
	ExportArn  string    `json:"exportArn"`
	StartTime  time.Time `json:"startTime"`
	EndTime    time.Time `json:"endTime"`
	TableArn   string    `json:"tableArn"`
	TableID    string    `json:"tableId"`
	ExportTime time.Time `json:"exportTime"`
	S3Bucket   string    `json:"s3Bucket"`
	// S3Prefix is the export prefix of the request; null (empty) when the
	// export was written at the bucket's root.
	S3Prefix       string `json:"s3Prefix"`
	S3SseAlgorithm string `json:"s3SseAlgorithm"`
	S3SseKmsKeyID  string `json:"s3SseKmsKeyId"`
	// ManifestFilesS3Key locates manifest-files.json; see Location.Resolve
	// for why it may lack the export prefix.
	ManifestFilesS3Key string `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64  `json:"billedSizeBytes"`
	ItemCount          int64  `json:"itemCount"`
	// OutputFormat is DYNAMODB_JSON or ION.
	OutputFormat string `json:"outputFormat"`
	// ExportType is FULL_EXPORT or INCREMENTAL_EXPORT; the documented
	// example of a full export has none, so empty means a full export.
	ExportType string `json:"exportType"`
}

// Output formats and export types (DescribeExport's ExportFormat and
// ExportType use the same words).
const (
	FormatDynamoDBJSON = "DYNAMODB_JSON"
	FullExport         = "FULL_EXPORT"
)

// maxSummaryBytes bounds what is read of a summary: AWS's is a few hundred
// bytes, and an unbounded read of a wrong object could exhaust memory.
const maxSummaryBytes = 1 << 20

// ReadSummary reads and checks a manifest-summary.json.
func ReadSummary(r io.Reader) (Summary, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSummaryBytes+1))
	if err != nil {
		return Summary{}, fmt.Errorf("read manifest summary: %w", err)
	}
	if len(b) > maxSummaryBytes {
		return Summary{}, fmt.Errorf("manifest summary is larger than %d bytes", maxSummaryBytes)
	}
	return ParseSummary(b)
}

// ParseSummary decodes and checks a manifest-summary.json: the fields the
// backfill needs must be present and well formed. Whether the export is
// one the converter can read is Supported's question.
func ParseSummary(b []byte) (Summary, error) {
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("manifest summary is not the documented JSON object: %w", err)
	}
	var bad []string
	if _, _, err := ParseExportArn(s.ExportArn); err != nil {
		bad = append(bad, err.Error())
	}
	if _, err := TableNameFromArn(s.TableArn); err != nil {
		bad = append(bad, err.Error())
	}
	if s.ExportTime.IsZero() {
		bad = append(bad, "exportTime is missing")
	}
	if s.ManifestFilesS3Key == "" {
		bad = append(bad, "manifestFilesS3Key is missing")
	}
	if s.ItemCount < 0 {
		bad = append(bad, fmt.Sprintf("itemCount %d is negative", s.ItemCount))
	}
	if len(bad) > 0 {
		return Summary{}, fmt.Errorf("manifest summary: %s", strings.Join(bad, "; "))
	}
	return s, nil
}

// Supported reports why the converter cannot read the export's data
// files, or nil: it reads full exports in DynamoDB JSON. An Ion export
// has other line syntax, and an incremental export's lines are changes
// (Keys, NewImage, OldImage), not items.
func (s Summary) Supported() error {
	if s.OutputFormat != FormatDynamoDBJSON {
		return fmt.Errorf("export %s has output format %q; the backfill reads %s only", s.ExportArn, s.OutputFormat, FormatDynamoDBJSON)
	}
	if s.ExportType != "" && s.ExportType != FullExport {
		return fmt.Errorf("export %s is an %s; the backfill reads %s only", s.ExportArn, s.ExportType, FullExport)
	}
	return nil
}

// ParseExportArn splits an export ARN,
// arn:<partition>:dynamodb:<region>:<account>:table/<table>/export/<export ID>,
// into the table's name and the export ID.
func ParseExportArn(arn string) (table, exportID string, err error) {
	resource, ok := dynamoDBResource(arn)
	table, exportID, found := strings.Cut(strings.TrimPrefix(resource, "table/"), "/export/")
	if !ok || !strings.HasPrefix(resource, "table/") || !found || table == "" || exportID == "" || strings.Contains(exportID, "/") {
		return "", "", fmt.Errorf("exportArn %q is not arn:<partition>:dynamodb:<region>:<account>:table/<table>/export/<export ID>", arn)
	}
	return table, exportID, nil
}

// TableNameFromArn returns the table name of a table ARN,
// arn:<partition>:dynamodb:<region>:<account>:table/<table>.
func TableNameFromArn(arn string) (string, error) {
	resource, ok := dynamoDBResource(arn)
	name, found := strings.CutPrefix(resource, "table/")
	if !ok || !found || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("tableArn %q is not arn:<partition>:dynamodb:<region>:<account>:table/<table>", arn)
	}
	return name, nil
}

// dynamoDBResource returns the resource part of a DynamoDB ARN.
func dynamoDBResource(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "dynamodb" || parts[3] == "" || parts[4] == "" {
		return "", false
	}
	return parts[5], true
}

// DataFile is one line of an export's manifest-files.json: one data file.
type DataFile struct {
	// ItemCount is the number of items in the file.
	ItemCount int64 `json:"itemCount"`
	// MD5Checksum is the base64 MD5 of the data file object as stored,
	// that is of its gzip bytes. The documented example shows it: its
	// etag, af83d6f217c19b8b0fff8023d8ca4716-1, is the ETag of a one-part
	// multipart upload, the MD5 of the part's MD5, and the MD5 of
	// md5Checksum's 16 bytes is af83d6f217c19b8b0fff8023d8ca4716.
	MD5Checksum string `json:"md5Checksum"`
	// ETag is the data file object's ETag.
	ETag string `json:"etag"`
	// DataFileS3Key locates the file; see Location.Resolve.
	DataFileS3Key string `json:"dataFileS3Key"`
}

// maxManifestLine bounds one line of manifest-files.json: AWS's are about
// 200 bytes.
const maxManifestLine = 64 << 10

// ReadDataFiles reads a manifest-files.json: JSON Lines, one data file a
// line, blank lines skipped. Every line is checked before any is
// returned, so a malformed manifest yields an error naming its line and
// no data files.
func ReadDataFiles(r io.Reader) ([]DataFile, error) {
	br := bufio.NewReaderSize(r, maxManifestLine)
	var files []DataFile
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("manifest-files.json line %d is longer than %d bytes", n, maxManifestLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read manifest-files.json: %w", err)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			f, perr := parseDataFile(trimmed)
			if perr != nil {
				return nil, fmt.Errorf("manifest-files.json line %d: %w", n, perr)
			}
			files = append(files, f)
		}
		if err != nil { // io.EOF
			return files, nil
		}
	}
}

func parseDataFile(line []byte) (DataFile, error) {
	var raw struct {
		ItemCount     *int64  `json:"itemCount"`
		MD5Checksum   *string `json:"md5Checksum"`
		ETag          *string `json:"etag"`
		DataFileS3Key *string `json:"dataFileS3Key"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return DataFile{}, fmt.Errorf("not a JSON object with itemCount, md5Checksum, etag and dataFileS3Key: %w", err)
	}
	var bad []string
	switch {
	case raw.ItemCount == nil:
		bad = append(bad, "itemCount is missing")
	case *raw.ItemCount < 0:
		bad = append(bad, fmt.Sprintf("itemCount %d is negative", *raw.ItemCount))
	}
	if raw.DataFileS3Key == nil || *raw.DataFileS3Key == "" {
		bad = append(bad, "dataFileS3Key is missing")
	}
	f := DataFile{}
	if raw.ItemCount != nil {
		f.ItemCount = *raw.ItemCount
	}
	if raw.DataFileS3Key != nil {
		f.DataFileS3Key = *raw.DataFileS3Key
	}
	if raw.MD5Checksum != nil {
		f.MD5Checksum = *raw.MD5Checksum
		if _, err := DecodeMD5(f.MD5Checksum); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if raw.ETag != nil {
		f.ETag = *raw.ETag
	}
	if len(bad) > 0 {
		return DataFile{}, errors.New(strings.Join(bad, "; "))
	}
	return f, nil
}

// DecodeMD5 decodes a base64 md5Checksum; empty yields nil (nothing to
// check).
func DecodeMD5(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != md5.Size {
		return nil, fmt.Errorf("md5Checksum %q is not the base64 of %d bytes", s, md5.Size)
	}
	return b, nil
}

// Location is where an export's files are, read from the key of its
// summary: <root>/AWSDynamoDB/<export ID>/manifest-summary.json.
type Location struct {
	// Root is the export prefix as it is in the keys, without a trailing
	// slash; empty for an export at the bucket's root.
	Root string
	// ExportID is the directory the export's files are in.
	ExportID string
	// Dir is <root>/AWSDynamoDB/<export ID>, without a trailing slash.
	Dir string
}

// SummaryName is the name of an export's summary manifest, the object
// whose creation starts the planner.
const SummaryName = "manifest-summary.json"

// exportsDir is the directory DynamoDB writes each export's files under.
const exportsDir = "AWSDynamoDB"

// LocateSummary reads an export's location from the key of its
// manifest-summary.json.
func LocateSummary(key string) (Location, error) {
	dir, ok := strings.CutSuffix(key, "/"+SummaryName)
	segs := strings.Split(dir, "/")
	n := len(segs)
	if !ok || n < 2 || segs[n-2] != exportsDir || segs[n-1] == "" || path.Clean(key) != key {
		return Location{}, fmt.Errorf("key %q is not <export prefix>/%s/<export ID>/%s", key, exportsDir, SummaryName)
	}
	return Location{Root: strings.Join(segs[:n-2], "/"), ExportID: segs[n-1], Dir: dir}, nil
}

// Resolve returns the key of an export file named in a manifest
// (manifestFilesS3Key, dataFileS3Key). AWS's documented examples give
// these keys without the export prefix (s3Prefix "2020-Nov",
// manifestFilesS3Key "AWSDynamoDB/01345678901234-abc12345/manifest-files.json"),
// while exports write them under it, and the documentation does not say
// which the manifests hold. So a key is taken as given, relative to the
// bucket, when it lies in the export's directory, and else relative to the
// export prefix; a key that is in neither place is an error, never read.
func (l Location) Resolve(key string) (string, error) {
	inDir := func(k string) bool { return strings.HasPrefix(k, l.Dir+"/") && path.Clean(k) == k }
	if inDir(key) {
		return key, nil
	}
	if l.Root != "" && inDir(l.Root+"/"+key) {
		return l.Root + "/" + key, nil
	}
	return "", fmt.Errorf("key %q is not in the export's directory %s/, as given or under the export prefix %q", key, l.Dir, l.Root)
}
