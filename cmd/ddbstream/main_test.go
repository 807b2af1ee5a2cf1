package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

const (
	tableARN  = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"
	streamARN = tableARN + "/stream/2026-11-01T00:00:00.000"
	exportARN = tableARN + "/export/01795453320456-0c9e7d21"
)

// fakeAWS is the account behind the command: a stack, a table, an export
// that completes when first described (or never), and its conversion.
type fakeAWS struct {
	mu          sync.Mutex
	outputs     map[string]string // nil: no such stack
	pitrOff     bool
	neverDone   bool
	started     []*dynamodb.ExportTableToPointInTimeInput
	export      *types.ExportDescription
	items       []map[string]types.AttributeValue // the live table, for reconcile
	scanErr     error                             // what Scan returns instead of the items
	onDescribed func()
	puts        []string // keys written (the backfill's delete lines)
}

func newFake() *fakeAWS {
	return &fakeAWS{outputs: map[string]string{
		"TableName": "Orders", "BucketName": "lake", "Prefix": "cdc", "StreamArn": streamARN,
		"ExportPrefix": "cdc-backfill", "BucketKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/k",
	}}
}

func (f *fakeAWS) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.outputs == nil {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id " + aws.ToString(in.StackName) + " does not exist"}
	}
	var outs []cftypes.Output
	for k, v := range f.outputs {
		outs = append(outs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackName: in.StackName, Outputs: outs}}}, nil
}

func (f *fakeAWS) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{
		TableName: in.TableName, TableArn: aws.String(tableARN), TableStatus: types.TableStatusActive,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
		LatestStreamArn:      aws.String(streamARN), LatestStreamLabel: aws.String(streamCreated.Format("2006-01-02T15:04:05.000")),
		ItemCount: aws.Int64(int64(len(f.items))), TableSizeBytes: aws.Int64(100),
	}}, nil
}

func (f *fakeAWS) DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error) {
	status := types.PointInTimeRecoveryStatusEnabled
	if f.pitrOff {
		status = types.PointInTimeRecoveryStatusDisabled
	}
	return &dynamodb.DescribeContinuousBackupsOutput{ContinuousBackupsDescription: &types.ContinuousBackupsDescription{
		ContinuousBackupsStatus: types.ContinuousBackupsStatusEnabled,
		PointInTimeRecoveryDescription: &types.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: status,
			LatestRestorableDateTime: aws.Time(time.Now().Add(-5 * time.Minute))},
	}}, nil
}

func (f *fakeAWS) ExportTableToPointInTime(_ context.Context, in *dynamodb.ExportTableToPointInTimeInput, _ ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, in)
	f.export = &types.ExportDescription{ExportArn: aws.String(exportARN), ExportStatus: types.ExportStatusInProgress,
		ExportTime: in.ExportTime, StartTime: aws.Time(time.Now()), ClientToken: in.ClientToken,
		S3Bucket: in.S3Bucket, S3Prefix: in.S3Prefix, ExportType: types.ExportTypeFullExport}
	d := *f.export
	return &dynamodb.ExportTableToPointInTimeOutput{ExportDescription: &d}, nil
}

func (f *fakeAWS) DescribeExport(context.Context, *dynamodb.DescribeExportInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error) {
	f.mu.Lock()
	if !f.neverDone {
		f.export.ExportStatus, f.export.ItemCount = types.ExportStatusCompleted, aws.Int64(1)
		f.export.EndTime = aws.Time(aws.ToTime(f.export.StartTime).Add(4 * time.Minute))
	}
	d := *f.export
	onDescribed := f.onDescribed
	f.mu.Unlock()
	if onDescribed != nil {
		onDescribed()
	}
	return &dynamodb.DescribeExportOutput{ExportDescription: &d}, nil
}

func (f *fakeAWS) ListExports(context.Context, *dynamodb.ListExportsInput, ...func(*dynamodb.Options)) (*dynamodb.ListExportsOutput, error) {
	return &dynamodb.ListExportsOutput{}, nil
}

