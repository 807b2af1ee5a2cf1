package exports_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/integration/exports"
)

const (
	tableARN    = "arn:aws:dynamodb:ddblocal:000000000000:table/Orders"
	bucket      = "lake"
	streamLabel = "2026-11-23T16:02:00.456"
)

// items are what the fake DynamoDB Local holds: numbers and strings whose
// exact text must survive into the data files.
var items = []string{
	`{"pk":{"S":"a"},"n":{"N":"12345678901234567890123456789012345678"}}`,
	`{"pk":{"S":"b"},"e":{"N":"1E+125"},"s":{"S":"caf\u00e9 \"q\" \/"}}`,
	`{"pk":{"S":"c"},"b":{"B":"3q2+7w=="},"l":{"L":[{"NULL":true},{"M":{}}]}}`,
	`{ "pk" : {"S":"d"} }`,
}

// fakeLocal plays DynamoDB Local: DescribeTable and a paged Scan for one
// table, and a record of every other call it receives.
type fakeLocal struct {
	mu      sync.Mutex
	created float64
	scans   int
	other   []recorded
}

type recorded struct {
	target, auth string
	body         []byte
}

func (f *fakeLocal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	target := r.Header.Get("X-Amz-Target")
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	var in struct {
		TableName         string
		ExclusiveStartKey json.RawMessage
	}
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#MissingAuthenticationToken","message":"unsigned"}`)
		return
	}
	switch target {
	case "DynamoDB_20120810.DescribeTable", "DynamoDB_20120810.Scan":
		if in.TableName != "Orders" {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Cannot do operations on a non-existent table"}`)
			return
		}
	}
	switch target {
	case "DynamoDB_20120810.DescribeTable":
		fmt.Fprintf(w, `{"Table":{"TableName":"Orders","TableArn":%q,"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"CreationDateTime":%.3f,`+
			`"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"},"LatestStreamLabel":%q,"LatestStreamArn":%q,"ItemCount":12345678901234}}`,
			tableARN, f.created, streamLabel, tableARN+"/stream/"+streamLabel)
	case "DynamoDB_20120810.Scan":
		// Two items a page, so that the export must follow LastEvaluatedKey.
		f.scans++
		start := 0
		if len(in.ExclusiveStartKey) > 0 {
			fmt.Sscanf(string(in.ExclusiveStartKey), `{"i":{"N":"%d"}}`, &start)
		}
		end := min(start+2, len(items))
		fmt.Fprintf(w, `{"Items":[%s],"Count":%d`, strings.Join(items[start:end], ","), end-start)
		if end < len(items) {
			fmt.Fprintf(w, `,"LastEvaluatedKey":{"i":{"N":"%d"}}`, end)
		}
		fmt.Fprint(w, "}")
	default:
		f.other = append(f.other, recorded{target: target, auth: r.Header.Get("Authorization"), body: body})
		fmt.Fprint(w, `{"Attributes":{"pk":{"S":"from upstream"}}}`)
	}
}

// fakeS3 stores objects in memory with S3's ETag (the quoted MD5 of a
// single-part object) and can refuse writes.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	order   []string
	inputs  []*s3.PutObjectInput
	refuse  error
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return nil, f.refuse
	}
	b, _ := io.ReadAll(in.Body)
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	key := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	f.objects[key] = b
	f.order = append(f.order, aws.ToString(in.Key))
	f.inputs = append(f.inputs, in)
	sum := md5.Sum(b)
	return &s3.PutObjectOutput{ETag: aws.String(`"` + hex.EncodeToString(sum[:]) + `"`)}, nil
}

func (f *fakeS3) get(t *testing.T, key string) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[bucket+"/"+key]
	if !ok {
		t.Fatalf("object %s: not written (have %v)", key, f.order)
	}
	return b
}

// clock is a settable clock shared by the endpoint and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var t0 = time.Date(2026, 11, 23, 17, 2, 0, 456e6, time.UTC)

