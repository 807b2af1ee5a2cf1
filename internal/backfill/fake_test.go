package backfill

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

const (
	tableARN  = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"
	streamARN = tableARN + "/stream/2026-11-01T00:00:00.000"
	bucket    = "lake"
)

// now is the tests' wall clock; the stream is weeks old.
var now = time.Date(2026, 11, 23, 17, 42, 10, 0, time.UTC)

// fakeAWS plays DynamoDB and S3 for one backfill: an export completes
// after inProgressFor descriptions, its manifest appears in S3, and at
// each listing of a data directory the converter converts one more data
// file of each completed export, up to convertible files.
type fakeAWS struct {
	mu sync.Mutex
	// the table
	tableMissing bool
	streamOff    bool
	streamLabel  string
	latestStream string
	pitrOff      bool
	latest       time.Time
	// exports
	exportErr     error
	onExport      func(in *dynamodb.ExportTableToPointInTimeInput) // before answering
	exports       map[string]*types.ExportDescription
	order         []string
	polls         map[string]int
	inProgressFor int
	finalStatus   types.ExportStatus
	failure       string
	started       []*dynamodb.ExportTableToPointInTimeInput
	// itemCounts are each export's data files' item counts.
	itemCounts []int64
	// the converter: errorFiles is how many files (the first ones) have
	// some bad lines, allBad the files of bad lines only.
	convertible int
	errorFiles  int
	allBad      map[int]bool
	converted   map[string]int
	objects     map[string][]byte
	// puts are the objects the backfill wrote (its delete lines).
	puts []*s3.PutObjectInput
	// lambda plays the event source mapping and the export planner
	// (lambda_test.go).
	lambda fakeLambda
}

func newFake() *fakeAWS {
	return &fakeAWS{
		streamLabel: "2026-11-01T00:00:00.000", latestStream: streamARN, latest: now.Add(-5 * time.Minute),
		exports: map[string]*types.ExportDescription{}, polls: map[string]int{}, finalStatus: types.ExportStatusCompleted,
		itemCounts: []int64{10, 10, 0, 10}, convertible: 3, inProgressFor: 2, allBad: map[int]bool{},
		objects: map[string][]byte{}, converted: map[string]int{},
	}
}

func (f *fakeAWS) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if f.tableMissing {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found: Table: " + aws.ToString(in.TableName) + " not found")}
	}
	d := &types.TableDescription{TableName: in.TableName, TableArn: aws.String(tableARN),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(!f.streamOff), StreamViewType: types.StreamViewTypeNewAndOldImages}}
	if !f.streamOff {
		d.LatestStreamArn, d.LatestStreamLabel = aws.String(f.latestStream), aws.String(f.streamLabel)
	}
	return &dynamodb.DescribeTableOutput{Table: d}, nil
}

func (f *fakeAWS) DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error) {
	p := &types.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: types.PointInTimeRecoveryStatusDisabled}
	if !f.pitrOff {
		p = &types.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: types.PointInTimeRecoveryStatusEnabled,
			EarliestRestorableDateTime: aws.Time(now.Add(-35 * 24 * time.Hour)), LatestRestorableDateTime: aws.Time(f.latest)}
	}
	return &dynamodb.DescribeContinuousBackupsOutput{ContinuousBackupsDescription: &types.ContinuousBackupsDescription{
		ContinuousBackupsStatus: types.ContinuousBackupsStatusEnabled, PointInTimeRecoveryDescription: p}}, nil
}

// add registers an export as AWS would list it.
func (f *fakeAWS) add(d types.ExportDescription) *types.ExportDescription {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(d.ExportArn)
	if d.ExportType == "" {
		d.ExportType = types.ExportTypeFullExport
	}
	f.exports[arn] = &d
	f.order = append(f.order, arn)
	if d.ExportStatus == types.ExportStatusCompleted {
		f.complete(&d)
	}
	return &d
}

func (f *fakeAWS) ExportTableToPointInTime(_ context.Context, in *dynamodb.ExportTableToPointInTimeInput, _ ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error) {
	f.mu.Lock()
	f.started = append(f.started, in)
	n := len(f.order)
	f.mu.Unlock()
	if f.onExport != nil {
		f.onExport(in)
	}
	if f.exportErr != nil {
		return nil, f.exportErr
	}
	d := f.add(types.ExportDescription{
		ExportArn: aws.String(fmt.Sprintf("%s/export/0179545332%04d-0c9e7d21", tableARN, n)), ExportStatus: types.ExportStatusInProgress,
		StartTime: aws.Time(now), ExportTime: in.ExportTime, ClientToken: in.ClientToken, S3Bucket: in.S3Bucket, S3Prefix: in.S3Prefix,
		ExportFormat: in.ExportFormat, ExportType: in.ExportType, TableArn: in.TableArn,
	})
	c := *d
	return &dynamodb.ExportTableToPointInTimeOutput{ExportDescription: &c}, nil
}