func (f *fakeAWS) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if f.scanErr != nil {
		return nil, f.scanErr
	}
	if aws.ToInt32(in.Segment) != 0 {
		return &dynamodb.ScanOutput{}, nil // every item is in segment 0
	}
	return &dynamodb.ScanOutput{Items: f.items, Count: int32(len(f.items)), ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(1)}}, nil
}

func (f *fakeAWS) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table := range in.RequestItems {
		out.Responses[table] = f.items
	}
	return out, nil
}

// snapshotKey is the converted object of the export's one data file.
func (f *fakeAWS) snapshotKey() string {
	k, _ := objectkey.Snapshot(objectkey.SnapshotFile{Prefix: "cdc", Table: "Orders", ExportID: "01795453320456-0c9e7d21",
		DataFile: "c7kq3nqzuu3tzmdbwwr2bj7rpa", ExportTime: aws.ToTime(f.export.ExportTime)})
	return k
}

func (f *fakeAWS) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if strings.HasSuffix(aws.ToString(in.Key), "/manifest-files.json") {
		body := `{"itemCount":1,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"e","dataFileS3Key":"cdc-backfill/AWSDynamoDB/01795453320456-0c9e7d21/data/c7kq3nqzuu3tzmdbwwr2bj7rpa.json.gz"}` + "\n"
		return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(body))}, nil
	}
	if f.export != nil && aws.ToString(in.Key) == f.snapshotKey() {
		return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(""))}, nil // the backfill folds it
	}
	return nil, &s3types.NoSuchKey{Message: aws.String("no such key")}
}

func (f *fakeAWS) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &s3.ListObjectsV2Output{}
	if f.export != nil && f.export.ExportStatus == types.ExportStatusCompleted && strings.HasPrefix(f.snapshotKey(), aws.ToString(in.Prefix)) {
		out.Contents = []s3types.Object{{Key: aws.String(f.snapshotKey())}}
	}
	return out, nil
}

type result struct {
	code           int
	stdout, stderr string
}

func runWith(t *testing.T, ctx context.Context, f *fakeAWS, connectErr error, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, env{stdout: &stdout, stderr: &stderr, connect: func(context.Context, string, string) (clients, error) {
		if connectErr != nil {
			return clients{}, connectErr
		}
		return clients{stacks: f, dynamodb: f, s3: f, lambda: f}, nil
	}})
	return result{code, stdout.String(), stderr.String()}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args   []string
		expect []string
	}{
		{[]string{"--help"}, []string{"Commands:", "backfill", "reconcile", "Exit status:", "Examples:", "ddbstream --version", "4    reconcile ran to the end and found differences"}},
		{[]string{"help", "backfill"}, []string{"Usage: ddbstream backfill", "-export-prefix", "Examples:", "BucketKeyArn"}},
		{[]string{"backfill", "--help"}, []string{"Usage: ddbstream backfill", "-kms-key", "-streamer-function", "-planner-function", "-temp-dir", "REMOVE line", "Exit status:"}},
		{[]string{"reconcile", "-h"}, []string{"Usage: ddbstream reconcile", "-read-rate", "Examples:", "4 differences found", "1 the run failed"}},
	}
	for _, tc := range tests {
		r := runWith(t, context.Background(), newFake(), nil, tc.args...)
		if r.code != exitOK {
			t.Errorf("%v: exit %d, expect 0 (stderr %q)", tc.args, r.code, r.stderr)
		}
		for _, s := range tc.expect {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("%v: help lacks %q", tc.args, s)
			}
		}
	}
}