type harness struct {
	e      *exports.Endpoint
	local  *fakeLocal
	s3     *fakeS3
	clock  *clock
	client *dynamodb.Client
}

func start(t *testing.T, mutate ...func(*exports.Config)) *harness {
	t.Helper()
	h := &harness{local: &fakeLocal{created: float64(t0.Add(-time.Hour).UnixMilli()) / 1000}, s3: &fakeS3{}, clock: &clock{t: t0}}
	up := httptest.NewServer(h.local)
	t.Cleanup(up.Close)
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	cfg := exports.Config{Upstream: up.URL, Credentials: creds, Region: "us-east-1", S3: h.s3, DataFiles: 8, Now: h.clock.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	e, err := exports.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	t.Cleanup(e.Close)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	h.client = dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: creds}, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
	return h
}

func (h *harness) export(t *testing.T, in *dynamodb.ExportTableToPointInTimeInput) *dtypes.ExportDescription {
	t.Helper()
	out, err := h.client.ExportTableToPointInTime(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.ExportDescription
}

func (h *harness) wait(t *testing.T, arn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := h.e.Wait(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func request(token string) *dynamodb.ExportTableToPointInTimeInput {
	return &dynamodb.ExportTableToPointInTimeInput{
		TableArn: aws.String(tableARN), S3Bucket: aws.String(bucket), S3Prefix: aws.String("cdc-exports"),
		ExportFormat: dtypes.ExportFormatDynamodbJson, ExportType: dtypes.ExportTypeFullExport,
		ExportTime: aws.Time(t0.Add(-time.Minute)), ClientToken: aws.String(token),
	}
}

type field struct {
	name        string
	got, expect any
}

func check(t *testing.T, fields []field) {
	t.Helper()
	for _, f := range fields {
		if fmt.Sprint(f.got) != fmt.Sprint(f.expect) {
			t.Errorf("%s: got %v, expect %v", f.name, f.got, f.expect)
		}
	}
}

func gunzipLines(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("data file is not gzip: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("data file does not end with a newline: %q", data)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestExportWritesTheDocumentedLayout(t *testing.T) {
	h := start(t)
	d := h.export(t, request("tok"))
	arn := aws.ToString(d.ExportArn)
	id := arn[strings.LastIndex(arn, "/")+1:]
	check(t, []field{
		{"ExportStatus at request", d.ExportStatus, dtypes.ExportStatusInProgress},
		{"ExportArn prefix", strings.HasPrefix(arn, tableARN+"/export/"), true},
		{"ExportId shape (14 digits-8 hex)", len(id) == 23 && id[14] == '-', true},
		{"ExportTime", aws.ToTime(d.ExportTime), t0.Add(-time.Minute)},
		{"StartTime", aws.ToTime(d.StartTime), t0},
		{"ClientToken", aws.ToString(d.ClientToken), "tok"},
		{"S3Prefix", aws.ToString(d.S3Prefix), "cdc-exports"},
		{"ExportFormat", d.ExportFormat, dtypes.ExportFormatDynamodbJson},
		{"ExportType", d.ExportType, dtypes.ExportTypeFullExport},
	})
	h.clock.Advance(3 * time.Minute)
	if status := h.wait(t, arn); status != "COMPLETED" {
		t.Fatalf("status: got %s, expect COMPLETED", status)
	}
	out, err := h.client.DescribeExport(context.Background(), &dynamodb.DescribeExportInput{ExportArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	dir := "cdc-exports/AWSDynamoDB/" + id
	done := out.ExportDescription
	check(t, []field{
		{"ExportStatus", done.ExportStatus, dtypes.ExportStatusCompleted},
		{"ItemCount", aws.ToInt64(done.ItemCount), len(items)},
		{"ExportManifest", aws.ToString(done.ExportManifest), dir + "/manifest-summary.json"},
		{"EndTime", aws.ToTime(done.EndTime), t0.Add(3 * time.Minute)},
	})

	// The objects, in the order AWS makes them visible: _started first,
	// the summary (whose creation announces the export) last.
	order := h.s3.order
	check(t, []field{
		{"first object", order[0], dir + "/_started"},
		{"last object", order[len(order)-1], dir + "/manifest-summary.checksum"},
		{"next to last", order[len(order)-2], dir + "/manifest-summary.json"},
		{"_started size", len(h.s3.get(t, dir+"/_started")), 0},
	})

	var sum map[string]any
	if err := json.Unmarshal(h.s3.get(t, dir+"/manifest-summary.json"), &sum); err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"version", sum["version"], "2020-06-30"},
		{"exportArn", sum["exportArn"], arn},
		{"startTime", sum["startTime"], "2026-11-23T17:02:00.456Z"},
		{"endTime", sum["endTime"], "2026-11-23T17:05:00.456Z"},
		{"tableArn", sum["tableArn"], tableARN},
		{"tableId is set", sum["tableId"] != "", true},
		{"exportTime", sum["exportTime"], "2026-11-23T17:01:00.456Z"},
		{"s3Bucket", sum["s3Bucket"], bucket},
		{"s3Prefix", sum["s3Prefix"], "cdc-exports"},
		{"s3SseAlgorithm", sum["s3SseAlgorithm"], "AES256"},
		{"s3SseKmsKeyId", sum["s3SseKmsKeyId"], nil},
		{"manifestFilesS3Key", sum["manifestFilesS3Key"], dir + "/manifest-files.json"},
		{"itemCount", sum["itemCount"], len(items)},
		{"outputFormat", sum["outputFormat"], "DYNAMODB_JSON"},
		{"field count", len(sum), 15},
	})
	if _, ok := sum["billedSizeBytes"]; !ok {
		t.Error("manifest-summary.json: billedSizeBytes missing")
	}

	manifest := h.s3.get(t, dir+"/manifest-files.json")
	sumMD5 := md5.Sum(manifest)
	check(t, []field{{"manifest-files.checksum", string(h.s3.get(t, dir+"/manifest-files.checksum")), hex.EncodeToString(sumMD5[:])}})
	var gotLines []string
	empty, total := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		var f struct {
			ItemCount     *int
			MD5Checksum   string
			ETag          string
			DataFileS3Key string
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("manifest-files.json line %q: %v", sc.Text(), err)
		}
		if want := `{"itemCount":`; !strings.HasPrefix(sc.Text(), want) {
			t.Errorf("manifest line %q: expect fields in the documented order, starting %s", sc.Text(), want)
		}
		data := h.s3.get(t, f.DataFileS3Key)
		m := md5.Sum(data)
		lines := gunzipLines(t, data)
		name := strings.TrimPrefix(f.DataFileS3Key, dir+"/data/")
		check(t, []field{
			{"itemCount present", f.ItemCount != nil, true},
			{"itemCount = lines in " + name, aws.ToInt(f.ItemCount), len(lines)},
			{"md5Checksum of " + name, f.MD5Checksum, base64.StdEncoding.EncodeToString(m[:])},
			{"etag of " + name, f.ETag, hex.EncodeToString(m[:])},
			{"data file name " + name, len(name) == len("c7kq3nqzuu3tzmdbwwr2bj7rpa.json.gz") && strings.HasSuffix(name, ".json.gz"), true},
		})
		if len(lines) == 0 {
			empty++
		}
		total++
		gotLines = append(gotLines, lines...)
	}
	check(t, []field{{"data files", total, 8}, {"some data files empty", empty > 0, true}})
	var expect []string
	for _, it := range items {
		var b bytes.Buffer
		_ = json.Compact(&b, []byte(it))
		expect = append(expect, `{"Item":`+b.String()+`}`)
	}
	sort.Strings(expect)
	sort.Strings(gotLines)
	if strings.Join(gotLines, "\n") != strings.Join(expect, "\n") {
		t.Errorf("data lines:\ngot    %q\nexpect %q", gotLines, expect)
	}
}

func TestItemsOfOneKeyLandInOneFile(t *testing.T) {
	// The hash spreads by partition key: two exports of the same table put
	// every item in a file holding the same companions.
	h := start(t)
	groups := func(token string) []string {
		d := h.export(t, request(token))
		h.wait(t, aws.ToString(d.ExportArn))
		arn := aws.ToString(d.ExportArn)
		dir := "cdc-exports/AWSDynamoDB/" + arn[strings.LastIndex(arn, "/")+1:]
		var g []string
		sc := bufio.NewScanner(bytes.NewReader(h.s3.get(t, dir+"/manifest-files.json")))
		for sc.Scan() {
			var f struct{ DataFileS3Key string }
			_ = json.Unmarshal(sc.Bytes(), &f)
			lines := gunzipLines(t, h.s3.get(t, f.DataFileS3Key))
			sort.Strings(lines)
			g = append(g, strings.Join(lines, "|"))
		}
		sort.Strings(g)
		return g
	}
	a, b := groups("one"), groups("two")
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("grouping differs between exports:\n%q\n%q", a, b)
	}
}

func TestClientTokenIdempotency(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	first := h.export(t, request("tok"))
	again := h.export(t, request("tok"))
	check(t, []field{{"same token, same parameters: ExportArn", aws.ToString(again.ExportArn), aws.ToString(first.ExportArn)}})

	other := request("tok")
	other.ExportTime = aws.Time(t0.Add(-2 * time.Minute))
	_, err := h.client.ExportTableToPointInTime(ctx, other)
	var conflict *dtypes.ExportConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("same token, other ExportTime: got %v, expect ExportConflictException", err)
	}

	h.clock.Advance(8*time.Hour + time.Second)
	later := request("tok")
	later.ExportTime = aws.Time(h.clock.Now().Add(-time.Minute))
	fresh := h.export(t, later)
	if aws.ToString(fresh.ExportArn) == aws.ToString(first.ExportArn) {
		t.Errorf("after 8 hours: got the first export again, expect a new one")
	}
	noToken := h.export(t, request(""))
	if aws.ToString(noToken.ExportArn) == aws.ToString(first.ExportArn) {
		t.Errorf("no token: got the first export, expect a new one")
	}
}

