package exports

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"
)

// Export statuses, formats and types, as the API names them.
const (
	statusInProgress = "IN_PROGRESS"
	statusCompleted  = "COMPLETED"
	statusFailed     = "FAILED"
	formatJSON       = "DYNAMODB_JSON"
	typeFull         = "FULL_EXPORT"
	sseAES256        = "AES256"
	sseKMS           = "KMS"
)

// epoch is a timestamp in the JSON protocol: seconds since the Unix
// epoch, with milliseconds, written exactly.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)), nil
}

// description is the API's ExportDescription, with its field names.
type description struct {
	ExportArn       string
	ExportStatus    string
	StartTime       epoch
	EndTime         *epoch `json:",omitempty"`
	ExportManifest  string `json:",omitempty"`
	TableArn        string
	TableId         string
	ExportTime      epoch
	ClientToken     string `json:",omitempty"`
	S3Bucket        string
	S3BucketOwner   string `json:",omitempty"`
	S3Prefix        string `json:",omitempty"`
	S3SseAlgorithm  string `json:",omitempty"`
	S3SseKmsKeyId   string `json:",omitempty"`
	FailureCode     string `json:",omitempty"`
	FailureMessage  string `json:",omitempty"`
	ExportFormat    string
	ExportType      string
	BilledSizeBytes *int64 `json:",omitempty"`
	ItemCount       *int64 `json:",omitempty"`
}

// export is one export and what its writer needs.
type export struct {
	id    string
	desc  description
	table tableDesc
	// writer writes its objects as the principal that started it.
	writer ObjectWriter
}

// request is ExportTableToPointInTime's input.
type request struct {
	TableArn                       string
	S3Bucket                       string
	S3BucketOwner                  string
	S3Prefix                       string
	S3SseAlgorithm                 string
	S3SseKmsKeyId                  string
	ClientToken                    string
	ExportFormat                   string
	ExportType                     string
	ExportTime                     *json.Number
	IncrementalExportSpecification json.RawMessage
	FilterSpecification            json.RawMessage
}

// params is the request without its ClientToken: two requests with one
// token are "identical calls" when their params are equal.
func (r request) params() string {
	r.ClientToken = ""
	b, _ := json.Marshal(r)
	return string(b)
}

func parseEpoch(n json.Number) (time.Time, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(f*1000 + 0.5)).UTC(), nil
}

