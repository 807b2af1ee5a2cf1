package record

import (
	"strconv"
	"time"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// EventRemove is the eventName of a line that deletes its item: a stream
// REMOVE, or a delete line of a table export (AppendSnapshotDelete).
const EventRemove = "REMOVE"

// SnapshotDeletes stands for the data file in the eventIDs of an export's
// delete lines ("<export ID>/deletes:<n>") and in the name of the object
// holding them. Export data files are named by DynamoDB with 26 or so
// lowercase letters and digits, so no data file has this name.
const SnapshotDeletes = "deletes"

// AppendSnapshotDelete appends to dst the line that deletes an item a
// table export does not hold: eventName REMOVE, the item's keys field
// (keys, exactly as the lake's lines carry it, so that the item is the
// same), the export time as approximateCreationDateTime and the snapshot's
// order key, so that it ranks exactly where the export's rows rank: above
// every line of the item written before the export's margin, below every
// stream record from the margin on. It has no image, sequence number,
// size or stream view type, and ttlDelete is false. n numbers the line
// within the export's delete lines, from 1, for its eventID
// "<export ID>/deletes:<n>". s.DataFile is not used.
//
// The backfill writes these lines after an export is wholly converted,
// for the items whose newest lake line ranks below the snapshot and which
// the export does not hold: an export holds only the items that exist at
// its time, so without them an item whose REMOVE the lake lost would stay
// present in every consumer.
func AppendSnapshotDelete(dst []byte, s *Snapshot, keys []byte, n int) []byte {
	dst = append(dst, `{"`+FieldEventID+`":"`...)
	dst = appendEscaped(dst, s.ExportID)
	dst = append(dst, "/"+SnapshotDeletes+":"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, `","`+FieldEventName+`":"`+EventRemove+`","`+FieldTable+`":"`...)
	dst = appendEscaped(dst, s.Table)
	dst = append(dst, `","`+FieldKeys+`":`...)
	dst = append(dst, keys...)
	dst = append(dst, `,"`+FieldApproximateCreationDateTime+`":"`...)
	dst = s.ExportTime.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","`+FieldOrderKey+`":"`...)
	dst = append(dst, orderkey.Snapshot(s.ExportTime)...)
	dst = append(dst, `","`+FieldTTLDelete+`":false}`...)
	return dst
}
