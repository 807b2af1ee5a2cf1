package lake_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/lake"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
	"github.com/ddbstream/pipeline/internal/testing/opsfake"
)

var created = time.Unix(1_790_000_000, 0).UTC()

func change(event, pk string, seq uint64, at time.Time) foldtest.Change {
	keys := fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":"1"}}`, pk)
	c := foldtest.Change{Event: event, Keys: keys, Seq: foldtest.Seq(21, seq), Created: at}
	if event != "REMOVE" {
		c.New = strings.TrimSuffix(keys, "}") + `,"v":{"N":"` + fmt.Sprint(seq) + `"}}`
	}
	return c
}

// bucket is a lake of one table with two stream objects, an errors object
// that must never be read, another table's object, and one line that is
// not a line of the record format.
func bucket(t *testing.T) *opsfake.Bucket {
	t.Helper()
	b := opsfake.NewBucket("lake")
	put := func(key string, changes ...foldtest.Change) {
		lines, err := foldtest.StreamLines(record.Plain, changes...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(key, "bad") {
			lines = append(lines, []byte(`{"keys":{"pk":"x"}}`))
		}
		b.Put(key, foldtest.Gzip(lines))
	}
	put("cdc/table=Orders/dt=2026-01-01/hour=00/s-1-2.jsonl.gz", change("INSERT", "a", 1, created), change("INSERT", "b", 2, created))
	put("cdc/table=Orders/dt=2026-01-01/hour=01/s-3-4-bad.jsonl.gz", change("MODIFY", "a", 3, created.Add(time.Hour)), change("REMOVE", "b", 4, created.Add(time.Hour)))
	put("cdc/_errors/table=Orders/dt=2026-01-01/hour=00/s-5-5.jsonl.gz", change("INSERT", "z", 5, created))
	put("cdc/table=Orders2/dt=2026-01-01/hour=00/s-6-6.jsonl.gz", change("INSERT", "y", 6, created))
	b.Put("cdc/table=Orders/dt=2026-01-01/hour=00/notes.txt", []byte("not an object of the lake"))
	return b
}

func TestObjectsAreTheTablesDataObjectsInOrder(t *testing.T) {
	b := bucket(t)
	listed := 0
	objects, err := lake.Table{List: b, Get: b, Bucket: "lake", Prefix: "cdc", Name: "Orders"}.Objects(context.Background(), func() { listed++ })
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objects {
		keys = append(keys, o.Key)
	}
	expect := []string{"cdc/table=Orders/dt=2026-01-01/hour=00/s-1-2.jsonl.gz", "cdc/table=Orders/dt=2026-01-01/hour=01/s-3-4-bad.jsonl.gz"}
	if fmt.Sprint(keys) != fmt.Sprint(expect) || listed != 2 {
		t.Errorf("objects: got %v (listed %d), expect %v", keys, listed, expect)
	}
}

func TestFoldAppliesTheRuleAndCountsMalformedLines(t *testing.T) {
	b := bucket(t)
	got := map[string]string{}
	var mu sync.Mutex
	st, err := lake.Table{List: b, Get: b, Bucket: "lake", Prefix: "cdc", Name: "Orders", Readers: 2}.Fold(context.Background(), t.TempDir(), 0,
		func(s fold.State) error {
			mu.Lock()
			defer mu.Unlock()
			got[s.Keys] = s.Status.String() + " " + string(s.Image)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	expect := map[string]string{
		`{"pk":"a","sk":1}`: `present {"pk":"a","sk":1,"v":3}`,
		`{"pk":"b","sk":1}`: "absent ",
	}
	if fmt.Sprint(got) != fmt.Sprint(expect) {
		t.Errorf("states:\n got %v\nwant %v", got, expect)
	}
	if st.Objects != 2 || st.Lines != 5 || st.Malformed != 1 || st.Items != 2 {
		t.Errorf("stats: got %+v, expect 2 objects, 5 lines, 1 malformed, 2 items", st)
	}
}

// failingGet fails to read one object.
type failingGet struct {
	*opsfake.Bucket
	key string
}

func (f failingGet) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if *in.Key == f.key {
		return nil, errors.New("connection reset")
	}
	return f.Bucket.GetObject(ctx, in, opts...)
}

func TestAnObjectThatCannotBeReadStopsTheRead(t *testing.T) {
	b := bucket(t)
	key := "cdc/table=Orders/dt=2026-01-01/hour=01/s-3-4-bad.jsonl.gz"
	tb := lake.Table{List: b, Get: failingGet{b, key}, Bucket: "lake", Prefix: "cdc", Name: "Orders"}
	_, err := tb.Fold(context.Background(), t.TempDir(), 0, func(fold.State) error { return nil })
	if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("error: got %v, expect one naming %s", err, key)
	}
}

func TestAHandlerErrorStopsTheRead(t *testing.T) {
	b := bucket(t)
	stop := errors.New("stop")
	tb := lake.Table{List: b, Get: b, Bucket: "lake", Prefix: "cdc", Name: "Orders"}
	objects, err := tb.Objects(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Read(context.Background(), objects, lake.Handler{Line: func(fold.Line) error { return stop }}); !errors.Is(err, stop) {
		t.Errorf("error: got %v, expect %v", err, stop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tb.Read(ctx, objects, lake.Handler{Line: func(fold.Line) error { return nil }}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: got %v, expect %v", err, context.Canceled)
	}
}
