package record

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// ImageFormat selects how item images and keys are written.
type ImageFormat int

const (
	// Plain writes images as ordinary JSON: N as exact number text, B as a
	// base64 string, sets as arrays, NULL as null.
	Plain ImageFormat = iota
	// DynamoDB keeps the typed DynamoDB JSON ({"S": "x"}), compacted and
	// validated, for consumers that need to tell sets from lists or binary
	// from strings.
	DynamoDB
)

// ParseImageFormat parses "plain" or "dynamodb".
func ParseImageFormat(s string) (ImageFormat, error) {
	switch s {
	case "plain":
		return Plain, nil
	case "dynamodb":
		return DynamoDB, nil
	}
	return 0, fmt.Errorf("unknown image format %q (want plain or dynamodb)", s)
}

func (f ImageFormat) String() string {
	if f == DynamoDB {
		return "dynamodb"
	}
	return "plain"
}

// ConversionError explains why one record could not be converted.
type ConversionError struct {
	// Path locates the offending value, such as "dynamodb.NewImage.price".
	Path   string
	Reason string
}

func (e *ConversionError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

func convErr(format string, args ...any) *ConversionError {
	return &ConversionError{Reason: fmt.Sprintf(format, args...)}
}

// within prefixes the error's path with name, building paths only on the
// error path so that successful conversion allocates nothing.
func within(err error, name string) error {
	ce, ok := err.(*ConversionError)
	if !ok {
		return err
	}
	switch {
	case ce.Path == "":
		ce.Path = name
	case ce.Path[0] == '[':
		ce.Path = name + ce.Path
	default:
		ce.Path = name + "." + ce.Path
	}
	return ce
}

// Record is one stream record as seen by the converter. Its byte slices
// alias the payload or the converter's buffers and are valid only until the
// callback returns.
type Record struct {
	// Index is the record's position in the event's Records array.
	Index int
	// Raw is the record's JSON exactly as received.
	Raw []byte
	// Line is the converted JSON line without a trailing newline; nil when
	// Err is set.
	Line []byte
	// Err says why the record could not be converted.
	Err *ConversionError
	// SequenceNumber is the record's dynamodb.SequenceNumber, nil when it is
	// missing or not a string of digits.
	SequenceNumber []byte
	// Table and StreamLabel come from eventSourceARN; nil when it is missing
	// or malformed.
	Table, StreamLabel []byte
	// Created is dynamodb.ApproximateCreationDateTime; zero when missing.
	Created time.Time
}

// Converter turns Lambda DynamoDB Streams events into JSON lines. It keeps
// scratch buffers between calls, so reuse one per goroutine.
type Converter struct {
	format                 ImageFormat
	keys, newImage, oldImg []byte
	line                   []byte
	rec                    Record
	f                      envelope
}

// Option configures a Converter.
type Option func(*Converter)

// WithImageFormat sets how images are written; the default is Plain.
func WithImageFormat(f ImageFormat) Option { return func(c *Converter) { c.format = f } }

// NewConverter returns a Converter.
func NewConverter(opts ...Option) *Converter {
	c := &Converter{}
	for _, o := range opts {
		o(c)
	}
	return c
}

// envelope holds the raw pieces of one record found while walking it.
type envelope struct {
	eventID   []byte // whole string token, quotes included
	eventName []byte
	arn       []byte
	seq       []byte
	size      []byte
	created   []byte
	viewType  []byte // whole string token
	uiType    []byte
	uiPrinc   []byte
	hasKeys   bool
	hasNew    bool
	hasOld    bool
	err       *ConversionError
}

// ConvertEvent walks a Lambda DynamoDB Streams event payload and calls fn for
// every record, in order, validating the whole payload as it goes. It
// returns the number of records seen. A payload that is not valid JSON, or
// has no Records array, returns a *SyntaxError, possibly after fn has seen
// the records before the fault: a caller must treat the batch as a whole
// and discard what it gathered. fn's own error stops the walk and is
// returned as is.
func (c *Converter) ConvertEvent(payload []byte, fn func(*Record) error) (int, error) {
	i := skipWS(payload, 0)
	if i >= len(payload) || payload[i] != '{' {
		return 0, syntaxErr(i, "event must be a JSON object")
	}
	n := 0
	found := false
	end, err := members(payload, i, 0, func(key []byte, v int) (int, error) {
		if string(key) != "Records" {
			return skipValue(payload, v, 1)
		}
		if payload[v] != '[' {
			return 0, syntaxErr(v, "Records must be an array")
		}
		found = true
		return elements(payload, v, 1, func(r int) (int, error) {
			end, err := c.record(payload, r)
			if err != nil {
				return 0, err
			}
			c.rec.Index = n
			c.rec.Raw = payload[r:end]
			n++
			if err := fn(&c.rec); err != nil {
				return 0, &callbackError{err}
			}
			return end, nil
		})
	})
	if ce, ok := err.(*callbackError); ok {
		return n, ce.err
	}
	if err != nil {
		return n, err
	}
	if j := skipWS(payload, end); j != len(payload) {
		return n, syntaxErr(j, "data after the event object")
	}
	if !found {
		return 0, syntaxErr(i, "event has no Records array")
	}
	return n, nil
}

// callbackError carries the caller's own error out of the walk untouched.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// elements iterates the array starting at b[i] == '['.
func elements(b []byte, i, depth int, fn func(v int) (int, error)) (int, error) {
	if depth >= maxDepth {
		return 0, syntaxErr(i, "nesting deeper than %d levels", maxDepth)
	}
	var err error
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		if i, err = fn(i); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, syntaxErr(i, "expected ',' or ']'")
		}
	}
}

