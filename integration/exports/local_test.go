package exports_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/integration"
	"github.com/ddbstream/pipeline/integration/exports"
	"github.com/ddbstream/pipeline/integration/lambdaapi"
	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/orderkey"
)

// local is DynamoDB Local and versitygw with the exports endpoint in
// front, the SDK clients pointed at them as the local pipeline points its
// own.
type local struct {
	endpoint *exports.Endpoint
	ddb      *dynamodb.Client // through the endpoint
	s3       *s3.Client
}

// startLocal starts the real servers. Without the tools the test is
// skipped, unless INTEGRATION_REQUIRED is set (as make test sets it).
func startLocal(t *testing.T, now func() time.Time) *local {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := integration.FindTools(root)
	if err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &syncWriter{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("servers' output:\n%s", logs.String())
		}
	})
	ddbLocal, err := integration.StartDynamoDBLocal(ctx, tools, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ddbLocal.Stop)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(hook.Close)
	versity, err := integration.StartVersity(ctx, tools, t.TempDir(), hook.URL, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(versity.Stop)

	creds := credentials.NewStaticCredentialsProvider(integration.S3AccessKey, integration.S3SecretKey, "")
	cfg := aws.Config{Region: "us-east-1", Credentials: creds}
	l := &local{s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String("http://" + versity.Addr); o.UsePathStyle = true })}
	if _, err := l.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	l.endpoint, err = exports.New(exports.Config{Upstream: "http://" + ddbLocal.Addr, Credentials: creds, Region: "us-east-1",
		S3: l.s3, DataFiles: 4, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.endpoint.Close)
	srv := httptest.NewServer(l.endpoint)
	t.Cleanup(srv.Close)
	l.ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	// The table is created through the endpoint: the proxy carries it.
	if _, err := l.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("Orders"), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages},
	}); err != nil {
		t.Fatal(err)
	}
	for _, it := range []map[string]dtypes.AttributeValue{
		{"pk": &dtypes.AttributeValueMemberS{Value: "customer#1"}, "total": &dtypes.AttributeValueMemberN{Value: "12345678901234567890.123456789012345678"}},
		{"pk": &dtypes.AttributeValueMemberS{Value: "customer#2"}, "name": &dtypes.AttributeValueMemberS{Value: "café \"q\" 東京"}},
		{"pk": &dtypes.AttributeValueMemberS{Value: "customer#3"}, "blob": &dtypes.AttributeValueMemberB{Value: []byte{0, 1, 0xfe}},
			"tags": &dtypes.AttributeValueMemberSS{Value: []string{"a", "b"}}},
	} {
		if _, err := l.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Orders"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// syncWriter keeps the servers' output, written from their processes'
// copying goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.buf.String() }

func (l *local) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := l.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExportOfDynamoDBLocalIntoVersity(t *testing.T) {
	l := startLocal(t, nil)
	ctx := context.Background()
	desc, err := l.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("Orders")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.ddb.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{
		TableArn: desc.Table.TableArn, S3Bucket: aws.String(bucket), S3Prefix: aws.String("cdc-exports"), ClientToken: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ExportDescription.ExportArn)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if status, err := l.endpoint.Wait(wctx, arn); err != nil || status != "COMPLETED" {
		t.Fatalf("export: status %q, %v; expect COMPLETED", status, err)
	}
	dir := "cdc-exports/AWSDynamoDB/" + arn[strings.LastIndex(arn, "/")+1:]

	// Every item the table holds, in the export, as DynamoDB Local gave it.
	var got []string
	sc := bufio.NewScanner(bytes.NewReader(l.get(t, dir+"/manifest-files.json")))
	files := 0
	for sc.Scan() {
		var f struct {
			ItemCount     int
			MD5Checksum   string
			ETag          string
			DataFileS3Key string
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatal(err)
		}
		data := l.get(t, f.DataFileS3Key)
		sum := md5.Sum(data)
		if f.ETag != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: etag %q, expect the server's ETag, the MD5 %x", f.DataFileS3Key, f.ETag, sum)
		}
		lines := gunzipLines(t, data)
		if len(lines) != f.ItemCount {
			t.Errorf("%s: %d lines, itemCount %d", f.DataFileS3Key, len(lines), f.ItemCount)
		}
		got = append(got, lines...)
		files++
	}
	if files != 4 {
		t.Errorf("data files: got %d, expect 4", files)
	}
	scan, err := l.ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("Orders")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(scan.Items) || len(got) != 3 {
		t.Fatalf("exported items: got %d, expect the table's %d (3)", len(got), len(scan.Items))
	}
	sort.Strings(got)
	for _, expect := range []string{`"N":"12345678901234567890.123456789012345678"`, `"S":"customer#2"`, `"B":"AAH+"`} {
		if !strings.Contains(strings.Join(got, "\n"), expect) {
			t.Errorf("exported lines lack %s:\n%s", expect, strings.Join(got, "\n"))
		}
	}
	if len(l.get(t, dir+"/_started")) != 0 {
		t.Error("_started is not empty")
	}
	var sum map[string]any
	if err := json.Unmarshal(l.get(t, dir+"/manifest-summary.json"), &sum); err != nil {
		t.Fatal(err)
	}
	if sum["itemCount"] != float64(3) || sum["exportArn"] != arn {
		t.Errorf("manifest-summary.json: itemCount %v exportArn %v; expect 3 and %s", sum["itemCount"], sum["exportArn"], arn)
	}
}

