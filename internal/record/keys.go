package record

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// An item's identity is its keys field, and it has to be the same bytes
// wherever the item comes from: a stream record's Keys, a table export's
// Item, a Scan result marshalled by the reconcile tool. The three sources
// agree on the values but not on their text: DynamoDB does not document
// the order of a stream record's Keys (and a stream record does not carry
// the key schema that would fix one), and encoders differ in what they
// escape (Go's encoding/json writes "<" as \u003c, others write "/" as \/).
// So keys are written canonically:
//
//   - the key attributes in ascending byte order of their names as
//     written, whatever order they came in;
//   - names and S and B values as canonical JSON strings: only '"', '\'
//     and control characters escaped, control characters as \b, \f, \n,
//     \r, \t or \u00xx, everything else as raw UTF-8 (the string form of
//     RFC 8785); an escape for an unpaired UTF-16 surrogate is an error,
//     since DynamoDB strings are UTF-8 and cannot hold one;
//   - N values as their exact text, which DynamoDB normalises on write
//     and so returns the same from every API;
//   - only the types a key attribute can have: S, N and B.
//
// Images (newImage, oldImage) keep the order and value text DynamoDB sent,
// with their attribute names written canonically as key names are; they
// compare as JSON values, not bytes (see AppendImage).

// KeySchema names a table's key attributes, as DescribeTable's KeySchema
// gives them: the partition (HASH) key and, for a composite key, the sort
// (RANGE) key. Neither a table export nor a Scan result says which of an
// item's attributes are its key, so snapshot lines and AppendKeys need it.
type KeySchema struct {
	PartitionKey string
	// SortKey is empty for a table without a sort key.
	SortKey string
}

// Validate checks the names as DynamoDB allows them: 1 to 255 bytes of
// UTF-8, and two different names.
func (k KeySchema) Validate() error {
	for _, n := range [...]struct{ role, name string }{{"partition", k.PartitionKey}, {"sort", k.SortKey}} {
		if n.name == "" && n.role == "sort" {
			continue
		}
		if len(n.name) == 0 || len(n.name) > 255 || !utf8.ValidString(n.name) {
			return fmt.Errorf("key schema: %s key name %q: want 1 to 255 bytes of UTF-8", n.role, n.name)
		}
	}
	if k.PartitionKey == k.SortKey {
		return fmt.Errorf("key schema: partition and sort key are both %q", k.PartitionKey)
	}
	return nil
}

// keySpan locates one key attribute rendered into Converter.kbuf: its name
// (canonical string content) is kbuf[name:value] and its value (canonical,
// in the converter's image format) kbuf[value:end].
type keySpan struct{ name, value, end int }

// resetKeys starts gathering the key attributes of one record or item.
func (c *Converter) resetKeys() {
	c.kbuf = c.kbuf[:0]
	c.kspans = c.kspans[:0]
}

// addKey renders the key attribute whose value is at b[v]; rawName is its
// name as written between the quotes, and esc says it holds an escape.
func (c *Converter) addKey(rawName []byte, esc bool, b []byte, v int) (int, error) {
	start := len(c.kbuf)
	var err error
	if c.kbuf, err = c.appendCanonical(c.kbuf, rawName, esc); err != nil {
		return 0, within(err, string(rawName))
	}
	mid := len(c.kbuf)
	var end int
	if c.kbuf, end, err = c.keyValue(b, v, c.kbuf); err != nil {
		return 0, within(err, string(rawName))
	}
	c.kspans = append(c.kspans, keySpan{start, mid, len(c.kbuf)})
	return end, nil
}

// appendKeySet writes the gathered key attributes as one object, sorted by
// name. Two attributes of the same name (however they were escaped) are an
// error: the identity would be ambiguous.
func (c *Converter) appendKeySet(dst []byte) ([]byte, error) {
	s := c.kspans
	name := func(k keySpan) []byte { return c.kbuf[k.name:k.value] }
	// Insertion sort: a key has one or two attributes, and sort.Slice
	// would allocate.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && bytes.Compare(name(s[j]), name(s[j-1])) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	dst = append(dst, '{')
	for i, k := range s {
		if i > 0 {
			if bytes.Equal(name(k), name(s[i-1])) {
				return dst, convErr("key attribute %q appears twice", name(k))
			}
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name(k)...)
		dst = append(dst, '"', ':')
		dst = append(dst, c.kbuf[k.value:k.end]...)
	}
	return append(dst, '}'), nil
}

// keyValue converts one key attribute value canonically (see above).
func (c *Converter) keyValue(b []byte, i int, dst []byte) ([]byte, int, error) {
	typ, esc, j, err := attrOpen(b, i)
	if err != nil {
		return dst, 0, err
	}
	typ = c.name(typ, esc)
	var name string // a constant, not string(typ): the conversion would allocate
	switch string(typ) {
	case "S":
		name = "S"
	case "N":
		name = "N"
	case "B":
		name = "B"
	default:
		return dst, 0, convErr("key attribute must be of type S, N or B, not %q", typ)
	}
	typed := c.format == DynamoDB
	if typed {
		dst = append(dst, `{"`+name+`":`...)
	}
	if name == "N" {
		dst, j, err = c.number(b, j, dst, typed)
		if err != nil {
			return dst, 0, err
		}
	} else {
		if b[j] != '"' {
			return dst, 0, convErr("%s value must be a string", name)
		}
		e, esc, err := scanString(b, j)
		if err != nil {
			return dst, 0, err
		}
		dst = append(dst, '"')
		if dst, err = c.appendCanonical(dst, b[j+1:e-1], esc); err != nil {
			return dst, 0, err
		}
		dst = append(dst, '"')
		j = e
	}
	if j, err = attrClose(b, j); err != nil {
		return dst, 0, err
	}
	if typed {
		dst = append(dst, '}')
	}
	return dst, j, nil
}

