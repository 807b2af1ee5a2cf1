package backfill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/orderkey"
)

// lakeLine is a stream line of item pk as the fold reads it.
func lakeLine(event, pk string, created time.Time, seq int) string {
	ok, err := orderkey.Stream(created, fmt.Sprintf("%021d", seq))
	if err != nil {
		panic(err)
	}
	image := ""
	if event != "REMOVE" {
		image = fmt.Sprintf(`,"newImage":{"pk":%q}`, pk)
	}
	return fmt.Sprintf(`{"eventID":"e%d","eventName":%q,"table":"Orders","keys":{"pk":%q}%s,"orderKey":%q}`, seq, event, pk, image, ok)
}

func gz(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzipLines(t *testing.T, b []byte) []string {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.TrimSpace(out.String()))
}

// plantLake puts the lake a backfill finds: item a lost its REMOVE an
// hour before the export; b was removed; c was inserted inside the
// margin; d is in the export (its snapshot row).
func plantLake(t *testing.T, f *fakeAWS) {
	t.Helper()
	old := exportTime.Add(-time.Hour)
	f.objects["cdc/table=Orders/dt=x/hour=00/stream-1-9.jsonl.gz"] = gz(t,
		lakeLine("INSERT", "a", old, 1),
		lakeLine("INSERT", "b", old, 2),
		lakeLine("REMOVE", "b", old.Add(time.Minute), 3),
		lakeLine("INSERT", "c", exportTime.Add(-2*time.Minute), 4),
		lakeLine("INSERT", "d", old, 5),
	)
	f.objects["cdc/table=Orders/dt=x/hour=00/snapshot-planted.jsonl.gz"] = gz(t,
		fmt.Sprintf(`{"eventID":"x/f:1","eventName":"SNAPSHOT","table":"Orders","keys":{"pk":"d"},"newImage":{"pk":"d","v":1},"orderKey":%q}`, orderkey.Snapshot(exportTime)))
}

// After a wholly converted export, an item the export does not hold and
// whose newest lake line ranks below the snapshot is deleted by a line at
// the snapshot's rank; an item changed inside the margin is not.
func TestAWhollyConvertedExportDeletesWhatItLacks(t *testing.T) {
	f := newFake()
	plantLake(t, f)
	r, err := Run(context.Background(), f.with(config()), f, f)
	if err != nil {
		t.Fatal(err)
	}
	id := exportID(r.ExportARN)
	key, _ := objectkey.Snapshot(deletesFile("cdc", "Orders", id, exportTime))
	if len(f.puts) != 1 {
		t.Fatalf("objects written: got %d, expect 1 (the delete lines)", len(f.puts))
	}
	in := f.puts[0]
	lines := gunzipLines(t, f.objects[key])
	check(t, []field{
		{"DeletesKey", r.DeletesKey, key},
		{"key written", aws.ToString(in.Key), key},
		{"Deleted", r.Deleted, 1},
		{"DeletesAlready", r.DeletesAlready, false},
		{"If-None-Match", aws.ToString(in.IfNoneMatch), "*"},
		{"SSE", in.ServerSideEncryption, s3types.ServerSideEncryptionAwsKms},
		{"SSE key", aws.ToString(in.SSEKMSKeyId), kmsKey},
		{"records metadata", in.Metadata["records"], "1"},
		{"lines", len(lines), 1},
	})
	if len(lines) == 1 {
		want := fmt.Sprintf(`{"eventID":"%s/deletes:1","eventName":"REMOVE","table":"Orders","keys":{"pk":"a"},"approximateCreationDateTime":"%s","orderKey":"%s","ttlDelete":false}`,
			id, exportTime.UTC().Format(time.RFC3339Nano), orderkey.Snapshot(exportTime))
		if lines[0] != want {
			t.Errorf("delete line:\n got %s\nwant %s", lines[0], want)
		}
	}

	// The whole lake, folded, now says what the table said at the export.
	var all [][]byte
	for k, b := range f.objects {
		if strings.HasPrefix(k, "cdc/table=Orders/") {
			for _, l := range gunzipLines(t, b) {
				all = append(all, []byte(l))
			}
		}
	}
	tb, err := fold.Lines(all)
	if err != nil {
		t.Fatal(err)
	}
	for pk, expect := range map[string]fold.Status{"a": fold.StatusAbsent, "b": fold.StatusAbsent, "c": fold.StatusPresent, "d": fold.StatusPresent} {
		st, _ := tb.Lookup([]byte(fmt.Sprintf(`{"pk":%q}`, pk)))
		if st.Status != expect {
			t.Errorf("item %s: got %v, expect %v", pk, st.Status, expect)
		}
	}

	// Running again finds the export converted and its deletes written.
	f.puts = nil
	r, err = Run(context.Background(), f.with(config()), f, f)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{
		{"again: AlreadyDone", r.AlreadyDone, true},
		{"again: DeletesAlready", r.DeletesAlready, true},
		{"again: objects written", len(f.puts), 0},
	})
}

// The delete object is written also when nothing is to be deleted, so
// that a second run need not fold the lake again; a concurrent run that
// wrote it first (412) is not an error.
func TestTheDeleteObjectIsWrittenOnce(t *testing.T) {
	f := newFake()
	r, err := Run(context.Background(), f.with(config()), f, f)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"Deleted", r.Deleted, 0}, {"objects written", len(f.puts), 1}, {"empty", len(gunzipLines(t, f.objects[r.DeletesKey])), 0}})

	// A concurrent run: the conversion is done, the object appears after
	// this run listed it and before it writes.
	g := newFake()
	cfg := g.with(config())
	first := true
	cfg.Progress = func(p Progress) {
		if p.Phase == PhaseDeletes && first {
			first = false
			key, _ := objectkey.Snapshot(deletesFile("cdc", "Orders", exportID(p.ExportARN), exportTime))
			g.objects[key] = nil
		}
	}
	r, err = Run(context.Background(), cfg, g, g)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"concurrent: DeletesAlready", r.DeletesAlready, true}, {"concurrent: objects written", len(g.puts), 0}})
}

// Lines the converter could not convert leave the export incomplete: the
// items it lacks cannot be told apart from items it failed to convert, so
// nothing is deleted.
func TestAnIncompleteExportDeletesNothing(t *testing.T) {
	f := newFake()
	f.errorFiles = 1
	plantLake(t, f)
	_, err := Run(context.Background(), f.with(config()), f, f)
	var be *Error
	if !errors.As(err, &be) || !strings.Contains(be.Msg, "were not deleted") {
		t.Fatalf("error: got %v, expect one saying nothing was deleted", err)
	}
	if len(f.puts) != 0 {
		t.Errorf("objects written: got %d, expect 0", len(f.puts))
	}
}

func TestTheDeletesReportTheLakeFolded(t *testing.T) {
	f := newFake()
	plantLake(t, f)
	r, err := Run(context.Background(), f.with(config()), f, f)
	if err != nil {
		t.Fatal(err)
	}
	check(t, []field{{"LakeItems", r.LakeItems, 4}, {"LakeObjects (the planted and the snapshot objects)", r.LakeObjects, 5}})
}