func TestExitStatuses(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		setup      func(*fakeAWS)
		connectErr error
		args       []string
		code       int
		stdout     []string
		stderr     []string
	}{
		{"no command", nil, nil, nil, nil, exitUsage, nil, []string{"Commands:"}},
		{"unknown command", nil, nil, nil, []string{"vacuum"}, exitUsage, nil, []string{`unknown command "vacuum"`}},
		{"unknown flag", nil, nil, nil, []string{"backfill", "--nope"}, exitUsage, nil, []string{"flag provided but not defined: -nope", "--help"}},
		{"stray argument", nil, nil, nil, []string{"backfill", "Orders"}, exitUsage, nil, []string{`unexpected argument "Orders"`}},
		{"no stack, no table (found before AWS is reached)", nil, nil, errors.New("no AWS credentials"),
			[]string{"backfill", "--bucket", "b"}, exitUsage, nil, []string{"give --stack, or --table"}},
		{"bad image format", nil, nil, nil, []string{"reconcile", "--stack", "S", "--image-format", "xml"}, exitUsage, nil, []string{"--image-format"}},
		{"no credentials", nil, nil, &remedyError{msg: "no AWS credentials", remedy: "sign in (aws sso login)"},
			[]string{"backfill", "--stack", "S"}, exitFailed, nil, []string{"no AWS credentials", "what to do: sign in"}},
		{"stack not found", nil, func(f *fakeAWS) { f.outputs = nil }, nil,
			[]string{"backfill", "--stack", "Nope"}, exitFailed, nil, []string{"stack Nope not found", "what to do: check --stack"}},
		{"not a pipeline stack", nil, func(f *fakeAWS) { delete(f.outputs, "BucketName") }, nil,
			[]string{"backfill", "--stack", "Other"}, exitFailed, nil, []string{"lacks the outputs BucketName"}},
		{"point-in-time recovery off", nil, func(f *fakeAWS) { f.pitrOff = true }, nil,
			[]string{"backfill", "--stack", "S"}, exitFailed, nil, []string{"point-in-time recovery is off", "what to do: turn it on"}},
		{"backfill done", nil, nil, nil, []string{"backfill", "--stack", "S", "--poll", "1ms"}, exitOK,
			[]string{"backfill:", "done", exportARN, "converted:", "1 of 1 data files with items", "export took:", "4m0s", "delete lines:", "0 items the export lacks"},
			[]string{"ddbstream backfill: export, IN_PROGRESS", "ddbstream backfill: convert 1/1 data files converted"}},
		{"backfill not finished in time", nil, func(f *fakeAWS) { f.neverDone = true }, nil,
			[]string{"backfill", "--stack", "S", "--poll", "1ms", "--timeout", "1ms"}, exitUnfinished,
			[]string{"not finished", exportARN}, []string{"still IN_PROGRESS", "run the same command again"}},
		{"backfill interrupted", canceled, nil, nil, []string{"backfill", "--stack", "S"}, exitInterrupted, nil, []string{"interrupted"}},
		{"reconcile equal", nil, nil, nil, []string{"reconcile", "--stack", "S", "--settle", "0s"}, exitOK,
			[]string{"the lake equals the table", "scanned:"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			r := runWith(t, ctx, f, tc.connectErr, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit status: got %d, expect %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// TestReconcileExitStatuses: a reconcile that finds differences exits
// with a status of its own, so that a script tells "the lake needs a
// repair" from "reconcile could not tell". The numbers are literal: they
// are the contract --help and the README document.
func TestReconcileExitStatuses(t *testing.T) {
	oneItem := func(f *fakeAWS) {
		f.items = []map[string]types.AttributeValue{{"pk": &types.AttributeValueMemberS{Value: "a"}}}
	}
	tests := []struct {
		name           string
		setup          func(*fakeAWS)
		args           []string
		expect         int
		stdout, stderr []string
	}{
		{"equal", nil, []string{"--settle", "0s"}, 0, []string{"the lake equals the table"}, nil},
		{"differences found", oneItem, []string{"--settle", "0s"}, 4,
			[]string{"1 differences", `example missing from lake:  {"pk":"a"}`}, []string{"the lake differs", "what to do: items missing"}},
		{"the scan failed", func(f *fakeAWS) {
			oneItem(f)
			f.scanErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: dynamodb:Scan"}
		}, []string{"--settle", "0s"}, 1, nil, []string{"dynamodb:Scan", "what to do: the AWS identity lacks the permission"}},
		{"the stack is not there", func(f *fakeAWS) { f.outputs = nil }, nil, 1, nil, []string{"stack S not found"}},
		{"bad usage", nil, []string{"--image-format", "xml"}, 2, nil, []string{"--image-format"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			r := runWith(t, context.Background(), f, nil, append([]string{"reconcile", "--stack", "S"}, tc.args...)...)
			if got := r.code; got != tc.expect {
				t.Errorf("exit status: got %d, expect %d\nstdout: %s\nstderr: %s", got, tc.expect, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

// TestVersionCommand: --version, -version and version print the build's
// line on stdout and exit 0, whichever spelling a user tries.
func TestVersionCommand(t *testing.T) {
	tests := []struct {
		args []string
	}{
		{[]string{"--version"}},
		{[]string{"-version"}},
		{[]string{"version"}},
	}
	for _, tc := range tests {
		r := runWith(t, context.Background(), newFake(), nil, tc.args...)
		if got, expect := r.code, 0; got != expect {
			t.Errorf("%v: exit status: got %d, expect %d (stderr %q)", tc.args, got, expect, r.stderr)
		}
		// A test binary carries no vcs.* settings: the line names the
		// version alone; TestVersionLine covers the rest.
		if got := r.stdout; !strings.HasPrefix(got, "ddbstream ") || strings.Count(got, "\n") != 1 {
			t.Errorf("%v: stdout: got %q, expect one line starting \"ddbstream \"", tc.args, got)
		}
		if r.stderr != "" {
			t.Errorf("%v: stderr: got %q, expect nothing", tc.args, r.stderr)
		}
	}
}

func TestBackfillTakesItsSettingsFromTheStackAndFlags(t *testing.T) {
	tests := []struct {
		name                      string
		args                      []string
		bucket, exportPrefix, key string
	}{
		{"stack outputs", []string{"--stack", "S"}, "lake", "cdc-backfill", "arn:aws:kms:eu-west-1:123456789012:key/k"},
		{"flags override", []string{"--stack", "S", "--bucket", "other", "--export-prefix", "ex", "--kms-key", "arn:k2"}, "other", "ex", "arn:k2"},
		{"flags alone", []string{"--table", "Orders", "--bucket", "b2"}, "b2", "cdc-exports", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.neverDone = true
			r := runWith(t, context.Background(), f, nil, append([]string{"backfill", "--timeout", "1ms", "--poll", "1ms"}, tc.args...)...)
			if len(f.started) != 1 {
				t.Fatalf("exports started: got %d, expect 1 (exit %d, stderr %s)", len(f.started), r.code, r.stderr)
			}
			in := f.started[0]
			for _, c := range []struct{ field, got, expect string }{
				{"S3Bucket", aws.ToString(in.S3Bucket), tc.bucket},
				{"S3Prefix", aws.ToString(in.S3Prefix), tc.exportPrefix},
				{"S3SseKmsKeyId", aws.ToString(in.S3SseKmsKeyId), tc.key},
			} {
				if c.got != c.expect {
					t.Errorf("%s: got %q, expect %q", c.field, c.got, c.expect)
				}
			}
		})
	}
}

func TestRemedies(t *testing.T) {
	tests := []struct {
		err    error
		expect string
	}{
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: dynamodb:ExportTableToPointInTime"}, "lacks the permission"},
		{&smithy.GenericAPIError{Code: "ExpiredToken"}, "sign in again"},
		{errors.New("plain"), ""},
	}
	for _, tc := range tests {
		if got := remedy(tc.err); !strings.Contains(got, tc.expect) || (tc.expect == "" && got != "") {
			t.Errorf("remedy(%v): got %q, expect one containing %q", tc.err, got, tc.expect)
		}
	}
}