func (e *Endpoint) exportTable(ctx context.Context, body []byte) (any, error) {
	var in request
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.TableArn == "" || in.S3Bucket == "":
		return nil, validation("TableArn and S3Bucket are required")
	case in.ExportFormat != "" && in.ExportFormat != formatJSON:
		return nil, validation("ExportFormat " + in.ExportFormat + " is not emulated locally; use DYNAMODB_JSON")
	case in.ExportType != "" && in.ExportType != typeFull,
		len(in.IncrementalExportSpecification) > 0 && string(in.IncrementalExportSpecification) != "null":
		return nil, validation("only FULL_EXPORT is emulated locally")
	case len(in.FilterSpecification) > 0 && string(in.FilterSpecification) != "null":
		return nil, validation("FilterSpecification is not emulated locally")
	case in.S3SseAlgorithm != "" && in.S3SseAlgorithm != sseAES256 && in.S3SseAlgorithm != sseKMS:
		return nil, validation("S3SseAlgorithm must be AES256 or KMS")
	}
	now := e.cfg.Now()
	e.mu.Lock()
	out, known, err := e.byToken(in, now)
	e.mu.Unlock()
	if known {
		return out, err
	}

	name := tableName(in.TableArn)
	t, err := e.table(ctx, name)
	if err != nil {
		return nil, err
	}
	enabled, earliest, latest := e.recoveryWindow(t)
	if !enabled {
		return nil, clientError("PointInTimeRecoveryUnavailableException", "Point in time recovery is not enabled for table '"+name+"'")
	}
	exportTime := latest
	if in.ExportTime != nil {
		if exportTime, err = parseEpoch(*in.ExportTime); err != nil {
			return nil, validation("ExportTime is not a number of seconds: " + err.Error())
		}
		// Point-in-time recovery restores to the second
		// (day:hour:minute:second, RestoreTableToPointInTime), so the
		// window is compared in whole seconds: an export time in the
		// second of the table's creation is in it, as a backfill started
		// right after creating a table asks (it truncates the time).
		if exportTime.Before(earliest.Truncate(time.Second)) || exportTime.After(latest) {
			return nil, clientError("InvalidExportTimeException", fmt.Sprintf(
				"ExportTime %s is outside the point in time recovery window [%s, %s]",
				exportTime.Format(time.RFC3339), earliest.Format(time.RFC3339), latest.Format(time.RFC3339)))
		}
	}
	// The table as it is now: never older than exportTime (see doc.go).
	items, err := e.up.scan(ctx, name)
	if err != nil {
		return nil, err
	}

	id := fmt.Sprintf("%014d-%08x", now.UnixMilli(), rand.Uint32())
	ex := &export{id: id, table: t, writer: e.writerFor(ctx), desc: description{
		ExportArn: t.TableArn + "/export/" + id, ExportStatus: statusInProgress,
		StartTime: epoch(now), TableArn: t.TableArn, TableId: t.id(), ExportTime: epoch(exportTime),
		ClientToken: in.ClientToken, S3Bucket: in.S3Bucket, S3BucketOwner: in.S3BucketOwner, S3Prefix: in.S3Prefix,
		S3SseAlgorithm: in.S3SseAlgorithm, S3SseKmsKeyId: in.S3SseKmsKeyId, ExportFormat: formatJSON, ExportType: typeFull,
	}}
	if ex.desc.S3SseAlgorithm == "" {
		ex.desc.S3SseAlgorithm = sseAES256 // as the documented manifest shows when none was asked for
	}
	e.mu.Lock()
	// A concurrent request with the same token may have won meanwhile.
	if out, known, err := e.byToken(in, now); known {
		e.mu.Unlock()
		return out, err
	}
	if in.ClientToken != "" {
		e.tokens[in.ClientToken] = tokenUse{arn: ex.desc.ExportArn, params: in.params(), until: now.Add(tokenWindow)}
	}
	e.exports = append(e.exports, ex)
	e.byARN[ex.desc.ExportArn] = ex
	hold := e.hold
	desc := ex.desc
	e.mu.Unlock()

	e.writers.Add(1)
	go func() {
		defer e.writers.Done()
		if hold != nil {
			select {
			case <-hold:
			case <-e.ctx.Done():
			}
		}
		if e.ctx.Err() != nil {
			return
		}
		r := e.write(e.ctx, ex, items)
		if e.ctx.Err() != nil {
			return // closed while writing: the export stays IN_PROGRESS
		}
		e.finish(ex, r)
	}()
	return map[string]any{"ExportDescription": desc}, nil
}

// byToken answers a request whose ClientToken an earlier request used
// within the idempotency window: the same export for the same
// parameters, ExportConflictException for others. known is false for a
// new token. The caller holds e.mu.
func (e *Endpoint) byToken(in request, now time.Time) (out any, known bool, err error) {
	use, ok := e.tokens[in.ClientToken]
	if in.ClientToken == "" || !ok || !now.Before(use.until) {
		return nil, false, nil
	}
	if use.params != in.params() {
		return nil, true, clientError("ExportConflictException",
			"ClientToken "+in.ClientToken+" was used within 8 hours by a request with other parameters")
	}
	return map[string]any{"ExportDescription": e.byARN[use.arn].desc}, true, nil
}

// result is what a finished write reports.
type result struct {
	items, bytes int64
	manifest     string
	err          error
}

func (e *Endpoint) finish(ex *export, r result) {
	end := epoch(e.cfg.Now())
	e.mu.Lock()
	ex.desc.EndTime = &end
	if r.err != nil {
		ex.desc.ExportStatus = statusFailed
		ex.desc.FailureCode, ex.desc.FailureMessage = "S3Error", r.err.Error()
		var ae smithy.APIError
		if errors.As(r.err, &ae) {
			ex.desc.FailureCode = ae.ErrorCode()
		}
	} else {
		ex.desc.ExportStatus = statusCompleted
		ex.desc.ExportManifest = r.manifest
		ex.desc.ItemCount, ex.desc.BilledSizeBytes = &r.items, &r.bytes
	}
	e.mu.Unlock()
	e.changed.Notify()
}

// exportDir is where AWS writes an export's objects:
// export-prefix/AWSDynamoDB/ExportId/.
func exportDir(prefix, id string) string {
	if prefix == "" {
		return "AWSDynamoDB/" + id
	}
	return prefix + "/AWSDynamoDB/" + id
}