// TestBackfillAgainstTheLocalExport runs the operator's backfill against
// the endpoint and versitygw, with a stand-in for the export converter
// writing one object per data file with items, named by objectkey.
func TestBackfillAgainstTheLocalExport(t *testing.T) {
	// The table's stream is new; the clock is moved on past SnapshotMargin,
	// for the endpoint and the backfill alike.
	shift := orderkey.SnapshotMargin + time.Minute
	now := func() time.Time { return time.Now().Add(shift) }
	l := startLocal(t, now)
	ctx := context.Background()

	converted := false
	convert := func(arn string, exportTime time.Time) {
		id := arn[strings.LastIndex(arn, "/")+1:]
		sc := bufio.NewScanner(bytes.NewReader(l.get(t, "cdc-exports/AWSDynamoDB/"+id+"/manifest-files.json")))
		for sc.Scan() {
			var f struct {
				ItemCount     int
				DataFileS3Key string
			}
			_ = json.Unmarshal(sc.Bytes(), &f)
			if f.ItemCount == 0 {
				continue
			}
			name := strings.TrimSuffix(f.DataFileS3Key[strings.LastIndex(f.DataFileS3Key, "/")+1:], ".json.gz")
			key, err := objectkey.Snapshot(objectkey.SnapshotFile{Prefix: "cdc", Table: "Orders", ExportID: id, DataFile: name, ExportTime: exportTime})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := l.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("")}); err != nil {
				t.Error(err)
			}
		}
	}
	// versitygw takes the SSE-KMS headers the export writes with (and
	// encrypts nothing): the key's path through the endpoint is exercised.
	cfg := backfill.Config{Table: "Orders", Bucket: bucket, Prefix: "cdc", KMSKey: "arn:aws:kms:us-east-1:000000000000:key/k", Poll: 50 * time.Millisecond, Timeout: time.Minute, Now: now,
		Progress: func(p backfill.Progress) {
			if p.Phase == backfill.PhaseConvert && !converted {
				converted = true
				d, err := l.ddb.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(p.ExportARN)})
				if err != nil {
					t.Error(err)
					return
				}
				convert(p.ExportARN, aws.ToTime(d.ExportDescription.ExportTime))
			}
		}}
	cfg.Lambda = mappingOf(t, l)
	r, err := backfill.Run(ctx, cfg, l.ddb, l.s3)
	if err != nil {
		t.Fatalf("backfill: %v (report %+v)", err, r)
	}
	for _, f := range []struct {
		name        string
		got, expect any
	}{
		{"Status", r.Status, "COMPLETED"},
		{"Items", r.Items, int64(3)},
		{"DataFiles", r.DataFiles, 4},
		{"Converted", r.Converted, 4 - r.EmptyFiles},
		{"DataObjects", r.DataObjects, 4 - r.EmptyFiles},
		{"Attached", r.Attached, false},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}

	// Again: this hour's export is converted, so nothing starts.
	again, err := backfill.Run(ctx, cfg, l.ddb, l.s3)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyDone || again.ExportARN != r.ExportARN {
		t.Errorf("second run: AlreadyDone %v export %s; expect true and %s", again.AlreadyDone, again.ExportARN, r.ExportARN)
	}
	list, err := l.ddb.ListExports(ctx, &dynamodb.ListExportsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.ExportSummaries) != 1 {
		t.Errorf("exports: got %d, expect 1", len(list.ExportSummaries))
	}
}

// mappingOf serves the table's stream mapping, as Lambda lists it: read
// from TRIM_HORIZON by a streamer since the stream began.
func mappingOf(t *testing.T, l *local) *lambda.Client {
	t.Helper()
	d, err := l.ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("Orders")})
	if err != nil {
		t.Fatal(err)
	}
	e, err := lambdaapi.New(map[string]lambdaapi.Function{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	e.AddMapping(lambdaapi.Mapping{UUID: "00000000-0000-4000-8000-000000000001", EventSourceARN: aws.ToString(d.Table.LatestStreamArn),
		FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:streamer", State: "Enabled", StartingPosition: "TRIM_HORIZON", LastModified: time.Now()})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
}
