// Package foldtest makes the pipeline's lines with the pipeline's own
// converter (internal/record), for the tests and benchmarks of the fold
// and of reconcile: a line made here is byte for byte what the streamer
// or the export conversion would write, so the fold is tested against the
// format, not against a copy of it.
package foldtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/record"
)

// Change is one stream record to make a line of. Images and keys are
// DynamoDB JSON attribute maps, as a stream record carries them.
type Change struct {
	// Event is INSERT, MODIFY or REMOVE.
	Event string
	// Keys is the record's Keys, such as {"pk":{"S":"a"}}.
	Keys string
	// New and Old are the images; empty for none.
	New, Old string
	// Seq is the sequence number (1 to 40 digits).
	Seq string
	// Created is the ApproximateCreationDateTime (whole seconds).
	Created time.Time
	// ViewType is the StreamViewType; NEW_AND_OLD_IMAGES when empty.
	ViewType string
}

// Table is the table name lines made here carry.
const Table = "Orders"

// Keys is the key schema of the items made here.
var Keys = record.KeySchema{PartitionKey: "pk", SortKey: "sk"}

// StreamLines converts changes into lines, as the streamer does, in the
// given image format.
func StreamLines(format record.ImageFormat, changes ...Change) ([][]byte, error) {
	var ev strings.Builder
	ev.WriteString(`{"Records":[`)
	for i, c := range changes {
		if i > 0 {
			ev.WriteByte(',')
		}
		vt := c.ViewType
		if vt == "" {
			vt = "NEW_AND_OLD_IMAGES"
		}
		fmt.Fprintf(&ev, `{"eventID":"%032d","eventName":%q,"eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1",`, i, c.Event)
		fmt.Fprintf(&ev, `"dynamodb":{"ApproximateCreationDateTime":%d,"Keys":%s,`, c.Created.Unix(), c.Keys)
		if c.New != "" {
			fmt.Fprintf(&ev, `"NewImage":%s,`, c.New)
		}
		if c.Old != "" {
			fmt.Fprintf(&ev, `"OldImage":%s,`, c.Old)
		}
		fmt.Fprintf(&ev, `"SequenceNumber":%q,"SizeBytes":%d,"StreamViewType":%q},`, c.Seq, len(c.New)+len(c.Old), vt)
		fmt.Fprintf(&ev, `"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/%s/stream/2026-11-01T00:00:00.000"}`, Table)
	}
	ev.WriteString(`]}`)
	var lines [][]byte
	conv := record.NewConverter(record.WithImageFormat(format))
	_, err := conv.ConvertEvent([]byte(ev.String()), func(r *record.Record) error {
		if r.Err != nil {
			return fmt.Errorf("record %d: %w", r.Index, r.Err)
		}
		lines = append(lines, bytes.Clone(r.Line))
		return nil
	})
	return lines, err
}

// SnapshotLines converts items (DynamoDB JSON attribute maps) into the
// snapshot lines of an export taken at exportTime, as the export
// conversion does.
func SnapshotLines(format record.ImageFormat, exportTime time.Time, items ...string) ([][]byte, error) {
	s := &record.Snapshot{Table: Table, Keys: Keys, ExportTime: exportTime, ExportID: "01234567890123-a1b2c3d4", DataFile: "data.json.gz"}
	conv := record.NewConverter(record.WithImageFormat(format))
	var lines [][]byte
	for i, item := range items {
		line, err := conv.ConvertItem([]byte(`{"Item":`+item+`}`), s, i+1)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		lines = append(lines, bytes.Clone(line))
	}
	return lines, nil
}

// Gzip returns lines as one gzip JSON Lines object, as the streamer
// writes it.
func Gzip(lines [][]byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for _, l := range lines {
		zw.Write(l)
		zw.Write([]byte{'\n'})
	}
	zw.Close()
	return b.Bytes()
}

// Seq formats n as a sequence number of the given number of digits (21 to
// 40, as DynamoDB's), so that tests can cross digit counts as a shard
// split does.
func Seq(digits int, n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) >= digits {
		return s
	}
	return "1" + strings.Repeat("0", digits-len(s)-1) + s
}