// record walks one record, filling c.rec, and returns its end.
func (c *Converter) record(b []byte, i int) (int, error) {
	c.f = envelope{}
	c.rec = Record{}
	f := &c.f
	if b[i] != '{' {
		end, err := skipValue(b, i, 2)
		c.rec.Err = convErr("record must be a JSON object")
		return end, err
	}
	end, err := members(b, i, 2, func(key []byte, v int) (int, error) {
		switch string(key) {
		case "eventID":
			return c.stringField(b, v, "eventID", &f.eventID, true)
		case "eventName":
			return c.stringField(b, v, "eventName", &f.eventName, false)
		case "eventSourceARN":
			return c.stringField(b, v, "eventSourceARN", &f.arn, false)
		case "userIdentity":
			if b[v] != '{' {
				return skipValue(b, v, 3)
			}
			return members(b, v, 3, func(key []byte, v int) (int, error) {
				switch string(key) {
				case "type":
					return c.stringField(b, v, "userIdentity.type", &f.uiType, false)
				case "principalId":
					return c.stringField(b, v, "userIdentity.principalId", &f.uiPrinc, false)
				}
				return skipValue(b, v, 4)
			})
		case "dynamodb":
			if b[v] != '{' {
				c.fail(convErr("dynamodb must be an object"))
				return skipValue(b, v, 3)
			}
			return members(b, v, 3, c.streamRecordMember(b))
		}
		return skipValue(b, v, 3)
	})
	if err != nil {
		return 0, err
	}
	c.finish()
	return end, nil
}

func (c *Converter) streamRecordMember(b []byte) func(key []byte, v int) (int, error) {
	f := &c.f
	return func(key []byte, v int) (int, error) {
		switch string(key) {
		case "Keys":
			f.hasKeys = true
			return c.imageField(b, v, "dynamodb.Keys", &c.keys)
		case "NewImage":
			f.hasNew = true
			return c.imageField(b, v, "dynamodb.NewImage", &c.newImage)
		case "OldImage":
			f.hasOld = true
			return c.imageField(b, v, "dynamodb.OldImage", &c.oldImg)
		case "SequenceNumber":
			return c.stringField(b, v, "dynamodb.SequenceNumber", &f.seq, false)
		case "StreamViewType":
			return c.stringField(b, v, "dynamodb.StreamViewType", &f.viewType, true)
		case "SizeBytes":
			return c.numberField(b, v, "dynamodb.SizeBytes", &f.size)
		case "ApproximateCreationDateTime":
			return c.numberField(b, v, "dynamodb.ApproximateCreationDateTime", &f.created)
		}
		return skipValue(b, v, 4)
	}
}

// fail records the first conversion error of the record.
func (c *Converter) fail(err *ConversionError) {
	if c.f.err == nil {
		c.f.err = err
	}
}