func TestInProgressUntilReleased(t *testing.T) {
	h := start(t)
	h.e.Hold()
	d := h.export(t, request("tok"))
	out, err := h.client.DescribeExport(context.Background(), &dynamodb.DescribeExportInput{ExportArn: d.ExportArn})
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"status while held", out.ExportDescription.ExportStatus, dtypes.ExportStatusInProgress},
		{"EndTime while held", out.ExportDescription.EndTime == nil, true},
		{"ItemCount while held", out.ExportDescription.ItemCount == nil, true},
		{"objects written while held", len(h.s3.order), 0},
	})
	h.e.Release()
	check(t, []field{{"status after release", h.wait(t, aws.ToString(d.ExportArn)), "COMPLETED"}})
}

func TestListExportsPagesAndFilters(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	var arns []string
	for _, tok := range []string{"a", "b", "c"} {
		arns = append(arns, aws.ToString(h.export(t, request(tok)).ExportArn))
	}
	var got []string
	p := dynamodb.NewListExportsPaginator(h.client, &dynamodb.ListExportsInput{TableArn: aws.String(tableARN), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page.ExportSummaries {
			got = append(got, aws.ToString(s.ExportArn))
			if s.ExportType != dtypes.ExportTypeFullExport || s.ExportStatus == "" {
				t.Errorf("summary %s: type %q status %q, expect FULL_EXPORT and a status", aws.ToString(s.ExportArn), s.ExportType, s.ExportStatus)
			}
		}
	}
	check(t, []field{{"listed", got, arns}, {"pages of 2", pages, 2}})

	other, err := h.client.ListExports(ctx, &dynamodb.ListExportsInput{TableArn: aws.String(tableARN + "x")})
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"exports of another table", len(other.ExportSummaries), 0}})

	_, err = h.client.ListExports(ctx, &dynamodb.ListExportsInput{MaxResults: aws.Int32(26)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("MaxResults 26: got %v, expect ValidationException", err)
	}
	_, err = h.client.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(tableARN + "/export/nope")})
	var notFound *dtypes.ExportNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeExport of an unknown export: got %v, expect ExportNotFoundException", err)
	}
}

