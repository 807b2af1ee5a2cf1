package record

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxDepth bounds how deep the converting walk (members, elements and the
// attribute values they hold) may recurse, so that a hostile payload cannot
// exhaust the stack. DynamoDB allows 32 levels of nested attributes, 64 JSON
// levels in its typed JSON, plus the event envelope's few; a value nested
// deeper fails its record alone (tooDeep), since the walk skips it
// without recursion (skipValue) and goes on with the next record.
const maxDepth = 200

// tooDeep is the reason of a record or item whose attribute values nest
// deeper than maxDepth.
func tooDeep() *ConversionError { return convErr("nesting deeper than %d levels", maxDepth) }

// strPlain marks bytes that may appear unescaped in a JSON string and need no
// further checks: printable ASCII other than the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString validates the JSON string starting at b[i] == '"' and returns
// the index just past its closing quote, and whether the string holds an
// escape: without one its content is its text, to compare or copy as is.
// It rejects control characters, invalid escapes and invalid UTF-8, so a
// verbatim copy is always valid JSON.
//
// The common string, printable ASCII without escapes, is scanned here;
// anything else goes on in scanStringRest, keeping this loop small.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	start := i
	i++
	// Eight bytes at a time while none needs a closer look.
	for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return i + 1, false, nil
	}
	return scanStringRest(b, start, i)
}

// scanStringRest goes on with the string that starts at b[start] from
// b[i], the first byte that is not plain printable ASCII.
func scanStringRest(b []byte, start, i int) (end int, esc bool, err error) {
	for {
		if i >= len(b) {
			return 0, false, syntaxErr(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, syntaxErr(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return 0, false, syntaxErr(i, `invalid \u escape`)
				}
				i += 6
			default:
				return 0, false, syntaxErr(i, "invalid escape %q", b[i+1])
			}
		case c < 0x20:
			return 0, false, syntaxErr(i, "control character 0x%02x in string", c)
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, false, syntaxErr(i, "invalid UTF-8 in string")
			}
			i += size
		}
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether all eight bytes of v are printable ASCII other
// than '"' and '\\' (the classic SWAR zero-byte and less-than tests).
func plain8(v uint64) bool {
	hasZero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	less20 := (v - ones*0x20) &^ v & highs
	return (v&highs)|less20|hasZero(v^(ones*'"'))|hasZero(v^(ones*'\\')) == 0
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// validNumber reports whether n is exactly a JSON number.
func validNumber(n []byte) bool {
	_, _, _, ok := jsonNumber(n)
	return ok
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the end of the JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, error) {
	start := i
	for i < len(b) {
		switch c := b[i]; {
		case isDigit(c), c == '-', c == '+', c == '.', c == 'e', c == 'E':
			i++
			continue
		}
		break
	}
	if !validNumber(b[start:i]) {
		return 0, syntaxErr(start, "invalid number %q", b[start:i])
	}
	return i, nil
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, syntaxErr(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipValue validates the JSON value starting at b[i] (no leading space) and
// returns the index just past it. It skips a container without recursion
// (skipContainer), so a value nested however deep costs no stack: what is
// skipped is not converted, and needs no depth limit.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{' || c == '[':
		return skipContainer(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	default:
		return 0, syntaxErr(i, "unexpected character %q", c)
	}
}

// skipContainer validates the object or array at b[i] and returns the
// index just past it. It walks iteratively, keeping the open containers on
// a stack of its own (true for an object), so that its depth is bounded by
// the input's length, not by the goroutine's stack.
func skipContainer(b []byte, i int) (int, error) {
	var buf [64]bool
	open := buf[:0]
	var err error
	for {
		// b[i] starts a value (skipValue reports the end of input).
		if c := b[i]; c == '{' || c == '[' {
			open = append(open, c == '{')
			if i = skipWS(b, i+1); i < len(b) && b[i] == c+2 { // '}' and ']' follow their openers by 2
				open = open[:len(open)-1]
				i++
			} else {
				if c == '{' {
					if i, err = memberName(b, i); err != nil {
						return 0, err
					}
				} else if i >= len(b) {
					return 0, syntaxErr(i, "unexpected end of input")
				}
				continue
			}
		} else if i, err = skipValue(b, i); err != nil {
			return 0, err
		}
		// Past a value: close what ends here, then on to the next value.
		for {
			if len(open) == 0 {
				return i, nil
			}
			if i = skipWS(b, i); i >= len(b) {
				return 0, syntaxErr(i, "unexpected end of input")
			}
			obj := open[len(open)-1]
			if b[i] == ',' {
				if i = skipWS(b, i+1); obj {
					if i, err = memberName(b, i); err != nil {
						return 0, err
					}
				} else if i >= len(b) {
					return 0, syntaxErr(i, "unexpected end of input")
				}
				break
			}
			closer := byte(']')
			if obj {
				closer = '}'
			}
			if b[i] != closer {
				return 0, syntaxErr(i, "expected ',' or %q", closer)
			}
			open = open[:len(open)-1]
			i++
		}
	}
}

// memberName validates an object member's name at b[i] and the colon
// after it, and returns the index of the member's value.
func memberName(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, syntaxErr(i, "expected object key")
	}
	i, _, err := scanString(b, i)
	if err != nil {
		return 0, err
	}
	return expect(b, i, ':')
}

// expect skips space, requires the byte c and skips space after it. A
// value always follows, so it also guarantees that input remains: callers
// may index b at the returned position.
func expect(b []byte, i int, c byte) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != c {
		return 0, syntaxErr(i, "expected %q", c)
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return 0, syntaxErr(i, "unexpected end of input")
	}
	return i, nil
}

// members iterates the members of the object starting at b[i] == '{',
// calling fn with the raw name (without quotes), whether it holds an
// escape, and the index of its value. fn returns the index just past the
// value it consumed. The object is at the given depth of the converting
// walk; one deeper than maxDepth is a *ConversionError (tooDeep).
func members(b []byte, i, depth int, fn func(key []byte, esc bool, v int) (int, error)) (int, error) {
	if depth >= maxDepth {
		return 0, tooDeep()
	}
	var esc bool
	var err error
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxErr(i, "expected object key")
		}
		ks := i
		if i, esc, err = scanString(b, i); err != nil {
			return 0, err
		}
		key := b[ks+1 : i-1]
		if i, err = expect(b, i, ':'); err != nil {
			return 0, err
		}
		if i, err = fn(key, esc, i); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, syntaxErr(i, "expected ',' or '}'")
		}
	}
}

// elements iterates the array starting at b[i] == '[', which is at the
// given depth of the converting walk, as members does.
func elements(b []byte, i, depth int, fn func(v int) (int, error)) (int, error) {
	if depth >= maxDepth {
		return 0, tooDeep()
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
