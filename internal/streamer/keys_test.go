package streamer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// eventIDs lists the eventID of every record of a fixture, in order.
func eventIDs(t *testing.T, payload []byte) []string {
	t.Helper()
	var ev struct {
		Records []struct {
			EventID string `json:"eventID"`
		}
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.EventID)
	}
	return out
}

// storedEventIDs lists the eventIDs held by every data and errors object.
func storedEventIDs(t *testing.T, fs *fakeS3) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for key, body := range fs.objects {
		for _, l := range strings.Split(strings.TrimSuffix(gunzip(t, body), "\n"), "\n") {
			var line struct {
				EventID string `json:"eventID"`
				Record  struct {
					EventID string `json:"eventID"`
				} `json:"record"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out[line.EventID+line.Record.EventID] = true
		}
	}
	return out
}

// contentKey is the errors key of an object named by its content.
func contentKey(t *testing.T, dir string, body []byte) string {
	t.Helper()
	sum := sha256.Sum256([]byte(gunzip(t, body)))
	return dir + "20261101T000000000-sha256-" + hex.EncodeToString(sum[:]) + ".jsonl.gz"
}

const ordersErrors = "cdc/_errors/table=Orders/dt=2026-11-23/hour=17/"

// TestDifferentBatchesWithoutSequenceNumbersAreAllStored: batches whose
// key cannot come from sequence numbers must not share a key, or the
// second meets a 412, is counted as written and is lost.
func TestDifferentBatchesWithoutSequenceNumbersAreAllStored(t *testing.T) {
	tests := []struct {
		name     string
		fixtures []string
		// objects is how many objects the batches make together; conflicts
		// the puts that may meet a 412 because the key proves the content.
		objects, conflicts int
	}{
		{"no sequence numbers at all", []string{"testdata/no_sequence_a.json", "testdata/no_sequence_b.json"}, 2, 0},
		// Same data records 5..9 (one data object, its 412 is legitimate),
		// different unnamed last records (two errors objects).
		{"unnamed last record", []string{"testdata/unnamed_last_x.json", "testdata/unnamed_last_y.json"}, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeS3()
			h := newHandler(t, fs, testConfig())
			for _, name := range tc.fixtures {
				payload := readFixture(t, name)
				resp, err := h.Handle(context.Background(), payload)
				if err != nil || len(resp.BatchItemFailures) != 0 {
					t.Fatalf("%s: Handle = %+v, %v", name, resp, err)
				}
				// Acknowledged, so every record must be in S3.
				stored := storedEventIDs(t, fs)
				for _, id := range eventIDs(t, payload) {
					if !stored[id] {
						t.Errorf("%s: record %s acknowledged but not stored; objects %v", name, id, keys(fs.objects))
					}
				}
			}
			if got, want := len(fs.objects), tc.objects; got != want {
				t.Errorf("objects: got %d, want %d (%v)", got, want, keys(fs.objects))
			}
			if got, want := len(fs.conflicts), tc.conflicts; got != want {
				t.Errorf("412 answers: got %d %v, want %d", got, fs.conflicts, want)
			}
		})
	}
}

// TestRetriedBatchLandsOnTheSameKey: a retry of the same batch computes the
// same keys, whether they come from sequence numbers or from the content,
// and its 412s count as already written.
func TestRetriedBatchLandsOnTheSameKey(t *testing.T) {
	tests := []struct {
		name, fixture string
		// wantErrors is the errors key; "" means named by its content.
		wantErrors, wantData string
	}{
		{"no sequence numbers", "testdata/no_sequence_a.json", "", ""},
		{"unnamed last record", "testdata/unnamed_last_x.json", "",
			"cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-600000000000000000005-600000000000000000009.jsonl.gz"},
		{"unnamed records inside named ones", badRecords,
			"cdc/_errors/table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz",
			"cdc/table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeS3()
			payload := readFixture(t, tc.fixture)
			if _, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload); err != nil {
				t.Fatal(err)
			}
			var gotErrors, gotData string
			for k := range fs.objects {
				if strings.Contains(k, "/_errors/") {
					gotErrors = k
				} else {
					gotData = k
				}
			}
			wantErrors := tc.wantErrors
			if wantErrors == "" {
				wantErrors = contentKey(t, ordersErrors, fs.objects[gotErrors])
			}
			if gotErrors != wantErrors {
				t.Errorf("errors key: got %q, want %q", gotErrors, wantErrors)
			}
			if gotData != tc.wantData {
				t.Errorf("data key: got %q, want %q", gotData, tc.wantData)
			}
			first := keys(fs.objects)
			slices.Sort(first)

			// A fresh process (cold start) handles the same batch again.
			resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), payload)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("retry: Handle = %+v, %v", resp, err)
			}
			again := keys(fs.objects)
			slices.Sort(again)
			conflicts := slices.Clone(fs.conflicts)
			slices.Sort(conflicts)
			if !slices.Equal(again, first) {
				t.Errorf("objects after retry: got %v, want %v", again, first)
			}
			if !slices.Equal(conflicts, first) {
				t.Errorf("412 answers: got %v, want one per object %v", conflicts, first)
			}
		})
	}
}

// TestTableAndTimeComeFromAnyRecord: the table (from eventSourceARN) and
// the time are taken independently, each from the first record that has it.
func TestTableAndTimeComeFromAnyRecord(t *testing.T) {
	tests := []struct {
		name, fixture, want string
	}{
		{"no creation time anywhere", "testdata/no_creation_time.json",
			"cdc/_errors/table=Orders/dt=0001-01-01/hour=00/20261101T000000000-700000000000000000001-700000000000000000002.jsonl.gz"},
		{"time on the first record, ARN on the second", "testdata/no_arn_then_no_time.json",
			"cdc/_errors/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-800000000000000000001-800000000000000000002.jsonl.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeS3()
			resp, err := newHandler(t, fs, testConfig()).Handle(context.Background(), readFixture(t, tc.fixture))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle = %+v, %v", resp, err)
			}
			got := keys(fs.objects)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("keys: got %q, want [%q]", got, tc.want)
			}
		})
	}
}

// TestKeyBuildersSayWhetherTheyProveContent checks each object's key and
// the flag that lets a 412 on it count as already written.
func TestKeyBuildersSayWhetherTheyProveContent(t *testing.T) {
	tests := []struct {
		name, fixture        string
		wantData, wantErrors objectKey
		// byContent: the errors key is named by its content's SHA-256.
		byContent bool
	}{
		{"numbered edges", badRecords,
			objectKey{"cdc/table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz", true},
			objectKey{"cdc/_errors/table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz", true}, false},
		{"unnamed last record", "testdata/unnamed_last_x.json",
			objectKey{"cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-600000000000000000005-600000000000000000009.jsonl.gz", true},
			objectKey{"", true}, true},
		{"no sequence numbers", "testdata/no_sequence_b.json",
			objectKey{"cdc/table=Orders/dt=2026-11-23/hour=17/20261101T000000000-none-none.jsonl.gz", false},
			objectKey{"", true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(testConfig())
			b.reset()
			if _, err := b.conv.ConvertEvent(readFixture(t, tc.fixture), b.add); err != nil {
				t.Fatal(err)
			}
			if err := b.close(); err != nil {
				t.Fatal(err)
			}
			wantErrors := tc.wantErrors
			if tc.byContent {
				wantErrors.name = contentKey(t, ordersErrors, b.errs().bytes())
			}
			for _, f := range []struct {
				name      string
				got, want objectKey
			}{
				{"data", b.dataKey("cdc"), tc.wantData},
				{"errors", b.errorsKey("cdc"), wantErrors},
			} {
				if f.got.name != f.want.name {
					t.Errorf("%s key: got %q, want %q", f.name, f.got.name, f.want.name)
				}
				if f.got.provesContent != f.want.provesContent {
					t.Errorf("%s key proves content: got %v, want %v", f.name, f.got.provesContent, f.want.provesContent)
				}
			}
		})
	}
}

// TestPreconditionFailedCountsOnlyForContentProvingKeys: a 412 is success
// only when the key proves the stored object is this one.
func TestPreconditionFailedCountsOnlyForContentProvingKeys(t *testing.T) {
	const key = "cdc/_errors/table=T/dt=2026-11-23/hour=17/s-none-none.jsonl.gz"
	tests := []struct {
		name    string
		proves  bool
		wantErr bool
	}{
		{"content-proving key", true, false},
		{"key that proves nothing", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeS3()
			fs.objects[key] = []byte("other records")
			existed, err := newHandler(t, fs, testConfig()).put(context.Background(), objectKey{key, tc.proves}, []byte("these records"), "application/x-ndjson", 1, [2][]byte{})
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("put error: got %v, want an error: %v", err, tc.wantErr)
			}
			if existed != !tc.wantErr {
				t.Errorf("existed: got %v, want %v", existed, !tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "s3://out-bucket/"+key) {
				t.Errorf("error %q does not name the key", err)
			}
			if got := string(fs.objects[key]); got != "other records" {
				t.Errorf("object: got %q, want it untouched", got)
			}
		})
	}
}