// stringField stores a string value: the whole token when whole is set,
// otherwise its content, which must be free of escapes so that it can be
// compared and copied as is.
func (c *Converter) stringField(b []byte, v int, name string, dst *[]byte, whole bool) (int, error) {
	if b[v] != '"' {
		c.fail(&ConversionError{Path: name, Reason: "must be a string"})
		return skipValue(b, v, 4)
	}
	end, err := scanString(b, v)
	if err != nil {
		return 0, err
	}
	if whole {
		*dst = b[v:end]
		return end, nil
	}
	s := b[v+1 : end-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		c.fail(&ConversionError{Path: name, Reason: "must not contain escape sequences"})
		return end, nil
	}
	*dst = s
	return end, nil
}

func (c *Converter) numberField(b []byte, v int, name string, dst *[]byte) (int, error) {
	c0 := b[v]
	if c0 != '-' && !isDigit(c0) {
		c.fail(&ConversionError{Path: name, Reason: "must be a number"})
		return skipValue(b, v, 4)
	}
	end, err := scanNumber(b, v)
	if err != nil {
		return 0, err
	}
	*dst = b[v:end]
	return end, nil
}

// imageField converts an attribute map into *dst. On a conversion error it
// still finds the end of the value so the walk can go on.
func (c *Converter) imageField(b []byte, v int, name string, dst *[]byte) (int, error) {
	out, end, err := c.attrMap(b, v, 4, (*dst)[:0])
	*dst = out
	if err == nil {
		return end, nil
	}
	ce, ok := err.(*ConversionError)
	if !ok {
		return 0, err
	}
	c.fail(within(ce, name).(*ConversionError))
	return skipValue(b, v, 4)
}

// attrMap converts an object of attribute name to attribute value.
func (c *Converter) attrMap(b []byte, i, depth int, dst []byte) ([]byte, int, error) {
	if b[i] != '{' {
		return dst, 0, convErr("must be an object of attribute values")
	}
	dst = append(dst, '{')
	first := true
	end, err := members(b, i, depth, func(key []byte, v int) (int, error) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		var end int
		var err error
		dst, end, err = c.attr(b, v, depth+1, dst)
		if err != nil {
			return 0, within(err, string(key))
		}
		return end, nil
	})
	if err != nil {
		return dst, 0, err
	}
	return append(dst, '}'), end, nil
}

// attr converts one attribute value, {"<type>": value}.
func (c *Converter) attr(b []byte, i, depth int, dst []byte) ([]byte, int, error) {
	if b[i] != '{' {
		return dst, 0, convErr(`attribute value must be an object such as {"S": "text"}`)
	}
	j := skipWS(b, i+1)
	if j >= len(b) {
		return dst, 0, syntaxErr(j, "unexpected end of input")
	}
	if b[j] == '}' {
		return dst, 0, convErr("attribute value has no type")
	}
	if b[j] != '"' {
		return dst, 0, syntaxErr(j, "expected object key")
	}
	ke, err := scanString(b, j)
	if err != nil {
		return dst, 0, err
	}
	typ := b[j+1 : ke-1]
	if j, err = expect(b, ke, ':'); err != nil {
		return dst, 0, err
	}
	typed := c.format == DynamoDB
	if typed {
		dst = append(dst, '{', '"')
		dst = append(dst, typ...)
		dst = append(dst, '"', ':')
	}
	switch string(typ) {
	case "S", "B":
		if b[j] != '"' {
			return dst, 0, convErr("%s value must be a string", typ)
		}
		e, err := scanString(b, j)
		if err != nil {
			return dst, 0, err
		}
		dst = append(dst, b[j:e]...)
		j = e
	case "N":
		dst, j, err = c.number(b, j, dst, typed)
	case "BOOL":
		e := 0
		switch b[j] {
		case 't':
			e, err = scanLiteral(b, j, "true")
		case 'f':
			e, err = scanLiteral(b, j, "false")
		default:
			return dst, 0, convErr("BOOL value must be true or false")
		}
		if err != nil {
			return dst, 0, err
		}
		dst = append(dst, b[j:e]...)
		j = e
	case "NULL":
		if b[j] != 't' {
			return dst, 0, convErr("NULL value must be true")
		}
		if j, err = scanLiteral(b, j, "true"); err != nil {
			return dst, 0, err
		}
		if typed {
			dst = append(dst, "true"...)
		} else {
			dst = append(dst, "null"...)
		}
	case "M":
		dst, j, err = c.attrMap(b, j, depth+1, dst)
		if err != nil {
			return dst, 0, err
		}
	case "L":
		dst, j, err = c.list(b, j, depth+1, dst, "L", func(dst []byte, v int) ([]byte, int, error) {
			return c.attr(b, v, depth+2, dst)
		})
	case "SS", "BS":
		// A constant name, not string(typ): the conversion would allocate.
		name := "SS"
		if typ[0] == 'B' {
			name = "BS"
		}
		dst, j, err = c.list(b, j, depth+1, dst, name, func(dst []byte, v int) ([]byte, int, error) {
			if b[v] != '"' {
				return dst, 0, convErr("set element must be a string")
			}
			e, err := scanString(b, v)
			if err != nil {
				return dst, 0, err
			}
			return append(dst, b[v:e]...), e, nil
		})
	case "NS":
		dst, j, err = c.list(b, j, depth+1, dst, "NS", func(dst []byte, v int) ([]byte, int, error) {
			return c.number(b, v, dst, typed)
		})
	default:
		return dst, 0, convErr("unknown attribute type %q", typ)
	}
	if err != nil {
		return dst, 0, err
	}
	j = skipWS(b, j)
	if j < len(b) && b[j] == ',' {
		return dst, 0, convErr("attribute value has more than one type")
	}
	if j >= len(b) || b[j] != '}' {
		return dst, 0, syntaxErr(j, "expected '}'")
	}
	if typed {
		dst = append(dst, '}')
	}
	return dst, j + 1, nil
}

