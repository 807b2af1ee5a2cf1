package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/reconcile"
	"github.com/ddbstream/pipeline/internal/record"
)

// The backfill's end-to-end tests: ddbstream backfill's and reconcile's
// logic against the local pipeline, the export planner and converter
// running as their real bootstraps, started by the export's
// manifest-summary.json through the planner's EventBridge rule.

// backfillLimit bounds one test's backfill, drain and reconciliation: a
// safety net for a pipeline that never finishes, not a wait.
const backfillLimit = 3 * time.Minute

// preload returns an Options.Preload writing n items with Preload.
func preload(n int) func(context.Context, *dynamodb.Client, string) error {
	return func(ctx context.Context, db *dynamodb.Client, table string) error {
		return Preload(ctx, db, table, n, 7)
	}
}

// runBackfill runs the backfill and fails the test on an error.
func runBackfill(t *testing.T, ctx context.Context, p *Pipeline, progress func(backfill.Progress)) backfill.Report {
	t.Helper()
	r, err := p.Backfill(ctx, progress)
	if err != nil {
		t.Fatalf("backfill: %v (report %+v)", err, r)
	}
	t.Logf("backfill:\n%s", BackfillSummary(r))
	return r
}

// drain waits for the pipeline to have delivered records stream records
// and ended every conversion.
func drain(t *testing.T, ctx context.Context, p *Pipeline, records int) {
	t.Helper()
	if err := p.Drain(ctx, records, func(s Status) { t.Logf("progress: %+v", s) }); err != nil {
		t.Fatal(err)
	}
}

// reconciled runs the reconciliation and fails the test on an error.
func reconciled(t *testing.T, ctx context.Context, p *Pipeline) *reconcile.Report {
	t.Helper()
	r, err := p.Reconcile(ctx)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	t.Logf("reconcile:\n%s", ReconcileSummary(r))
	return r
}

// checkConverted checks a finished backfill's report against its export:
// every data file with items converted into exactly one object, nothing
// kept under _errors/.
func checkConverted(t *testing.T, r backfill.Report, items int64) bool {
	t.Helper()
	return check(t,
		expectation{field: "export items", got: int(r.Items), expect: int(items)},
		expectation{field: "data files", got: r.DataFiles, expect: 4},
		expectation{field: "data files converted", got: r.Converted, expect: r.DataFiles - r.EmptyFiles},
		expectation{field: "snapshot objects", got: r.DataObjects, expect: r.DataFiles - r.EmptyFiles},
		expectation{field: "errors objects", got: r.ErrorObjects, expect: 0},
	)
}

// checkEqual checks that the lake equals the table's items.
func checkEqual(t *testing.T, r *reconcile.Report, items int) bool {
	t.Helper()
	return check(t,
		expectation{field: "items scanned", got: int(r.Scanned), expect: items},
		expectation{field: "equal", got: int(r.Equal), expect: items},
		expectation{field: "differences", got: int(r.Differences()), expect: 0},
		expectation{field: "in flight", got: int(r.InFlight), expect: 0},
		expectation{field: "unverified", got: int(r.Unverified), expect: 0},
	)
}

