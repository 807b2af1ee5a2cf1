package exportgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/record"
)

func TestWrite(t *testing.T) {
	var a, b bytes.Buffer
	items, n, err := Write(&a, Options{Bytes: 1 << 20, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Write(&b, Options{Bytes: 1 << 20, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same options gave different bytes")
	}
	if n != int64(a.Len()) || n < 1<<20 || n > 1<<20+4*DefaultItemBytes {
		t.Errorf("bytes: got %d (buffer %d), expect just over %d", n, a.Len(), 1<<20)
	}
	if avg := n / items; avg < DefaultItemBytes*3/4 || avg > DefaultItemBytes*5/4 {
		t.Errorf("average line: got %d bytes, expect about %d", avg, DefaultItemBytes)
	}
	c := record.NewConverter()
	snap := &record.Snapshot{Table: "Orders", Keys: record.KeySchema{PartitionKey: PartitionKey, SortKey: SortKey},
		ExportTime: time.Unix(1795449600, 0), ExportID: "1-a", DataFile: "f.json.gz"}
	sc := bufio.NewScanner(&a)
	sc.Buffer(nil, 1<<20)
	lines := int64(0)
	for sc.Scan() {
		lines++
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not JSON: %s", lines, sc.Bytes())
		}
		if _, err := c.ConvertItem(sc.Bytes(), snap, int(lines)); err != nil {
			t.Fatalf("line %d does not convert: %v\n%s", lines, err, sc.Bytes())
		}
	}
	if lines != items {
		t.Errorf("lines: got %d, expect %d", lines, items)
	}
	var c3 bytes.Buffer
	if items, _, err := Write(&c3, Options{Items: 3, Seed: 1}); err != nil || items != 3 || bytes.Count(c3.Bytes(), []byte("\n")) != 3 {
		t.Errorf("Items: got %d items, %v", items, err)
	}
}
