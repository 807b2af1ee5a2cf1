package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

const kmsKey = "arn:aws:kms:eu-west-1:123456789012:key/k"

func config() Config {
	return Config{Table: "Orders", Bucket: bucket, Prefix: "cdc", KMSKey: kmsKey, StreamARN: streamARN,
		Poll: time.Millisecond, Now: func() time.Time { return now }}
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

// exportTime is min(now, LatestRestorableDateTime) in whole seconds.
var exportTime = now.Add(-5 * time.Minute)

func TestStartsAnExportAndFollowsItToTheEnd(t *testing.T) {
	f := newFake()
	cfg := config()
	var phases []Phase
	var last Progress
	cfg.Progress = func(p Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		last = p
	}
	r, err := Run(context.Background(), f.with(cfg), f, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.started) != 1 {
		t.Fatalf("exports started: got %d, expect 1", len(f.started))
	}
	in := f.started[0]
	check(t, []field{
		{"TableArn", aws.ToString(in.TableArn), tableARN},
		{"S3Bucket", aws.ToString(in.S3Bucket), bucket},
		{"S3Prefix (outside the data prefix)", aws.ToString(in.S3Prefix), "cdc-exports"},
		{"ExportFormat", in.ExportFormat, types.ExportFormatDynamodbJson},
		{"ExportType", in.ExportType, types.ExportTypeFullExport},
		{"ExportTime (LatestRestorableDateTime)", aws.ToTime(in.ExportTime), exportTime},
		{"ClientToken", aws.ToString(in.ClientToken), clientToken(tableARN, bucket, "cdc-exports", exportTime, 1)},
		{"S3SseAlgorithm", in.S3SseAlgorithm, types.S3SseAlgorithmKms},
		{"S3SseKmsKeyId", aws.ToString(in.S3SseKmsKeyId), kmsKey},
	})
	check(t, []field{
		{"ExportARN", r.ExportARN, tableARN + "/export/01795453320000-0c9e7d21"},
		{"ExportDir", r.ExportDir, "s3://lake/cdc-exports/AWSDynamoDB/01795453320000-0c9e7d21"},
		{"Status", r.Status, "COMPLETED"},
		{"Items", r.Items, 30},
		{"DataFiles", r.DataFiles, 4},
		{"EmptyFiles", r.EmptyFiles, 1},
		{"Converted", r.Converted, 3},
		{"DataObjects", r.DataObjects, 3},
		{"ErrorObjects", r.ErrorObjects, 0},
		{"Attached", r.Attached, false},
		{"AlreadyDone", r.AlreadyDone, false},
		{"ExportDuration", r.ExportDuration, 7 * time.Minute},
		{"phases", phases, []Phase{PhaseExport, PhaseConvert, PhaseDeletes}},
		{"last progress", fmt.Sprintf("%d/%d", last.Converted, last.ToConvert), "3/3"},
	})
}

func TestWithoutAKeyTheBucketDefaultEncrypts(t *testing.T) {
	f := newFake()
	cfg := config()
	cfg.KMSKey = ""
	if _, err := Run(context.Background(), f.with(cfg), f, f); err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"S3SseAlgorithm", f.started[0].S3SseAlgorithm, ""},
		{"S3SseKmsKeyId", f.started[0].S3SseKmsKeyId == nil, true},
	})
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*fakeAWS, *Config)
		expect string
		remedy string
	}{
		{"point-in-time recovery off", func(f *fakeAWS, _ *Config) { f.pitrOff = true }, "point-in-time recovery is off", "update-continuous-backups"},
		{"stream off", func(f *fakeAWS, _ *Config) { f.streamOff = true }, "no stream enabled", "deploy the pipeline stack"},
		{"stream younger than the margin before the export time", func(f *fakeAWS, _ *Config) {
			f.streamLabel = now.Add(-6 * time.Minute).Format("2006-01-02T15:04:05.000")
		}, "less than 5m0s before the export time", "after " + now.Add(-time.Minute).Format(time.RFC3339)},
		{"the pipeline reads another stream", func(_ *fakeAWS, c *Config) { c.StreamARN = tableARN + "/stream/old" }, "the pipeline reads stream", "redeploy"},
		{"table missing", func(f *fakeAWS, _ *Config) { f.tableMissing = true }, "table Orders not found", "--table"},
		{"export prefix inside the data prefix", func(_ *fakeAWS, c *Config) { c.ExportPrefix = "cdc/exports" }, "inside the data prefix", "cdc-exports"},
		{"no bucket", func(_ *fakeAWS, c *Config) { c.Bucket = "" }, "no bucket", "--stack"},
		{"an export refused for its time", func(f *fakeAWS, _ *Config) {
			f.exportErr = &types.InvalidExportTimeException{Message: aws.String("outside")}
		}, "outside the point-in-time recovery window", "run backfill again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			cfg := config()
			tc.setup(f, &cfg)
			checkRefusal(t, f, cfg, tc.expect, tc.remedy, false)
			if tc.name != "an export refused for its time" && len(f.started) != 0 {
				t.Errorf("exports started: got %d, expect 0", len(f.started))
			}
		})
	}
}