func TestBackfillUnderConcurrentWritesReconcilesEqual(t *testing.T) {
	const preloaded, changes = 300, 800
	p := startPipeline(t, Options{BatchSize: 200, Preload: preload(preloaded)})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()

	// The load runs from before the export until after it: the backfill
	// starts once the first changes are written, on the load's progress.
	firstWritten := make(chan struct{})
	var once sync.Once
	type loaded struct {
		load *Load
		err  error
	}
	done := make(chan loaded, 1)
	go func() {
		load, err := Generate(ctx, p.DynamoDB, p.Opts.Table, changes, 42, func(int) { once.Do(func() { close(firstWritten) }) })
		done <- loaded{load, err}
	}()
	<-firstWritten
	var exportRequested time.Time
	r := runBackfill(t, ctx, p, func(pr backfill.Progress) {
		if exportRequested.IsZero() {
			exportRequested = time.Now() // after the export's scan
		}
	})
	l := <-done
	if l.err != nil {
		t.Fatal(l.err)
	}
	load := l.load
	after := 0
	for _, item := range load.ByItem {
		for _, c := range item {
			if c.At.After(exportRequested) {
				after++
			}
		}
	}
	check(t,
		expectation{field: "changes written before the export", got: load.Total - after, expect: ProgressEvery, atLeast: true},
		expectation{field: "changes written after the export", got: after, expect: 1, atLeast: true},
	)
	// The export holds the preloaded items and the load's items of the
	// moment: at least the former.
	check(t, expectation{field: "export items", got: int(r.Items), expect: preloaded, atLeast: true})
	checkConverted(t, r, r.Items)

	drain(t, ctx, p, load.Total)
	v, err := p.Verify(ctx, load)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", v)
	requireExactlyOnce(t, v)
	check(t,
		expectation{field: "snapshot rows in S3", got: v.SnapshotRows, expect: int(r.Items)},
		expectation{field: "snapshot objects in S3", got: v.SnapshotObjects, expect: r.DataObjects},
		expectation{field: "delete objects in S3 (nothing was lost: no line)", got: v.DeleteObjects*10 + v.DeleteLines, expect: 10},
		expectation{field: "snapshot rows delivered with the changes", got: v.RecordsDelivered, expect: v.Changes + v.SnapshotRows},
		expectation{field: "export summaries the planner's rule delivered", got: p.PlannerRoute.Received(), expect: 1},
		expectation{field: "conversions the planner started", got: p.Lambda.Accepted(ConverterFunction), expect: r.DataFiles},
	)

	rec := reconciled(t, ctx, p)
	live, err := p.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(p.Opts.Table), Select: dtypes.SelectCount, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, rec, int(live.Count))
	if summary := ReconcileSummary(rec); !strings.Contains(summary, "lake equals table:            YES") {
		t.Errorf("summary: got\n%s\nexpect lake equals table: YES", summary)
	}
}