func TestContinuousBackups(t *testing.T) {
	h := start(t, func(c *exports.Config) { c.RestoreLag = 5 * time.Minute })
	ctx := context.Background()
	out, err := h.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("Orders")})
	if err != nil {
		t.Fatal(err)
	}
	p := out.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	check(t, []field{
		{"ContinuousBackupsStatus", out.ContinuousBackupsDescription.ContinuousBackupsStatus, dtypes.ContinuousBackupsStatusEnabled},
		{"PointInTimeRecoveryStatus", p.PointInTimeRecoveryStatus, dtypes.PointInTimeRecoveryStatusEnabled},
		{"LatestRestorableDateTime", aws.ToTime(p.LatestRestorableDateTime), t0.Add(-5 * time.Minute)},
		{"EarliestRestorableDateTime (table creation)", aws.ToTime(p.EarliestRestorableDateTime), t0.Add(-time.Hour)},
	})

	// The export time must lie in the window.
	for _, tc := range []struct {
		name string
		at   time.Time
	}{{"after LatestRestorableDateTime", t0.Add(-time.Minute)}, {"before the table existed", t0.Add(-2 * time.Hour)}} {
		in := request("")
		in.ExportTime = aws.Time(tc.at)
		_, err := h.client.ExportTableToPointInTime(ctx, in)
		var invalid *dtypes.InvalidExportTimeException
		if !errors.As(err, &invalid) {
			t.Errorf("ExportTime %s: got %v, expect InvalidExportTimeException", tc.name, err)
		}
	}

	// The window is compared in whole seconds: the second of the table's
	// creation (t0 less an hour, and 456 ms) is in it.
	in := request("in the creation's second")
	in.ExportTime = aws.Time(t0.Add(-time.Hour).Truncate(time.Second))
	if _, err := h.client.ExportTableToPointInTime(ctx, in); err != nil {
		t.Errorf("ExportTime in the second of the table's creation: got %v, expect the export", err)
	}

	_, err = h.client.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String("Orders"),
		PointInTimeRecoverySpecification: &dtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err = h.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(tableARN)})
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"status after disabling (table given by ARN)", out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus, dtypes.PointInTimeRecoveryStatusDisabled}})
	in = request("")
	in.ExportTime = nil
	_, err = h.client.ExportTableToPointInTime(ctx, in)
	var unavailable *dtypes.PointInTimeRecoveryUnavailableException
	if !errors.As(err, &unavailable) {
		t.Errorf("export without point-in-time recovery: got %v, expect PointInTimeRecoveryUnavailableException", err)
	}

	h.clock.Advance(time.Hour)
	_, err = h.client.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String("Orders"),
		PointInTimeRecoverySpecification: &dtypes.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err = h.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("Orders")})
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"EarliestRestorableDateTime after enabling again", aws.ToTime(out.ContinuousBackupsDescription.PointInTimeRecoveryDescription.EarliestRestorableDateTime), t0.Add(time.Hour)}})
}