// checkRefusal runs a backfill that must refuse with a *backfill.Error
// whose message and remedy hold expect and remedy.
func checkRefusal(t *testing.T, f *fakeAWS, cfg Config, expect, remedy string, unfinished bool) {
	t.Helper()
	_, err := Run(context.Background(), f.with(cfg), f, f)
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error: got %v, expect a *backfill.Error", err)
	}
	check(t, []field{
		{"message has " + expect, strings.Contains(be.Error(), expect), true},
		{"remedy has " + remedy, strings.Contains(be.Remedy, remedy), true},
		{"unfinished", be.Unfinished, unfinished},
	})
	if t.Failed() {
		t.Logf("message: %s\nremedy: %s", be.Error(), be.Remedy)
	}
}

// ours is an export into the backfill's bucket and export prefix.
func ours(id string, status types.ExportStatus, token string, started time.Time) types.ExportDescription {
	return types.ExportDescription{ExportArn: aws.String(tableARN + "/export/" + id), ExportStatus: status,
		ClientToken: aws.String(token), S3Bucket: aws.String(bucket), S3Prefix: aws.String("cdc-exports"),
		StartTime: aws.Time(started), ExportTime: aws.Time(started), TableArn: aws.String(tableARN)}
}

func TestAttachOrStart(t *testing.T) {
	thisHour := clientToken(tableARN, bucket, "cdc-exports", exportTime, 1)
	earlier := clientToken(tableARN, bucket, "cdc-exports", exportTime.Add(-3*time.Hour), 1)
	other := func(d types.ExportDescription) types.ExportDescription {
		d.S3Prefix = aws.String("elsewhere")
		return d
	}
	tests := []struct {
		name     string
		existing []types.ExportDescription
		// converted is how many objects of completed exports exist already.
		converted     int
		expectStarted int
		expectToken   string
		expectARN     string
		attached      bool
		alreadyDone   bool
	}{
		{"an export in progress is followed",
			[]types.ExportDescription{ours("01795000000000-aaaaaaaa", types.ExportStatusInProgress, thisHour, now.Add(-time.Hour))},
			0, 0, "", "01795000000000-aaaaaaaa", true, false},
		{"another prefix's export in progress is not ours",
			[]types.ExportDescription{other(ours("01795000000000-aaaaaaaa", types.ExportStatusInProgress, "x-1", now.Add(-time.Hour)))},
			0, 1, thisHour, "", false, false},
		{"a completed export being converted is followed",
			[]types.ExportDescription{ours("01795000000000-bbbbbbbb", types.ExportStatusCompleted, earlier, now.Add(-3*time.Hour))},
			1, 0, "", "01795000000000-bbbbbbbb", true, false},
		{"this hour's converted export is the answer",
			[]types.ExportDescription{ours("01795000000000-cccccccc", types.ExportStatusCompleted, thisHour, now.Add(-20*time.Minute))},
			3, 0, "", "01795000000000-cccccccc", true, true},
		{"this hour's converted export without its delete lines is finished",
			[]types.ExportDescription{ours("01795000000000-cccccccc", types.ExportStatusCompleted, thisHour, now.Add(-20*time.Minute))},
			3, 0, "", "01795000000000-cccccccc", true, false},
		{"an earlier hour's converted export makes way for a new one",
			[]types.ExportDescription{ours("01795000000000-dddddddd", types.ExportStatusCompleted, earlier, now.Add(-3*time.Hour))},
			3, 1, thisHour, "", false, false},
		{"after this hour's failed export, the next attempt",
			[]types.ExportDescription{ours("01795000000000-eeeeeeee", types.ExportStatusFailed, thisHour, now.Add(-20*time.Minute))},
			0, 1, strings.TrimSuffix(thisHour, "-1") + "-2", "", false, false},
		{"an export from before the stream could cover it is not followed",
			[]types.ExportDescription{ours("01794000000000-ffffffff", types.ExportStatusInProgress, "old-1", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))},
			0, 1, thisHour, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			for _, d := range tc.existing {
				added := f.add(d)
				if d.ExportStatus == types.ExportStatusCompleted {
					for i := 0; i < tc.converted; i++ {
						f.convertNext(added)
					}
					if tc.alreadyDone { // its delete lines too
						key, _ := objectkey.Snapshot(deletesFile("cdc", "Orders", exportID(*added.ExportArn), aws.ToTime(added.ExportTime)))
						f.objects[key] = nil
					}
				}
			}
			r, err := Run(context.Background(), f.with(config()), f, f)
			if err != nil {
				t.Fatal(err)
			}
			check(t, []field{
				{"exports started", len(f.started), tc.expectStarted},
				{"Attached", r.Attached, tc.attached},
				{"AlreadyDone", r.AlreadyDone, tc.alreadyDone},
				{"Converted", r.Converted, 3},
			})
			if tc.expectStarted > 0 && len(f.started) > 0 {
				check(t, []field{{"ClientToken", aws.ToString(f.started[0].ClientToken), tc.expectToken}})
			}
			if tc.expectARN != "" {
				check(t, []field{{"ExportARN", r.ExportARN, tableARN + "/export/" + tc.expectARN}})
			}
		})
	}
}