// dataFileName returns a name like AWS's data files
// (c7kq3nqzuu3tzmdbwwr2bj7rpa.json.gz): 26 lowercase base32 characters.
func dataFileName() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b) + ".json.gz"
}

// fileLine is one line of manifest-files.json, fields in the documented
// order.
type fileLine struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	ETag          string `json:"etag"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

// summary is manifest-summary.json, fields in the documented order;
// s3Prefix and s3SseKmsKeyId are null when not set, as in AWS's example.
type summary struct {
	Version            string  `json:"version"`
	ExportArn          string  `json:"exportArn"`
	StartTime          string  `json:"startTime"`
	EndTime            string  `json:"endTime"`
	TableArn           string  `json:"tableArn"`
	TableID            string  `json:"tableId"`
	ExportTime         string  `json:"exportTime"`
	S3Bucket           string  `json:"s3Bucket"`
	S3Prefix           *string `json:"s3Prefix"`
	S3SseAlgorithm     string  `json:"s3SseAlgorithm"`
	S3SseKmsKeyID      *string `json:"s3SseKmsKeyId"`
	ManifestFilesS3Key string  `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64   `json:"billedSizeBytes"`
	ItemCount          int64   `json:"itemCount"`
	OutputFormat       string  `json:"outputFormat"`
}

// manifestTime is the manifests' time format: 2020-11-04T07:28:34.028Z.
const manifestTime = "2006-01-02T15:04:05.000Z"

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// write puts the export's objects in the order AWS makes them visible:
// _started, the data files, manifest-files.json, and manifest-summary.json
// last, whose creation is what announces a finished export.
func (e *Endpoint) write(ctx context.Context, ex *export, items []json.RawMessage) result {
	d := ex.desc
	dir := exportDir(d.S3Prefix, ex.id)
	if _, err := e.put(ctx, ex.writer, d, dir+"/_started", nil); err != nil {
		return result{err: err}
	}
	files, bytesTotal, err := split(items, ex.table.hashKey(), e.cfg.DataFiles)
	if err != nil {
		return result{err: err}
	}
	var manifest bytes.Buffer
	for _, f := range files {
		key := dir + "/data/" + dataFileName()
		out, err := e.put(ctx, ex.writer, d, key, f.gz)
		if err != nil {
			return result{err: err}
		}
		sum := md5.Sum(f.gz)
		line, _ := json.Marshal(fileLine{ItemCount: f.items, MD5Checksum: base64.StdEncoding.EncodeToString(sum[:]),
			ETag: strings.Trim(aws.ToString(out.ETag), `"`), DataFileS3Key: key})
		manifest.Write(line)
		manifest.WriteByte('\n')
	}
	filesKey := dir + "/manifest-files.json"
	if err := e.putWithChecksum(ctx, ex.writer, d, filesKey, manifest.Bytes()); err != nil {
		return result{err: err}
	}
	s, _ := json.Marshal(summary{
		Version: "2020-06-30", ExportArn: d.ExportArn,
		StartTime: time.Time(d.StartTime).UTC().Format(manifestTime), EndTime: e.cfg.Now().UTC().Format(manifestTime),
		TableArn: d.TableArn, TableID: d.TableId, ExportTime: time.Time(d.ExportTime).UTC().Format(manifestTime),
		S3Bucket: d.S3Bucket, S3Prefix: optional(d.S3Prefix), S3SseAlgorithm: d.S3SseAlgorithm, S3SseKmsKeyID: optional(d.S3SseKmsKeyId),
		ManifestFilesS3Key: filesKey, BilledSizeBytes: bytesTotal, ItemCount: int64(len(items)), OutputFormat: formatJSON,
	})
	summaryKey := dir + "/manifest-summary.json"
	if err := e.putWithChecksum(ctx, ex.writer, d, summaryKey, s); err != nil {
		return result{err: err}
	}
	return result{items: int64(len(items)), bytes: bytesTotal, manifest: summaryKey}
}

func (e *Endpoint) putWithChecksum(ctx context.Context, w ObjectWriter, d description, key string, body []byte) error {
	if _, err := e.put(ctx, w, d, key, body); err != nil {
		return err
	}
	sum := md5.Sum(body)
	_, err := e.put(ctx, w, d, strings.TrimSuffix(key, ".json")+".checksum", []byte(hex.EncodeToString(sum[:])))
	return err
}

