package fold

import (
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Kind is what one line says about its item, before the rule picks the
// line that decides.
type Kind uint8

const (
	// Put: the line carries the item's whole new state, its newImage
	// (INSERT, MODIFY or SNAPSHOT).
	Put Kind = iota + 1
	// Remove: the item was deleted (REMOVE).
	Remove
	// NoImage: the item was written, but the line does not say how
	// (INSERT or MODIFY without newImage, from a KEYS_ONLY or OLD_IMAGE
	// stream).
	NoImage
)

// String names the kind, for messages and test failures.
func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Remove:
		return "remove"
	case NoImage:
		return "no-image"
	}
	return "invalid"
}

// Line is what the fold reads of one line. The slices alias the line.
type Line struct {
	// Keys is the keys field's JSON text, the item's identity.
	Keys []byte
	// OrderKey is the orderKey field's content, orderkey.Len characters.
	OrderKey []byte
	Kind     Kind
	// Image is the newImage field's JSON text when Kind is Put.
	Image []byte
}

// ParseError is a line the fold cannot use: not a JSON object, or
// without the fields the rule needs. Such a line means the lake was
// written by something other than the pipeline, or altered, so callers
// report it rather than skip it silently.
type ParseError struct {
	Reason string
}

// Error says what the line lacks; it never quotes the line, whose values
// may be sensitive.
func (e *ParseError) Error() string { return e.Reason }

// Parse reads the fields the fold rule needs from one line: keys (an
// object), orderKey (orderkey.Len characters), eventName (INSERT, MODIFY,
// REMOVE or SNAPSHOT) and newImage (an object, when present). Every other
// field is skipped, structurally checked only. Errors are a *SyntaxError
// or a *ParseError.
func Parse(line []byte) (Line, error) {
	var l Line
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return l, syntaxErr(i, "line must be a JSON object")
	}
	var name, eventName []byte
	var haveName, haveOrder bool
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
		goto done
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return l, syntaxErr(i, "expected object key")
		}
		e, err := skipString(line, i)
		if err != nil {
			return l, err
		}
		name = line[i+1 : e-1]
		i = skipWS(line, e)
		if i >= len(line) || line[i] != ':' {
			return l, syntaxErr(i, "expected ':'")
		}
		v := skipWS(line, i+1)
		if i, err = skipValue(line, v); err != nil {
			return l, err
		}
		val := line[v:i]
		switch string(name) {
		case record.FieldKeys:
			if l.Keys != nil {
				return l, &ParseError{"keys appears twice"}
			}
			if val[0] != '{' {
				return l, &ParseError{"keys must be an object"}
			}
			l.Keys = val
		case record.FieldNewImage:
			if l.Image != nil {
				return l, &ParseError{"newImage appears twice"}
			}
			if val[0] != '{' {
				return l, &ParseError{"newImage must be an object"}
			}
			l.Image = val
		case record.FieldOrderKey:
			if haveOrder {
				return l, &ParseError{"orderKey appears twice"}
			}
			if !validOrderKey(val) {
				return l, &ParseError{"orderKey is not an order key"}
			}
			l.OrderKey, haveOrder = val[1:len(val)-1], true
		case record.FieldEventName:
			if haveName {
				return l, &ParseError{"eventName appears twice"}
			}
			if val[0] != '"' {
				return l, &ParseError{"eventName must be a string"}
			}
			eventName, haveName = val[1:len(val)-1], true
		}
		i = skipWS(line, i)
		if i >= len(line) {
			return l, syntaxErr(i, "unexpected end of input")
		}
		if line[i] == ',' {
			i = skipWS(line, i+1)
			continue
		}
		if line[i] != '}' {
			return l, syntaxErr(i, "expected ',' or '}'")
		}
		i++
		break
	}
done:
	if j := skipWS(line, i); j != len(line) {
		return l, syntaxErr(j, "data after the line's object")
	}
	switch {
	case l.Keys == nil:
		return l, &ParseError{"no keys"}
	case !haveOrder:
		return l, &ParseError{"no orderKey"}
	case !haveName:
		return l, &ParseError{"no eventName"}
	}
	switch string(eventName) {
	case "REMOVE":
		l.Kind, l.Image = Remove, nil
	case "INSERT", "MODIFY":
		l.Kind = NoImage
		if l.Image != nil {
			l.Kind = Put
		}
	case record.EventSnapshot:
		if l.Image == nil {
			return l, &ParseError{"a SNAPSHOT line without newImage"}
		}
		l.Kind = Put
	default:
		return l, &ParseError{"eventName is not INSERT, MODIFY, REMOVE or SNAPSHOT"}
	}
	return l, nil
}

// validOrderKey checks the shape of a quoted order key, cheaply: the full
// check (orderkey.Parse) allocates, and this runs on every line. A key of
// the right length, all digits but for its kind, orders correctly.
func validOrderKey(q []byte) bool {
	if len(q) != orderkey.Len+2 || q[0] != '"' || q[len(q)-1] != '"' {
		return false
	}
	k := q[1 : len(q)-1]
	for j, c := range k {
		if j == kindAt {
			if c != 's' && c != 'b' {
				return false
			}
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// kindAt is the position of the order key's kind letter, after the
// seconds (see package orderkey).
const kindAt = 11