func TestAConcurrentRunsExportIsFollowed(t *testing.T) {
	// Another run started this hour's export with the same token a moment
	// earlier (another export time): DynamoDB answers ExportConflictException.
	f := newFake()
	f.exportErr = &types.ExportConflictException{Message: aws.String("conflict")}
	f.onExport = func(in *dynamodb.ExportTableToPointInTimeInput) {
		f.add(ours("01795453300000-99999999", types.ExportStatusInProgress, aws.ToString(in.ClientToken), now.Add(-time.Second)))
	}
	r, err := Run(context.Background(), f.with(config()), f, f)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"ExportARN", r.ExportARN, tableARN + "/export/01795453300000-99999999"},
		{"Attached", r.Attached, true},
		{"Converted", r.Converted, 3},
	})
}

func TestFailedExport(t *testing.T) {
	f := newFake()
	f.finalStatus, f.failure = types.ExportStatusFailed, "Access Denied"
	r, err := Run(context.Background(), f.with(config()), f, f)
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error: got %v, expect a *backfill.Error", err)
	}
	check(t, []field{
		{"message names the failure", strings.Contains(be.Msg, "S3AccessDenied: Access Denied"), true},
		{"remedy", strings.Contains(be.Remedy, "starts a new export"), true},
		{"report keeps the export", r.ExportARN != "", true},
		{"Status", r.Status, "FAILED"},
	})
}

// tick is a clock that moves a minute at every reading.
type tick struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tick) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*fakeAWS)
		expect string
	}{
		{"export still running", func(f *fakeAWS) { f.inProgressFor = 1 << 30 }, "still IN_PROGRESS"},
		{"conversion stuck", func(f *fakeAWS) { f.convertible = 1 }, "1 of 3 data files converted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.setup(f)
			cfg := config()
			cfg.Now = (&tick{t: now}).Now
			cfg.Timeout = 10 * time.Minute
			f.latest = now.Add(time.Hour) // the moving clock stays inside the window
			_, err := Run(context.Background(), f.with(cfg), f, f)
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("error: got %v, expect a *backfill.Error", err)
			}
			check(t, []field{
				{"message has " + tc.expect, strings.Contains(be.Msg, tc.expect), true},
				{"unfinished", be.Unfinished, true},
				{"remedy", strings.Contains(be.Remedy, "run the same command again"), true},
			})
		})
	}
}

func TestErrorObjectsFailTheBackfill(t *testing.T) {
	f := newFake()
	f.errorFiles = 1
	r, err := Run(context.Background(), f.with(config()), f, f)
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error: got %v, expect a *backfill.Error", err)
	}
	check(t, []field{
		{"ErrorObjects", r.ErrorObjects, 1},
		{"Converted", r.Converted, 3},
		{"DataObjects", r.DataObjects, 3},
		{"message names the errors objects", strings.Contains(be.Msg, "s3://lake/cdc/_errors/table=Orders/dt=2026-11-23/hour=17/snapshot-01795453320000.0c9e7d21-*.jsonl.gz"), true},
	})
}

func TestAFileOfBadLinesIsConvertedByItsErrorsObject(t *testing.T) {
	f := newFake()
	f.allBad[1] = true
	r, err := Run(context.Background(), f.with(config()), f, f)
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("error: got %v, expect a *backfill.Error for the errors object", err)
	}
	check(t, []field{
		{"Converted", r.Converted, 3},
		{"DataObjects", r.DataObjects, 2},
		{"ErrorObjects", r.ErrorObjects, 1},
	})
}

