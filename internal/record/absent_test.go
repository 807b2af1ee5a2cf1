package record_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// A delete line is a line of the record format: its fields in the
// format's order, read by the fold as a REMOVE of the item at the
// snapshot's rank.
func TestSnapshotDeleteLine(t *testing.T) {
	exportTime := time.Unix(1_790_000_000, 0).UTC()
	s := record.Snapshot{Table: "Orders", ExportID: "01790000000000-a1b2c3d4", ExportTime: exportTime}
	keys := `{"pk":"a\"b","sk":7}`
	line := record.AppendSnapshotDelete([]byte("prefix:"), &s, []byte(keys), 3)[len("prefix:"):]
	want := `{"eventID":"01790000000000-a1b2c3d4/deletes:3","eventName":"REMOVE","table":"Orders","keys":{"pk":"a\"b","sk":7},` +
		`"approximateCreationDateTime":"2026-09-21T14:13:20Z","orderKey":"` + orderkey.Snapshot(exportTime) + `","ttlDelete":false}`
	if string(line) != want {
		t.Errorf("line:\n got %s\nwant %s", line, want)
	}
	// Its fields are the format's, in the format's order.
	dec := json.NewDecoder(bytes.NewReader(line))
	var order []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	fields := record.Fields()
	i := 0
	for _, name := range order {
		for i < len(fields) && fields[i] != name {
			i++
		}
		if i == len(fields) {
			t.Fatalf("field %q is not a field of the format, or out of order: %v", name, order)
		}
	}
	l, err := fold.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != fold.Remove || string(l.Keys) != keys || string(l.OrderKey) != orderkey.Snapshot(exportTime) {
		t.Errorf("fold reads kind %v, keys %s, order key %s", l.Kind, l.Keys, l.OrderKey)
	}
}