// appendCanonical appends the canonical form of s, the content of a JSON
// string that scanString accepted; esc is what scanString said of it.
// Content without an escape is already canonical: scanString admits no raw
// quote, control character or invalid UTF-8.
func (c *Converter) appendCanonical(dst, s []byte, esc bool) ([]byte, error) {
	if !esc {
		return append(dst, s...), nil
	}
	var err error
	if c.unq, err = unescape(c.unq[:0], s); err != nil {
		return dst, err
	}
	return appendEscaped(dst, c.unq), nil
}

// unescape appends the text of s, the content of a valid JSON string, with
// its escapes resolved.
func unescape(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); {
		k := bytes.IndexByte(s[i:], '\\')
		if k < 0 {
			return append(dst, s[i:]...), nil
		}
		dst = append(dst, s[i:i+k]...)
		i += k
		switch e := s[i+1]; e {
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
					return dst, convErr(`string has an unpaired surrogate \u%04x`, r)
				}
				hi := r
				if r = utf16.DecodeRune(hi, hex4(s[i+2:i+6])); r == utf8.RuneError {
					return dst, convErr(`string has an unpaired surrogate \u%04x`, hi)
				}
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, unescapes[e])
			i += 2
		}
	}
	return dst, nil
}

// unescapes maps the character after a backslash (other than u) to the
// byte it stands for; scanString has admitted only these.
var unescapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hex digits that scanString has checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= 'a':
			c -= 'a' - 10
		case c >= 'A':
			c -= 'A' - 10
		default:
			c -= '0'
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendEscaped appends s, valid UTF-8, as the content of a canonical JSON
// string.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return dst
}

// keyMatch says which key of ks the attribute named rawName (as written
// between the quotes; esc when it holds an escape) is: 1 for the partition
// key, 2 for the sort key, 0 for neither. Names are compared as text, so
// an escaped name matches; one that cannot be resolved is not a name
// DynamoDB could hold, so not a key.
func (c *Converter) keyMatch(rawName []byte, esc bool, ks *KeySchema) int {
	name := c.name(rawName, esc)
	switch {
	case string(name) == ks.PartitionKey:
		return 1
	case ks.SortKey != "" && string(name) == ks.SortKey:
		return 2
	}
	return 0
}

// itemKeys gathers the key attributes of an item, an attribute map at
// b[i], while fn (when set) walks every member: it returns fn's results,
// and the item's keys rendered canonically into c.keys.
func (c *Converter) itemKeys(b []byte, i, depth int, ks *KeySchema,
	fn func(rawName []byte, esc bool, v int) (int, error)) (int, error) {
	if b[i] != '{' {
		return 0, convErr("must be an object of attribute values")
	}
	at := [2]int{-1, -1}
	var dup []byte
	end, err := members(b, i, depth, func(key []byte, esc bool, v int) (int, error) {
		if k := c.keyMatch(key, esc, ks); k > 0 {
			if at[k-1] >= 0 && dup == nil {
				dup = key
			}
			at[k-1] = v
		}
		if fn == nil {
			return skipValue(b, v)
		}
		return fn(key, esc, v)
	})
	if err != nil {
		return 0, err
	}
	if dup != nil {
		return 0, convErr("key attribute %q appears twice", dup)
	}
	c.resetKeys()
	for k, name := range [...]string{ks.PartitionKey, ks.SortKey} {
		if name == "" {
			continue
		}
		if at[k] < 0 {
			return 0, convErr("key attribute %q is missing", name)
		}
		start := len(c.kbuf)
		c.kbuf = appendEscaped(c.kbuf, name)
		mid := len(c.kbuf)
		if c.kbuf, _, err = c.keyValue(b, at[k], c.kbuf); err != nil {
			return 0, within(err, string(c.kbuf[start:mid]))
		}
		c.kspans = append(c.kspans, keySpan{start, mid, len(c.kbuf)})
	}
	c.keys, err = c.appendKeySet(c.keys[:0])
	return end, err
}

// AppendKeys appends the keys of item, a DynamoDB JSON attribute map such
// as a Scan result marshalled to JSON ({"pk":{"S":"a"},...}), exactly as a
// line's keys field carries them in the converter's image format: for the
// same item, a stream line's keys, a snapshot line's keys and AppendKeys
// are the same bytes, so a reconcile tool can join the live table to the
// lake on them. Non-key attributes are checked as JSON only. Errors are a
// *SyntaxError for text that is not JSON and a *ConversionError for an item
// without the key attributes, or with a key of another type than S, N or B.
func (c *Converter) AppendKeys(dst, item []byte, ks KeySchema) ([]byte, error) {
	if err := ks.Validate(); err != nil {
		return dst, err
	}
	i := skipWS(item, 0)
	if i >= len(item) {
		return dst, syntaxErr(i, "unexpected end of input")
	}
	end, err := c.itemKeys(item, i, 0, &ks, nil)
	if err != nil {
		return dst, err
	}
	if j := skipWS(item, end); j != len(item) {
		return dst, syntaxErr(j, "data after the item")
	}
	return append(dst, c.keys...), nil
}