func TestAnErrorsObjectAloneIsNotAConvertedFile(t *testing.T) {
	// The converter completes a file's errors object before its data
	// object: an errors object holding only some of the file's items
	// means the data object is still to come.
	f := newFake()
	f.convertible = 0
	d := f.add(ours("01795000000000-aaaaaaaa", types.ExportStatusCompleted, "t-1", now.Add(-time.Hour)))
	names := objectkey.SnapshotFile{Prefix: "cdc", Table: "Orders", ExportID: "01795000000000-aaaaaaaa", DataFile: "file0a", ExportTime: aws.ToTime(d.ExportTime)}
	errorsKey, _ := objectkey.SnapshotErrors(names)
	f.objects[errorsKey] = gzipLines(1)
	other := names
	other.ExportID = "01795000000000-bbbbbbbb"
	otherKey, _ := objectkey.Snapshot(other)
	f.objects[otherKey] = nil // another export's object
	b := &run{cfg: config(), db: f, objects: f}
	b.cfg.defaults()
	m, err := b.manifest(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.count(context.Background(), "01795000000000-aaaaaaaa", aws.ToTime(d.ExportTime), m)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"converted", c.converted, 0}, {"errorObjects", c.errorObjects, 1}, {"dataObjects", c.dataObjects, 0}})
}

func TestInterrupted(t *testing.T) {
	f := newFake()
	f.inProgressFor = 1 << 30
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config()
	cfg.Progress = func(Progress) { cancel() }
	_, err := Run(ctx, f.with(cfg), f, f)
	var be *Error
	if !errors.As(err, &be) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error: got %v, expect an unfinished *backfill.Error wrapping context.Canceled", err)
	}
	check(t, []field{{"unfinished", be.Unfinished, true}})
}

func TestClientToken(t *testing.T) {
	base := clientToken(tableARN, bucket, "cdc-exports", exportTime, 1)
	tests := []struct {
		name       string
		token      string
		expectSame bool
	}{
		{"same hour", clientToken(tableARN, bucket, "cdc-exports", exportTime.Add(-30*time.Minute), 1), true},
		{"next hour", clientToken(tableARN, bucket, "cdc-exports", exportTime.Add(time.Hour), 1), false},
		{"other bucket", clientToken(tableARN, "other", "cdc-exports", exportTime, 1), false},
		{"other prefix", clientToken(tableARN, bucket, "x", exportTime, 1), false},
		{"other table", clientToken(tableARN+"2", bucket, "cdc-exports", exportTime, 1), false},
		{"next attempt", clientToken(tableARN, bucket, "cdc-exports", exportTime, 2), false},
	}
	for _, tc := range tests {
		if got := tc.token == base; got != tc.expectSame {
			t.Errorf("%s: %q vs %q: same got %v, expect %v", tc.name, tc.token, base, got, tc.expectSame)
		}
	}
	check(t, []field{
		{"readable hour", strings.HasPrefix(base, "ddbstream-20261123T17-"), true},
		{"base", tokenBase(base) + "-1", base},
		{"length", len(base) <= 40, true},
	})
}

func TestSnapshotDirs(t *testing.T) {
	data, errs, err := snapshotDirs("cdc", "Orders", "01795453320456-0c9e7d21", time.Date(2026, 11, 23, 0, 3, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"data", data, "cdc/table=Orders/dt=2026-11-23/hour=00/snapshot-01795453320456.0c9e7d21-"},
		{"errors", errs, "cdc/_errors/table=Orders/dt=2026-11-23/hour=00/snapshot-01795453320456.0c9e7d21-"},
	})
}

func TestReadManifest(t *testing.T) {
	m, err := readManifest(strings.NewReader(`{"itemCount":2,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"e","dataFileS3Key":"x/AWSDynamoDB/1-a/data/abc.json.gz"}

{"itemCount":0,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"e","dataFileS3Key":"x/AWSDynamoDB/1-a/data/def.json.gz"}
`))
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"files", m.files(), 2}, {"empty", m.empty, 1}, {"items", m.items, 2}, {"abc", m.itemsOf["abc"], 2}})
	for _, bad := range []string{"", `{"itemCount":1}`, `{"itemCount":1,"dataFileS3Key":"x/data/abc.json"}`} {
		if _, err := readManifest(strings.NewReader(bad)); err == nil {
			t.Errorf("readManifest(%q): no error", bad)
		}
	}
}

func TestStreamLabels(t *testing.T) {
	for _, tc := range []struct {
		label  string
		expect time.Time
		ok     bool
	}{
		{"2015-05-11T21:21:33.291", time.Date(2015, 5, 11, 21, 21, 33, 291e6, time.UTC), true},
		{"2026-11-01T00:00:00.000", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), true},
		{"yesterday", time.Time{}, false},
	} {
		got, err := streamCreated(tc.label)
		if (err == nil) != tc.ok || !got.Equal(tc.expect) {
			t.Errorf("streamCreated(%q): got %v, %v; expect %v, ok %v", tc.label, got, err, tc.expect, tc.ok)
		}
	}
}