func TestUnknownTable(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	in := request("")
	in.TableArn = aws.String("arn:aws:dynamodb:ddblocal:000000000000:table/Missing")
	_, err := h.client.ExportTableToPointInTime(ctx, in)
	var notFound *dtypes.TableNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("export: got %v, expect TableNotFoundException", err)
	}
	_, err = h.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("Missing")})
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeContinuousBackups: got %v, expect TableNotFoundException", err)
	}
}

func TestUnsupportedFormsAreRefused(t *testing.T) {
	h := start(t)
	for name, mutate := range map[string]func(*dynamodb.ExportTableToPointInTimeInput){
		"ION":         func(in *dynamodb.ExportTableToPointInTimeInput) { in.ExportFormat = dtypes.ExportFormatIon },
		"incremental": func(in *dynamodb.ExportTableToPointInTimeInput) { in.ExportType = dtypes.ExportTypeIncrementalExport },
	} {
		in := request("")
		mutate(in)
		_, err := h.client.ExportTableToPointInTime(context.Background(), in)
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
			t.Errorf("%s: got %v, expect ValidationException", name, err)
		}
	}
}

func TestKMSSettingsReachS3(t *testing.T) {
	h := start(t)
	in := request("")
	in.S3SseAlgorithm = dtypes.S3SseAlgorithmKms
	in.S3SseKmsKeyId = aws.String("arn:aws:kms:us-east-1:000000000000:key/k")
	d := h.export(t, in)
	h.wait(t, aws.ToString(d.ExportArn))
	for _, put := range h.s3.inputs {
		if put.ServerSideEncryption != "aws:kms" || aws.ToString(put.SSEKMSKeyId) != "arn:aws:kms:us-east-1:000000000000:key/k" {
			t.Errorf("put %s: SSE %q key %q, expect aws:kms with the export's key", aws.ToString(put.Key), put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId))
		}
	}
	check(t, []field{{"S3SseAlgorithm", d.S3SseAlgorithm, dtypes.S3SseAlgorithmKms}})
}