// put writes one object with the export's encryption settings, as AWS
// writes with the S3SseAlgorithm and key it was given.
func (e *Endpoint) put(ctx context.Context, w ObjectWriter, d description, key string, body []byte) (*s3.PutObjectOutput, error) {
	in := &s3.PutObjectInput{Bucket: aws.String(d.S3Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body)))}
	if d.S3BucketOwner != "" {
		in.ExpectedBucketOwner = aws.String(d.S3BucketOwner)
	}
	if d.S3SseAlgorithm == sseKMS {
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		if d.S3SseKmsKeyId != "" {
			in.SSEKMSKeyId = aws.String(d.S3SseKmsKeyId)
		}
	}
	out, err := w.PutObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("put s3://%s/%s: %w", d.S3Bucket, key, err)
	}
	return out, nil
}

// dataFile is one gzip data file and how many items it holds.
type dataFile struct {
	gz    []byte
	items int64
}

// split spreads items over n gzip files by a hash of the partition key,
// as AWS writes each partition's items to its own files: one item is in
// exactly one file, and with fewer keys than files some stay empty. Each
// line is {"Item":{...}} and ends with a newline (JSON lines). bytes is
// the items' JSON size, standing in for the billed size.
func split(items []json.RawMessage, hashKey string, n int) (files []dataFile, size int64, err error) {
	bufs := make([]bytes.Buffer, n)
	writers := make([]*gzip.Writer, n)
	files = make([]dataFile, n)
	for i := range writers {
		writers[i] = gzip.NewWriter(&bufs[i])
	}
	var compact bytes.Buffer
	for _, it := range items {
		compact.Reset()
		if err := json.Compact(&compact, it); err != nil {
			return nil, 0, fmt.Errorf("scanned item is not JSON: %w", err)
		}
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(compact.Bytes(), &attrs); err != nil {
			return nil, 0, fmt.Errorf("scanned item is not an object: %w", err)
		}
		h := fnv.New32a()
		h.Write(attrs[hashKey])
		i := int(h.Sum32() % uint32(n))
		size += int64(compact.Len())
		w := writers[i]
		if _, err := w.Write([]byte(`{"Item":`)); err != nil {
			return nil, 0, err
		}
		_, _ = w.Write(compact.Bytes())
		_, _ = w.Write([]byte("}\n"))
		files[i].items++
	}
	for i, w := range writers {
		if err := w.Close(); err != nil {
			return nil, 0, err
		}
		files[i].gz = bufs[i].Bytes()
	}
	return files, size, nil
}

func (e *Endpoint) describeExport(_ context.Context, body []byte) (any, error) {
	var in struct{ ExportArn string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ex, ok := e.byARN[in.ExportArn]
	if !ok {
		return nil, clientError("ExportNotFoundException", "Export not found: "+in.ExportArn)
	}
	return map[string]any{"ExportDescription": ex.desc}, nil
}

// maxListResults is ListExports' largest page (API reference: MaxResults
// 1 to 25).
const maxListResults = 25

func (e *Endpoint) listExports(_ context.Context, body []byte) (any, error) {
	var in struct {
		TableArn   string
		MaxResults *int
		NextToken  string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit := maxListResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListResults {
			return nil, validation(fmt.Sprintf("MaxResults must be between 1 and %d", maxListResults))
		}
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		b, err := base64.StdEncoding.DecodeString(in.NextToken)
		if err == nil {
			start, err = strconv.Atoi(string(b))
		}
		if err != nil || start < 0 {
			return nil, validation("NextToken is not one this endpoint gave")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	summaries := []map[string]string{}
	i := start
	for ; i < len(e.exports) && len(summaries) < limit; i++ {
		d := e.exports[i].desc
		if in.TableArn != "" && d.TableArn != in.TableArn {
			continue
		}
		summaries = append(summaries, map[string]string{"ExportArn": d.ExportArn, "ExportStatus": d.ExportStatus, "ExportType": d.ExportType})
	}
	out := map[string]any{"ExportSummaries": summaries}
	for j := i; j < len(e.exports); j++ {
		if in.TableArn == "" || e.exports[j].desc.TableArn == in.TableArn {
			out["NextToken"] = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(i)))
			break
		}
	}
	return out, nil
}