func (f *fakeAWS) DescribeExport(_ context.Context, in *dynamodb.DescribeExportInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.exports[aws.ToString(in.ExportArn)]
	if !ok {
		return nil, &types.ExportNotFoundException{Message: aws.String("not found")}
	}
	if d.ExportStatus == types.ExportStatusInProgress && aws.ToString(d.ClientToken) != "" {
		f.polls[*d.ExportArn]++
		if f.polls[*d.ExportArn] > f.inProgressFor {
			d.ExportStatus = f.finalStatus
			if f.finalStatus == types.ExportStatusFailed {
				d.FailureCode, d.FailureMessage = aws.String("S3AccessDenied"), aws.String(f.failure)
			} else {
				f.complete(d)
			}
		}
	}
	c := *d
	return &dynamodb.DescribeExportOutput{ExportDescription: &c}, nil
}

// complete writes the export's manifest, as AWS does when it finishes.
func (f *fakeAWS) complete(d *types.ExportDescription) {
	d.EndTime = aws.Time(aws.ToTime(d.StartTime).Add(7 * time.Minute))
	var total int64
	dir := exportDir(aws.ToString(d.S3Prefix), exportID(*d.ExportArn))
	var m bytes.Buffer
	for i, n := range f.itemCounts {
		total += n
		fmt.Fprintf(&m, `{"itemCount":%d,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"y","dataFileS3Key":"%s/data/file%da.json.gz"}`+"\n", n, dir, i)
	}
	d.ItemCount = aws.Int64(total)
	f.objects[dir+"/manifest-files.json"] = m.Bytes()
	d.ExportManifest = aws.String(dir + "/manifest-summary.json")
}

func gzipLines(n int64) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for i := int64(0); i < n; i++ {
		fmt.Fprintf(w, `{"reason":"bad","line":%d}`+"\n", i+1)
	}
	w.Close()
	return b.Bytes()
}

// convertNext converts the export's next data file with items, as the
// converter does: the errors object (if any) before the data object (if
// any), named by objectkey. The caller holds f.mu.
func (f *fakeAWS) convertNext(d *types.ExportDescription) {
	arn := aws.ToString(d.ExportArn)
	done := 0
	for i, n := range f.itemCounts {
		if n == 0 {
			continue
		}
		if done < f.converted[arn] {
			done++
			continue
		}
		names := objectkey.SnapshotFile{Prefix: "cdc", Table: "Orders", ExportID: exportID(arn), DataFile: fmt.Sprintf("file%da", i), ExportTime: aws.ToTime(d.ExportTime)}
		dataKey, err := objectkey.Snapshot(names)
		if err != nil {
			panic(err)
		}
		errorsKey, _ := objectkey.SnapshotErrors(names)
		switch {
		case f.allBad[i]:
			f.objects[errorsKey] = gzipLines(n)
		case i < f.errorFiles:
			f.objects[errorsKey] = gzipLines(1)
			f.objects[dataKey] = nil
		default:
			f.objects[dataKey] = nil
		}
		f.converted[arn]++
		return
	}
}

func (f *fakeAWS) ListExports(_ context.Context, in *dynamodb.ListExportsInput, _ ...func(*dynamodb.Options)) (*dynamodb.ListExportsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.MaxResults == nil || *in.MaxResults > 25 {
		return nil, fmt.Errorf("MaxResults %v: want 1 to 25", in.MaxResults)
	}
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	// One export a page, so that the backfill must page.
	out := &dynamodb.ListExportsOutput{}
	if start < len(f.order) {
		d := f.exports[f.order[start]]
		out.ExportSummaries = []types.ExportSummary{{ExportArn: d.ExportArn, ExportStatus: d.ExportStatus, ExportType: d.ExportType}}
		if start+1 < len(f.order) {
			out.NextToken = aws.String(fmt.Sprint(start + 1))
		}
	}
	return out, nil
}

func (f *fakeAWS) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[aws.ToString(in.Key)]
	if !ok || aws.ToString(in.Bucket) != bucket {
		return nil, &s3types.NoSuchKey{Message: aws.String("no such key " + aws.ToString(in.Key))}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// ListObjectsV2 lists in key order, two keys a page. Each listing of a
// data directory is a moment in which the converter converts one more
// file of each completed export, up to convertible.
func (f *fakeAWS) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prefix := aws.ToString(in.Prefix)
	if in.ContinuationToken == nil && strings.HasPrefix(prefix, "cdc/table=") {
		for _, arn := range f.order {
			d := f.exports[arn]
			if d.ExportStatus == types.ExportStatusCompleted && f.converted[arn] < f.convertible {
				f.convertNext(d)
			}
		}
	}
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) && k > aws.ToString(in.StartAfter) && (in.ContinuationToken == nil || k > *in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := &s3.ListObjectsV2Output{}
	if len(keys) > 2 {
		keys = keys[:2]
		out.IsTruncated, out.NextContinuationToken = aws.Bool(true), aws.String(keys[1])
	}
	for _, k := range keys {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	return out, nil
}