// list converts a JSON array whose elements each go through elem.
func (c *Converter) list(b []byte, i, depth int, dst []byte, typ string,
	elem func(dst []byte, v int) ([]byte, int, error)) ([]byte, int, error) {
	if b[i] != '[' {
		return dst, 0, convErr("%s value must be an array", typ)
	}
	dst = append(dst, '[')
	n := 0
	end, err := elements(b, i, depth, func(v int) (int, error) {
		if n > 0 {
			dst = append(dst, ',')
		}
		var end int
		var err error
		dst, end, err = elem(dst, v)
		if err != nil {
			return 0, within(err, "["+strconv.Itoa(n)+"]")
		}
		n++
		return end, nil
	})
	if err != nil {
		return dst, 0, err
	}
	return append(dst, ']'), end, nil
}

// number copies a DynamoDB number, which arrives as a JSON string, as the
// exact JSON number text (or, typed, as the original string token).
func (c *Converter) number(b []byte, i int, dst []byte, typed bool) ([]byte, int, error) {
	if b[i] != '"' {
		return dst, 0, convErr("N value must be a string of digits")
	}
	e, err := scanString(b, i)
	if err != nil {
		return dst, 0, err
	}
	n := b[i+1 : e-1]
	if !validNumber(n) {
		return dst, 0, convErr("N value %q is not a number", n)
	}
	if typed {
		return append(dst, b[i:e]...), e, nil
	}
	return append(dst, n...), e, nil
}

