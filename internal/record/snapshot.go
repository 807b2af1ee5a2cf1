package record

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// EventSnapshot is the eventName of a snapshot line: a row of a table
// export rather than a change from the stream. Its newImage is the item's
// whole state at the export time; a consumer that applies an item's lines
// in orderKey order takes it as the item's state until a later line.
const EventSnapshot = "SNAPSHOT"

// Snapshot describes the table export that items come from: what a
// snapshot line says beyond the item itself. One Snapshot serves every line
// of a data file.
type Snapshot struct {
	// Table is the exported table's name, the table field of every line.
	Table string
	// Keys is the table's key schema (DescribeTable): an export does not
	// say which attributes of an item are its key.
	Keys KeySchema
	// ExportTime is the manifest summary's exportTime: the point in time
	// the export reflects. It is the lines' approximateCreationDateTime
	// and makes their order key.
	ExportTime time.Time
	// ExportID (the last part of the export ARN, such as
	// "01234567890123-a1b2c3d4") and DataFile (the data file's name, such
	// as "4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz") name the line's source.
	// With the line number they make the line's eventID,
	// "<ExportID>/<DataFile>:<line>": unique in the lake, the same every
	// time the export is loaded again, and pointing back at the source.
	ExportID, DataFile string
}

// Validate checks the snapshot once, before its lines: ConvertItem checks
// it again, but a bad snapshot is the caller's mistake, not the line's.
func (s *Snapshot) Validate() error {
	if !validTableName(s.Table) {
		return fmt.Errorf("snapshot: table name %q is not a DynamoDB table name", s.Table)
	}
	if err := s.Keys.Validate(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if s.ExportTime.IsZero() || s.ExportTime.Unix() < 0 {
		return fmt.Errorf("snapshot: export time %v is not set", s.ExportTime)
	}
	if s.ExportID == "" || s.DataFile == "" || !utf8.ValidString(s.ExportID) || !utf8.ValidString(s.DataFile) {
		return fmt.Errorf("snapshot: export ID %q and data file %q must be non-empty UTF-8", s.ExportID, s.DataFile)
	}
	return nil
}

// notAnExportLine is the reason for a line that is not an export's item.
const notAnExportLine = `line must be a JSON object with an "Item"`

// ConvertItem converts one line of a table export's data file, in the
// DYNAMODB_JSON output format ({"Item":{"pk":{"S":"a"},...}}), into a
// snapshot line: the stream line's envelope and image conversion, with
// eventName EventSnapshot, keys taken from the item by s.Keys, newImage the
// whole item, approximateCreationDateTime the export time, and the order
// key of a snapshot row (orderkey.Snapshot), so that a later stream record
// of the item outranks it. There is no oldImage, sequenceNumber, sizeBytes
// or streamViewType; ttlDelete is false. line is the line's number in the
// data file, counting from 1, and goes into the eventID.
//
// The returned line aliases the converter's buffer, valid until its next
// call; after the first lines have grown the buffers, conversion allocates
// nothing. Empty lines are the caller's to skip: a data file ends with a
// newline and an empty partition's file is empty, and neither is an item.
//
// A line that is not JSON is a *SyntaxError; a line that is JSON but not an
// item DynamoDB could hold (no "Item", a key attribute missing or not S, N
// or B, an unknown attribute type, a number out of DynamoDB's range, values
// nested deeper than the walk recurses) is a *ConversionError whose Path
// locates the problem,
// such as "Item.price". Either way the line belongs in _errors/, as a
// stream record that cannot be converted does. Any other error is the
// snapshot's (see Validate) and concerns every line.
func (c *Converter) ConvertItem(item []byte, s *Snapshot, line int) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("snapshot: none given")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if line < 1 {
		return nil, fmt.Errorf("snapshot: line number %d: want 1 or more", line)
	}
	i := skipWS(item, 0)
	if i >= len(item) {
		return nil, syntaxErr(i, "unexpected end of input")
	}
	if item[i] != '{' {
		end, err := skipValue(item, i)
		if err != nil {
			return nil, err
		}
		if j := skipWS(item, end); j != len(item) {
			return nil, syntaxErr(j, "data after the line's value")
		}
		return nil, &ConversionError{Reason: notAnExportLine}
	}
	found := false
	end, err := members(item, i, 0, func(key []byte, esc bool, v int) (int, error) {
		if string(c.name(key, esc)) != "Item" {
			// An incremental export's line (Keys, NewImage, Metadata)
			// lands here and fails for want of an Item.
			return skipValue(item, v)
		}
		if found {
			return 0, &ConversionError{Path: "Item", Reason: "appears twice"}
		}
		found = true
		end, err := c.item(item, v, &s.Keys)
		if err != nil {
			return 0, within(err, "Item")
		}
		return end, nil
	})
	if err != nil {
		return nil, err
	}
	if j := skipWS(item, end); j != len(item) {
		return nil, syntaxErr(j, "data after the line's object")
	}
	if !found {
		return nil, &ConversionError{Reason: notAnExportLine}
	}
	return c.appendSnapshotLine(s, line), nil
}

// item converts an export's Item at b[i] into c.newImage and its keys into
// c.keys, in one walk.
func (c *Converter) item(b []byte, i int, ks *KeySchema) (int, error) {
	dst := append(c.newImage[:0], '{')
	first := true
	end, err := c.itemKeys(b, i, 1, ks, func(key []byte, esc bool, v int) (int, error) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var end int
		var err error
		if dst, err = c.appendName(dst, key, esc); err != nil {
			return 0, within(err, string(key))
		}
		if dst, end, err = c.attr(b, v, 2, dst); err != nil {
			return 0, within(err, string(key))
		}
		return end, nil
	})
	c.newImage = append(dst, '}')
	return end, err
}

// AppendImage appends item, a DynamoDB JSON attribute map such as a Scan
// result marshalled to JSON, converted as a line's newImage is in the
// converter's image format, for a reconcile tool that compares the live
// table with the lake. The conversion is the lines' own, but its text
// follows the input: attribute order, set order and the escapes of string
// values are the source's (attribute names are canonical), so compare the
// result with a line's image as JSON values
// (decoding numbers as decimals), not as bytes. Keys, which are canonical,
// compare as bytes (AppendKeys). Errors are those of ConvertItem's Item.
func (c *Converter) AppendImage(dst, item []byte) ([]byte, error) {
	i := skipWS(item, 0)
	if i >= len(item) {
		return dst, syntaxErr(i, "unexpected end of input")
	}
	out, end, err := c.attrMap(item, i, 0, dst)
	if err != nil {
		return dst, err
	}
	if j := skipWS(item, end); j != len(item) {
		return dst, syntaxErr(j, "data after the item")
	}
	return out, nil
}