func TestS3FailureFailsTheExport(t *testing.T) {
	h := start(t)
	h.s3.refuse = &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
	d := h.export(t, request(""))
	check(t, []field{{"status", h.wait(t, aws.ToString(d.ExportArn)), "FAILED"}})
	out, err := h.client.DescribeExport(context.Background(), &dynamodb.DescribeExportInput{ExportArn: d.ExportArn})
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"FailureCode", aws.ToString(out.ExportDescription.FailureCode), "AccessDenied"},
		{"FailureMessage names the object", strings.Contains(aws.ToString(out.ExportDescription.FailureMessage), "_started"), true},
	})
}

func TestOtherCallsPassUnchanged(t *testing.T) {
	h := start(t)
	out, err := h.client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String("Orders"), Key: map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: "x"}},
		UpdateExpression: aws.String("SET n = :n"), ExpressionAttributeValues: map[string]dtypes.AttributeValue{":n": &dtypes.AttributeValueMemberN{Value: "1.50"}},
		ReturnValues: dtypes.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.local.mu.Lock()
	defer h.local.mu.Unlock()
	if len(h.local.other) != 1 {
		t.Fatalf("upstream calls: got %d, expect 1", len(h.local.other))
	}
	got := h.local.other[0]
	check(t, []field{
		{"target", got.target, "DynamoDB_20120810.UpdateItem"},
		{"signature kept", strings.HasPrefix(got.auth, "AWS4-HMAC-SHA256 Credential=AKID/"), true},
		{"number text kept", strings.Contains(string(got.body), `"N":"1.50"`), true},
		{"answer from upstream", out.Attributes["pk"].(*dtypes.AttributeValueMemberS).Value, "from upstream"},
	})
}

func TestDescribeTableByARNWithTheStreamLabelBackdated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		backdate time.Duration
		label    string
	}{
		{"as it is", 0, streamLabel},
		{"backdated", 6 * time.Minute, "2026-11-23T15:56:00.456"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, func(c *exports.Config) { c.StreamLabelBackdate = tc.backdate })
			for _, table := range []string{"Orders", tableARN} {
				out, err := h.client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
				if err != nil {
					t.Fatalf("%s: %v", table, err)
				}
				check(t, []field{
					{table + ": LatestStreamLabel", aws.ToString(out.Table.LatestStreamLabel), tc.label},
					{table + ": LatestStreamArn (the stream's identity, unchanged)", aws.ToString(out.Table.LatestStreamArn), tableARN + "/stream/" + streamLabel},
					{table + ": TableName", aws.ToString(out.Table.TableName), "Orders"},
					{table + ": ItemCount (numbers passed exactly)", aws.ToInt64(out.Table.ItemCount), int64(12345678901234)},
				})
			}
		})
	}
}