// finish checks the envelope and assembles the line.
func (c *Converter) finish() {
	f := &c.f
	r := &c.rec
	if isDigits(f.seq) {
		r.SequenceNumber = f.seq
	} else if f.seq != nil {
		c.fail(&ConversionError{Path: "dynamodb.SequenceNumber", Reason: fmt.Sprintf("%q is not a sequence number", f.seq)})
	}
	if f.arn != nil {
		var ok bool
		if r.Table, r.StreamLabel, ok = parseStreamARN(f.arn); !ok {
			c.fail(&ConversionError{Path: "eventSourceARN", Reason: fmt.Sprintf("%q is not a DynamoDB stream ARN", f.arn)})
		}
	}
	if f.created != nil {
		t, ok := parseEpochSeconds(f.created)
		if !ok {
			c.fail(&ConversionError{Path: "dynamodb.ApproximateCreationDateTime", Reason: fmt.Sprintf("%s is not epoch seconds", f.created)})
		}
		r.Created = t
	}
	if f.size != nil && !isDigits(f.size) {
		c.fail(&ConversionError{Path: "dynamodb.SizeBytes", Reason: fmt.Sprintf("%s is not a whole number", f.size)})
	}
	switch string(f.eventName) {
	case "INSERT", "MODIFY", "REMOVE":
	default:
		if f.eventName != nil {
			c.fail(&ConversionError{Path: "eventName", Reason: fmt.Sprintf("%q is not INSERT, MODIFY or REMOVE", f.eventName)})
		}
	}
	for _, req := range [...]struct {
		ok   bool
		name string
	}{
		{f.eventID != nil, "eventID"},
		{f.eventName != nil, "eventName"},
		{f.arn != nil, "eventSourceARN"},
		{f.seq != nil, "dynamodb.SequenceNumber"},
		{f.created != nil, "dynamodb.ApproximateCreationDateTime"},
		{f.hasKeys, "dynamodb.Keys"},
	} {
		if !req.ok {
			c.fail(&ConversionError{Path: req.name, Reason: "is missing"})
		}
	}
	if f.err != nil {
		r.Err = f.err
		return
	}
	d := c.line[:0]
	d = append(d, `{"eventID":`...)
	d = append(d, f.eventID...)
	d = append(d, `,"eventName":"`...)
	d = append(d, f.eventName...)
	d = append(d, `","table":"`...)
	d = append(d, r.Table...)
	d = append(d, `","keys":`...)
	d = append(d, c.keys...)
	if f.hasNew {
		d = append(d, `,"newImage":`...)
		d = append(d, c.newImage...)
	}
	if f.hasOld {
		d = append(d, `,"oldImage":`...)
		d = append(d, c.oldImg...)
	}
	d = append(d, `,"sequenceNumber":"`...)
	d = append(d, f.seq...)
	d = append(d, `","approximateCreationDateTime":"`...)
	d = r.Created.UTC().AppendFormat(d, time.RFC3339Nano)
	d = append(d, '"')
	if f.size != nil {
		d = append(d, `,"sizeBytes":`...)
		d = append(d, f.size...)
	}
	if f.viewType != nil {
		d = append(d, `,"streamViewType":`...)
		d = append(d, f.viewType...)
	}
	d = append(d, `,"ttlDelete":`...)
	d = strconv.AppendBool(d, string(f.eventName) == "REMOVE" &&
		string(f.uiType) == "Service" && string(f.uiPrinc) == "dynamodb.amazonaws.com")
	d = append(d, '}')
	c.line = d
	r.Line = d
}

func isDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// parseStreamARN splits
// arn:<partition>:dynamodb:<region>:<account>:table/<name>/stream/<label>.
func parseStreamARN(arn []byte) (table, label []byte, ok bool) {
	rest := arn
	for n := 0; n < 5; n++ {
		k := bytes.IndexByte(rest, ':')
		if k < 0 {
			return nil, nil, false
		}
		if n == 0 && string(rest[:k]) != "arn" || n == 2 && string(rest[:k]) != "dynamodb" {
			return nil, nil, false
		}
		rest = rest[k+1:]
	}
	const tp, sp = "table/", "/stream/"
	if !bytes.HasPrefix(rest, []byte(tp)) {
		return nil, nil, false
	}
	rest = rest[len(tp):]
	k := bytes.Index(rest, []byte(sp))
	if k < 0 {
		return nil, nil, false
	}
	table, label = rest[:k], rest[k+len(sp):]
	if !ValidTableName(table) || len(label) == 0 || bytes.IndexByte(label, '/') >= 0 {
		return nil, nil, false
	}
	return table, label, true
}

// ValidTableName reports whether name uses only the characters DynamoDB
// allows in table names, which also makes it safe in S3 keys unescaped.
func ValidTableName(name []byte) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// parseEpochSeconds parses epoch seconds with an optional fraction without
// going through float64 (which would round sub-microsecond digits) in the
// common case.
func parseEpochSeconds(n []byte) (time.Time, bool) {
	if bytes.IndexAny(n, "eE-") >= 0 {
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f < 0 || f > 1e11 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9+0.5)).UTC(), true
	}
	intPart, frac, _ := bytes.Cut(n, []byte{'.'})
	if len(intPart) == 0 || len(intPart) > 11 {
		return time.Time{}, false
	}
	var sec, nsec int64
	for _, c := range intPart {
		sec = sec*10 + int64(c-'0')
	}
	scale := int64(1e8)
	for _, c := range frac {
		if scale == 0 {
			break
		}
		nsec += int64(c-'0') * scale
		scale /= 10
	}
	return time.Unix(sec, nsec).UTC(), true
}
