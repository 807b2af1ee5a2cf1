package record

import (
	"fmt"
	"strconv"
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

// ParseImageFormat parses "plain" or "dynamodb", the values of the
// IMAGE_FORMAT setting, so that configuration names formats as String does.
func ParseImageFormat(s string) (ImageFormat, error) {
	switch s {
	case "plain":
		return Plain, nil
	case "dynamodb":
		return DynamoDB, nil
	}
	return 0, fmt.Errorf("unknown image format %q (want plain or dynamodb)", s)
}

// String returns the format's name as ParseImageFormat accepts it, so a
// format round-trips through configuration and logs.
func (f ImageFormat) String() string {
	if f == DynamoDB {
		return "dynamodb"
	}
	return "plain"
}

// attrMap converts an object of attribute name to attribute value.
func (c *Converter) attrMap(b []byte, i, depth int, dst []byte) ([]byte, int, error) {
	if b[i] != '{' {
		return dst, 0, convErr("must be an object of attribute values")
	}
	dst = append(dst, '{')
	first := true
	end, err := members(b, i, depth, func(key []byte, esc bool, v int) (int, error) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var end int
		var err error
		if dst, err = c.appendName(dst, key, esc); err != nil {
			return 0, within(err, string(key))
		}
		if dst, end, err = c.attr(b, v, depth+1, dst); err != nil {
			return 0, within(err, string(key))
		}
		return end, nil
	})
	if err != nil {
		return dst, 0, err
	}
	return append(dst, '}'), end, nil
}

// appendName appends an attribute's name, raw as written between the
// quotes, as a member name, "name":. A name that holds an escape (esc) is
// written as the canonical writer writes keys (appendCanonical), so that
// an item's image has the same names from the stream, an export or a Scan
// whatever their encoder escaped. A name without an escape is canonical
// already and copied as is: the hot path.
func (c *Converter) appendName(dst, raw []byte, esc bool) ([]byte, error) {
	dst = append(dst, '"')
	if !esc {
		dst = append(dst, raw...)
		return append(dst, '"', ':'), nil
	}
	dst, err := c.appendCanonical(dst, raw, true)
	if err != nil {
		return dst, err
	}
	return append(dst, '"', ':'), nil
}

// name returns the text of a member's name, raw as written between the
// quotes: raw itself when it holds no escape (the hot path), otherwise its
// escapes resolved into a scratch buffer valid until the next call. JSON
// says an escaped name is the name, so "\u004eewImage" is NewImage. A name
// that cannot be resolved (an unpaired surrogate) comes back nil, which
// matches no name the converter looks for.
func (c *Converter) name(raw []byte, esc bool) []byte {
	if !esc {
		return raw
	}
	return c.resolve(raw)
}

// resolve returns the text of raw, the content of a JSON string that
// holds an escape, in a scratch buffer valid until the next call; nil when
// it holds an unpaired surrogate, which no DynamoDB string can.
func (c *Converter) resolve(raw []byte) []byte {
	var err error
	if c.resolved, err = unescape(c.resolved[:0], raw); err != nil {
		return nil
	}
	return c.resolved
}

// attrOpen reads the start of an attribute value, {"<type>": value}, at
// b[i]: it returns the type's name as written, whether that holds an
// escape (to resolve with name), and the index of the value. attr and
// keyValue share it so that a key and an image report a malformed value
// alike.
func attrOpen(b []byte, i int) (typ []byte, esc bool, j int, err error) {
	if b[i] != '{' {
		return nil, false, 0, convErr(`attribute value must be an object such as {"S": "text"}`)
	}
	j = skipWS(b, i+1)
	if j >= len(b) {
		return nil, false, 0, syntaxErr(j, "unexpected end of input")
	}
	if b[j] == '}' {
		return nil, false, 0, convErr("attribute value has no type")
	}
	if b[j] != '"' {
		return nil, false, 0, syntaxErr(j, "expected object key")
	}
	ke, esc, err := scanString(b, j)
	if err != nil {
		return nil, false, 0, err
	}
	typ = b[j+1 : ke-1]
	if j, err = expect(b, ke, ':'); err != nil {
		return nil, false, 0, err
	}
	return typ, esc, j, nil
}

// attrClose checks that the attribute value ends at b[j], just past its
// one typed value, and returns the index past the closing brace.
func attrClose(b []byte, j int) (int, error) {
	j = skipWS(b, j)
	if j < len(b) && b[j] == ',' {
		return 0, convErr("attribute value has more than one type")
	}
	if j >= len(b) || b[j] != '}' {
		return 0, syntaxErr(j, "expected '}'")
	}
	return j + 1, nil
}

// attr converts one attribute value, {"<type>": value}.
func (c *Converter) attr(b []byte, i, depth int, dst []byte) ([]byte, int, error) {
	typ, esc, j, err := attrOpen(b, i)
	if err != nil {
		return dst, 0, err
	}
	typ = c.name(typ, esc)
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
		e, _, err := scanString(b, j)
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
			e, _, err := scanString(b, v)
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
	if j, err = attrClose(b, j); err != nil {
		return dst, 0, err
	}
	if typed {
		dst = append(dst, '}')
	}
	return dst, j, nil
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
// exact JSON number text (or, typed, as the original string token). The
// number must be one DynamoDB holds (number.go).
func (c *Converter) number(b []byte, i int, dst []byte, typed bool) ([]byte, int, error) {
	if b[i] != '"' {
		return dst, 0, convErr("N value must be a string of digits")
	}
	e, esc, err := scanString(b, i)
	if err != nil {
		return dst, 0, err
	}
	n := b[i+1 : e-1]
	if esc { // "\u0031" is the number 1: written as 1, in either format
		n = c.resolve(n)
	}
	if f := dynamoNumber(n); f != numberOK {
		return dst, 0, numberErr(n, f)
	}
	switch {
	case !typed:
		return append(dst, n...), e, nil
	case !esc:
		return append(dst, b[i:e]...), e, nil
	}
	dst = append(dst, '"')
	dst = append(dst, n...)
	return append(dst, '"'), e, nil
}