func TestConverterKilledMidFileIsRetriedWithoutDuplicates(t *testing.T) {
	const preloaded = 400
	p := startPipeline(t, Options{Preload: preload(preloaded)})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	// Two crashes, counted in writes rather than timed: the converter dies
	// while its first object is being written (nothing reaches S3), and
	// again once its next object is durable but before S3's answer reaches
	// it. Lambda's asynchronous retries run both files again.
	p.ConverterS3Faults.HoldPuts(1, p.Converter.Kill)
	p.ConverterS3Faults.AfterPuts(1, p.Converter.Kill)
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, preloaded)
	drain(t, ctx, p, 0)

	v, err := p.Verify(ctx, &Load{ByItem: map[string][]Change{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", v)
	conversions := r.DataFiles - r.EmptyFiles
	check(t,
		expectation{field: "snapshot rows in S3", got: v.SnapshotRows, expect: preloaded},
		expectation{field: "snapshot rows found twice", got: v.SnapshotDuplicates, expect: 0},
		expectation{field: "snapshot objects in S3", got: v.SnapshotObjects, expect: conversions},
		expectation{field: "converter invocations (each crash retried once)", got: p.Lambda.Invocations(ConverterFunction), expect: r.DataFiles + 2},
		expectation{field: "converter cold starts", got: p.Converter.ColdStarts(), expect: 3},
		expectation{field: "conversions in the on-failure destination", got: len(p.Lambda.Failed()), expect: 0},
		// The retry of the file whose object was durable found it there.
		expectation{field: "retries that found their object written",
			got: strings.Count(p.ConverterLogs.String(), `"outcome":"already written"`), expect: 1},
		expectation{field: "files converted", got: strings.Count(p.ConverterLogs.String(), `"msg":"data file converted"`), expect: r.DataFiles},
	)
	checkEqual(t, reconciled(t, ctx, p), preloaded)
}

func TestBackfillOfAnEmptyTable(t *testing.T) {
	p := startPipeline(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	r := runBackfill(t, ctx, p, nil)
	check(t,
		expectation{field: "export items", got: int(r.Items), expect: 0},
		expectation{field: "data files", got: r.DataFiles, expect: 4},
		expectation{field: "empty data files", got: r.EmptyFiles, expect: 4},
		expectation{field: "snapshot objects", got: r.DataObjects, expect: 0},
	)
	if r.Status != "COMPLETED" {
		t.Errorf("export status: got %s, expect COMPLETED", r.Status)
	}
	// The backfill ends with the export: nothing is left to convert. The
	// planner still runs, once the summary's event arrives, and starts
	// one conversion per file, each finding no item.
	drain(t, ctx, p, 0)
	objects, err := p.ReadObjects(ctx, objectkey.DataPrefix(p.Opts.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	check(t,
		expectation{field: "export summaries the planner's rule delivered", got: p.PlannerRoute.Received(), expect: 1},
		expectation{field: "conversions", got: p.Lambda.Invocations(ConverterFunction), expect: 4},
		expectation{field: "conversions of empty files", got: strings.Count(p.ConverterLogs.String(), `"outcome":"empty"`), expect: 4},
		// Only the export's delete lines, empty: it records that the
		// backfill found nothing to delete.
		expectation{field: "objects under the data prefix", got: len(objects), expect: 1},
		expectation{field: "lines under the data prefix", got: len(deleteObject(t, objects).Lines), expect: 0},
	)
	rec := reconciled(t, ctx, p)
	checkEqual(t, rec, 0)
	check(t, expectation{field: "lake objects read", got: int(rec.Objects), expect: 1})
}

// deleteObject is the backfill's delete object among objects.
func deleteObject(t *testing.T, objects []Object) Object {
	t.Helper()
	for _, o := range objects {
		if isDeleteObject(o) {
			return o
		}
	}
	t.Fatal("no delete object")
	return Object{}
}

// isDeleteObject reports whether o holds a backfill's delete lines.
func isDeleteObject(o Object) bool {
	parts, err := objectkey.Parse(o.Key)
	return err == nil && parts.Snapshot && parts.DataFile == record.SnapshotDeletes
}

// bigItemBytes makes an item of about 400 KB, DynamoDB's largest
// (409,600 bytes with its attribute names): random bytes, which gzip
// cannot shrink, so its line and object are that large too.
const bigItemBytes = 400_000

func TestBackfillOfA400KBItem(t *testing.T) {
	blob := make([]byte, bigItemBytes)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	big := map[string]dtypes.AttributeValue{
		"pk": &dtypes.AttributeValueMemberS{Value: "big"}, "v": &dtypes.AttributeValueMemberN{Value: "1"},
		"blob": &dtypes.AttributeValueMemberB{Value: blob},
	}
	p := startPipeline(t, Options{Preload: func(ctx context.Context, db *dynamodb.Client, table string) error {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: big}); err != nil {
			return err
		}
		return Preload(ctx, db, table, 3, 7)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, 4)
	// A change of the big item after the export: a stream record with both
	// images, each about 400 KB.
	if _, err := p.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(p.Opts.Table),
		Key: map[string]dtypes.AttributeValue{"pk": big["pk"]}, UpdateExpression: aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]dtypes.AttributeValue{":v": &dtypes.AttributeValueMemberN{Value: "2"}}}); err != nil {
		t.Fatal(err)
	}
	drain(t, ctx, p, 1)
	objects, err := p.ReadObjects(ctx, objectkey.DataPrefix(p.Opts.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	var bigRows []string
	for _, o := range objects {
		for _, l := range o.Lines {
			if l.Item == "big" {
				bigRows = append(bigRows, l.Op+" v"+strconv.Itoa(l.V))
			}
		}
	}
	if got, expect := strings.Join(bigRows, ", "), "SNAPSHOT v1, MODIFY v2"; got != expect && got != "MODIFY v2, SNAPSHOT v1" {
		t.Errorf("lines of the big item: got %s, expect %s", got, expect)
	}
	checkEqual(t, reconciled(t, ctx, p), 4)
}

func TestBackfillWithNumericAndBinaryKeys(t *testing.T) {
	// Negative, fractional, 38-digit and tiny numbers, and binary values
	// with every kind of byte. The numbers are written as DynamoDB stores
	// them (3.14, not 3.140): DynamoDB Local's stream records of UpdateItem
	// carry the key as the request wrote it ("3.140", "1E+2") while its
	// Scan and the export carry the stored form ("3.14", "100"), and the
	// lake identifies an item by its keys' text.
	numbers := []string{"1", "-7", "3.14", "100", "-0.5", "12345678901234567890123456789012345678", "0.000000000000000000000000000000000001"}
	binaries := [][]byte{{0}, {0xff, 0xfe}, {1, 2, 3}, []byte("not base64 \x00 \n")}
	key := func(n string, b []byte) map[string]dtypes.AttributeValue {
		return map[string]dtypes.AttributeValue{"id": &dtypes.AttributeValueMemberN{Value: n}, "part": &dtypes.AttributeValueMemberB{Value: b}}
	}
	p := startPipeline(t, Options{
		Key: KeySchema{PartitionKey: "id", PartitionType: dtypes.ScalarAttributeTypeN, SortKey: "part", SortType: dtypes.ScalarAttributeTypeB},
		Preload: func(ctx context.Context, db *dynamodb.Client, table string) error {
			for _, n := range numbers {
				for _, b := range binaries {
					it := key(n, b)
					it["v"] = &dtypes.AttributeValueMemberN{Value: "1"}
					if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	items := len(numbers) * len(binaries)
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, int64(items))

	// Changes after the export, each one stream record: an update of every
	// item of the first binary, a delete of every item of the second, and
	// new items under the same numbers.
	table := aws.String(p.Opts.Table)
	records := 0
	for _, n := range numbers {
		if _, err := p.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(n, binaries[0]),
			UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: map[string]dtypes.AttributeValue{":v": &dtypes.AttributeValueMemberN{Value: "2"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key(n, binaries[1])}); err != nil {
			t.Fatal(err)
		}
		it := key(n, []byte{0xca, 0xfe, 0})
		it["v"] = &dtypes.AttributeValueMemberN{Value: "1"}
		if _, err := p.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: it}); err != nil {
			t.Fatal(err)
		}
		records += 3
	}
	drain(t, ctx, p, records)
	checkEqual(t, reconciled(t, ctx, p), items)
}

func TestReconcileReportsARemovedObjectAndAnAlteredLine(t *testing.T) {
	const preloaded = 200
	p := startPipeline(t, Options{Preload: preload(preloaded)})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, preloaded)
	drain(t, ctx, p, 0)
	if !checkEqual(t, reconciled(t, ctx, p), preloaded) {
		t.FailNow()
	}
	all, err := p.ReadObjects(ctx, objectkey.DataPrefix(p.Opts.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	var objects []Object // the snapshot objects, not the delete lines
	for _, o := range all {
		if !isDeleteObject(o) {
			objects = append(objects, o)
		}
	}
	if len(objects) < 2 {
		t.Fatalf("snapshot objects: got %d, expect at least 2", len(objects))
	}
	bucket := aws.String(p.Opts.Bucket)

	// An object lost: its items are in the table and nowhere in the lake.
	removed := objects[0]
	if _, err := p.S3Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String(removed.Key)}); err != nil {
		t.Fatal(err)
	}
	rec := reconciled(t, ctx, p)
	check(t,
		expectation{field: "missing from lake", got: int(rec.MissingFromLake), expect: len(removed.Lines)},
		expectation{field: "different", got: int(rec.Different), expect: 0},
		expectation{field: "only in lake", got: int(rec.OnlyInLake), expect: 0},
		expectation{field: "equal", got: int(rec.Equal), expect: preloaded - len(removed.Lines)},
		expectation{field: "differences (the command's exit status 1)", got: int(rec.Differences()), expect: len(removed.Lines)},
	)

	// A line altered: one item's value in the lake is not the table's.
	altered := objects[1]
	got, err := p.S3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(altered.Key)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	lines, err := gunzipLines(raw)
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`"v":1([,}])`)
	if !version.Match(lines[0]) {
		t.Fatalf("first line of %s has no \"v\":1: %s", altered.Key, lines[0])
	}
	lines[0] = version.ReplaceAll(lines[0], []byte(`"v":999$1`))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(append(bytes.Join(lines, []byte("\n")), '\n'))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.S3Client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(altered.Key), Body: bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
	rec = reconciled(t, ctx, p)
	check(t,
		expectation{field: "missing from lake", got: int(rec.MissingFromLake), expect: len(removed.Lines)},
		expectation{field: "different", got: int(rec.Different), expect: 1},
		expectation{field: "equal", got: int(rec.Equal), expect: preloaded - len(removed.Lines) - 1},
		expectation{field: "differences (the command's exit status 1)", got: int(rec.Differences()), expect: len(removed.Lines) + 1},
	)
	if summary := ReconcileSummary(rec); !strings.Contains(summary, "lake equals table:            NO") {
		t.Errorf("summary: got\n%s\nexpect lake equals table: NO", summary)
	}
}
