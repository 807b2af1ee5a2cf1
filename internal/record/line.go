package record

import (
	"slices"
	"strconv"
	"time"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// The names of a line's fields: the record format's contract with whatever
// reads the lines (table schemas, SQL columns, Spark readers), defined once
// here so that code and tests refer to them instead of retyping them. They
// are listed in the order a line carries them; README.md's "Record format"
// table documents each one.
const (
	FieldEventID                     = "eventID"
	FieldEventName                   = "eventName"
	FieldTable                       = "table"
	FieldKeys                        = "keys"
	FieldNewImage                    = "newImage"
	FieldOldImage                    = "oldImage"
	FieldSequenceNumber              = "sequenceNumber"
	FieldApproximateCreationDateTime = "approximateCreationDateTime"
	FieldOrderKey                    = "orderKey"
	FieldSizeBytes                   = "sizeBytes"
	FieldStreamViewType              = "streamViewType"
	FieldTTLDelete                   = "ttlDelete"
)

// fields is the line's field order, the one table of it. appendLine and
// appendSnapshotLine write their fields in this order (TestLineFieldOrder
// holds the three together).
//
// orderKey follows the two fields it is made of, sequenceNumber and
// approximateCreationDateTime, and comes before the stream-only metadata,
// so that the fields every line has stay together and a snapshot line,
// which lacks sequenceNumber, reads as a stream line with that one gap.
var fields = [...]string{
	FieldEventID,
	FieldEventName,
	FieldTable,
	FieldKeys,
	FieldNewImage,
	FieldOldImage,
	FieldSequenceNumber,
	FieldApproximateCreationDateTime,
	FieldOrderKey,
	FieldSizeBytes,
	FieldStreamViewType,
	FieldTTLDelete,
}

// Fields returns the names of a line's fields in the order a line carries
// them, so that a consumer's schema (SQL column names, for one) can be
// checked against the format itself rather than against a copy of it.
// On a stream line newImage and oldImage appear only when the stream view
// type has them, and sizeBytes and streamViewType only when the stream
// record has them. A snapshot line (eventName EventSnapshot) always has
// newImage and never oldImage, sequenceNumber, sizeBytes or
// streamViewType. Every other field is in every line. The slice is the
// caller's own.
func Fields() []string { return slices.Clone(fields[:]) }

// appendLine assembles the line of the record the walk just checked into
// the converter's line buffer, field by field in the order of fields.
func (c *Converter) appendLine() {
	f := &c.f
	r := &c.rec
	d := c.line[:0]
	d = append(d, `{"`+FieldEventID+`":`...)
	d = append(d, f.eventID...)
	d = append(d, `,"`+FieldEventName+`":"`...)
	d = append(d, f.eventName...)
	d = append(d, `","`+FieldTable+`":"`...)
	d = append(d, r.Table...)
	d = append(d, `","`+FieldKeys+`":`...)
	d = append(d, c.keys...)
	if f.hasNew {
		d = append(d, `,"`+FieldNewImage+`":`...)
		d = append(d, c.newImage...)
	}
	if f.hasOld {
		d = append(d, `,"`+FieldOldImage+`":`...)
		d = append(d, c.oldImg...)
	}
	d = append(d, `,"`+FieldSequenceNumber+`":"`...)
	d = append(d, f.seq...)
	d = append(d, `","`+FieldApproximateCreationDateTime+`":"`...)
	d = r.Created.UTC().AppendFormat(d, time.RFC3339Nano)
	d = append(d, `","`+FieldOrderKey+`":"`...)
	d = orderkey.AppendStream(d, r.Created, f.seq)
	d = append(d, '"')
	if f.size != nil {
		d = append(d, `,"`+FieldSizeBytes+`":`...)
		d = append(d, f.size...)
	}
	if f.viewType != nil {
		d = append(d, `,"`+FieldStreamViewType+`":`...)
		d = append(d, f.viewType...)
	}
	d = append(d, `,"`+FieldTTLDelete+`":`...)
	d = strconv.AppendBool(d, f.ttlDelete())
	d = append(d, '}')
	c.line = d
	r.Line = d
}

// appendSnapshotLine assembles a snapshot line from the keys and image
// ConvertItem just converted, in the order of fields: the stream line's
// envelope without its stream-only fields.
func (c *Converter) appendSnapshotLine(s *Snapshot, line int) []byte {
	d := c.line[:0]
	d = append(d, `{"`+FieldEventID+`":"`...)
	d = appendEscaped(d, s.ExportID)
	d = append(d, '/')
	d = appendEscaped(d, s.DataFile)
	d = append(d, ':')
	d = strconv.AppendInt(d, int64(line), 10)
	d = append(d, `","`+FieldEventName+`":"`+EventSnapshot+`","`+FieldTable+`":"`...)
	d = append(d, s.Table...)
	d = append(d, `","`+FieldKeys+`":`...)
	d = append(d, c.keys...)
	d = append(d, `,"`+FieldNewImage+`":`...)
	d = append(d, c.newImage...)
	d = append(d, `,"`+FieldApproximateCreationDateTime+`":"`...)
	d = s.ExportTime.UTC().AppendFormat(d, time.RFC3339Nano)
	d = append(d, `","`+FieldOrderKey+`":"`...)
	d = append(d, c.snapshotKey(s.ExportTime)...)
	d = append(d, `","`+FieldTTLDelete+`":false}`...)
	c.line = d
	return d
}

// snapshotKey returns the order key of rows exported at t, computing it
// once per export time.
func (c *Converter) snapshotKey(t time.Time) string {
	if c.snapKey == "" || !c.snapTime.Equal(t) {
		c.snapTime, c.snapKey = t, orderkey.Snapshot(t)
	}
	return c.snapKey
}

// ttlDelete reports whether the record is a REMOVE made by DynamoDB's TTL
// service rather than by a client.
func (f *envelope) ttlDelete() bool {
	return string(f.eventName) == "REMOVE" &&
		string(f.uiType) == "Service" && string(f.uiPrinc) == "dynamodb.amazonaws.com"
}
