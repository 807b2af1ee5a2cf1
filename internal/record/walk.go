package record

import "fmt"

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
	end, err := members(payload, i, 0, func(key []byte, esc bool, v int) (int, error) {
		if string(c.name(key, esc)) != "Records" {
			return skipValue(payload, v)
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

// envelope holds the raw pieces of one record found while walking it. They
// are checked only once the whole record has been seen (finish), because a
// record's members may come in any order.
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

// record walks one record, filling c.rec, and returns its end.
func (c *Converter) record(b []byte, i int) (int, error) {
	c.f = envelope{}
	c.rec = Record{}
	f := &c.f
	if b[i] != '{' {
		end, err := skipValue(b, i)
		c.rec.Err = convErr("record must be a JSON object")
		return end, err
	}
	// This callback and streamRecordMember's match a member's name as
	// written, the hot path, and resolve its escapes only when it holds
	// one and matched nothing (a name with an escape cannot equal, as
	// written, a name without one), then match its text.
	end, err := members(b, i, 2, func(key []byte, esc bool, v int) (int, error) {
		for ; ; key, esc = c.resolve(key), false {
			switch string(key) {
			case "eventID":
				return c.stringField(b, v, "eventID", &f.eventID, true)
			case "eventName":
				return c.stringField(b, v, "eventName", &f.eventName, false)
			case "eventSourceARN":
				return c.stringField(b, v, "eventSourceARN", &f.arn, false)
			case "userIdentity":
				if b[v] != '{' {
					return skipValue(b, v)
				}
				return members(b, v, 3, func(key []byte, esc bool, v int) (int, error) {
					switch string(c.name(key, esc)) {
					case "type":
						return c.stringField(b, v, "userIdentity.type", &f.uiType, false)
					case "principalId":
						return c.stringField(b, v, "userIdentity.principalId", &f.uiPrinc, false)
					}
					return skipValue(b, v)
				})
			case "dynamodb":
				if b[v] != '{' {
					c.fail(convErr("dynamodb must be an object"))
					return skipValue(b, v)
				}
				return members(b, v, 3, c.streamRecordMember(b))
			}
			if !esc {
				return skipValue(b, v)
			}
		}
	})
	if err != nil {
		return 0, err
	}
	c.finish()
	return end, nil
}

// streamRecordMember returns the members callback for the record's dynamodb
// object, the stream record proper: keys, images and their metadata.
func (c *Converter) streamRecordMember(b []byte) func(key []byte, esc bool, v int) (int, error) {
	f := &c.f
	return func(key []byte, esc bool, v int) (int, error) {
		for ; ; key, esc = c.resolve(key), false { // as in record
			switch string(key) {
			case "Keys":
				f.hasKeys = true
				return c.keysField(b, v)
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
			if !esc {
				return skipValue(b, v)
			}
		}
	}
}

// fail records the first conversion error of the record.
func (c *Converter) fail(err *ConversionError) {
	if c.f.err == nil {
		c.f.err = err
	}
}

// stringField stores a string value: the whole token when whole is set
// (a JSON string, copied to the line), otherwise its text. A string
// without escapes is its content (and, whole, its token), aliasing the
// payload. One with escapes is resolved into a slice of its own (whole,
// the canonical token, as keys write strings), because what a record's
// text becomes (its sequence number, its table) may outlive the record:
// the streamer keeps a batch's first and last sequence numbers.
func (c *Converter) stringField(b []byte, v int, name string, dst *[]byte, whole bool) (int, error) {
	if b[v] != '"' {
		c.fail(&ConversionError{Path: name, Reason: "must be a string"})
		return skipValue(b, v)
	}
	end, esc, err := scanString(b, v)
	if err != nil {
		return 0, err
	}
	switch {
	case esc:
		s, err := c.resolveField(b[v+1:end-1], whole)
		if err != nil {
			c.fail(within(err, name).(*ConversionError))
			return end, nil
		}
		*dst = s
	case whole:
		*dst = b[v:end]
	default:
		*dst = b[v+1 : end-1]
	}
	return end, nil
}

// resolveField returns, in a slice of its own, the text of s, the content
// of a JSON string that holds an escape, or, whole, its canonical token.
func (c *Converter) resolveField(s []byte, whole bool) ([]byte, error) {
	if !whole {
		return unescape(nil, s)
	}
	t, err := c.appendCanonical([]byte{'"'}, s, true)
	return append(t, '"'), err
}

// numberField stores a JSON number token as is; finish checks its meaning.
func (c *Converter) numberField(b []byte, v int, name string, dst *[]byte) (int, error) {
	c0 := b[v]
	if c0 != '-' && !isDigit(c0) {
		c.fail(&ConversionError{Path: name, Reason: "must be a number"})
		return skipValue(b, v)
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
	return skipValue(b, v)
}

// keysField converts the record's Keys canonically (keys.go) into c.keys.
// On a conversion error it still finds the end of the value so the walk
// can go on.
func (c *Converter) keysField(b []byte, v int) (int, error) {
	const name = "dynamodb.Keys"
	if b[v] != '{' {
		c.fail(&ConversionError{Path: name, Reason: "must be an object of attribute values"})
		return skipValue(b, v)
	}
	c.resetKeys()
	end, err := members(b, v, 4, func(key []byte, esc bool, v int) (int, error) {
		return c.addKey(key, esc, b, v)
	})
	if err == nil {
		if c.keys, err = c.appendKeySet(c.keys[:0]); err == nil {
			return end, nil
		}
	}
	ce, ok := err.(*ConversionError)
	if !ok {
		return 0, err
	}
	c.fail(within(ce, name).(*ConversionError))
	return skipValue(b, v)
}

// finish checks the envelope, fills the record's Err or its metadata, and
// assembles the line when the record converts. The checks run in a fixed
// order after the walk's own, and the first failure wins.
func (c *Converter) finish() {
	f := &c.f
	r := &c.rec
	// The order key holds up to 40 digits, as many as the StreamRecord API
	// reference allows a sequence number.
	if isDigits(f.seq) && len(f.seq) <= 40 {
		r.SequenceNumber = f.seq
	} else if f.seq != nil {
		c.fail(&ConversionError{Path: "dynamodb.SequenceNumber", Reason: fmt.Sprintf("%q is not a sequence number (1 to 40 digits)", f.seq)})
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
	// Sequence number and creation time make the order key: a record
	// without them cannot be placed among its item's other lines.
	for _, req := range [...]struct {
		ok           bool
		name, reason string
	}{
		{f.eventID != nil, "eventID", "is missing"},
		{f.eventName != nil, "eventName", "is missing"},
		{f.arn != nil, "eventSourceARN", "is missing"},
		{f.seq != nil, "dynamodb.SequenceNumber", "is missing"},
		{f.created != nil, "dynamodb.ApproximateCreationDateTime", "is missing, so the record has no order key"},
		{f.hasKeys, "dynamodb.Keys", "is missing"},
	} {
		if !req.ok {
			c.fail(&ConversionError{Path: req.name, Reason: req.reason})
		}
	}
	if f.err != nil {
		r.Err = f.err
		return
	}
	c.appendLine()
}

// isDigits reports whether s is a non-empty run of ASCII digits.
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
