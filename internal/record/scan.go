package record

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile payload cannot exhaust the stack.
// DynamoDB allows 32 levels of nested attributes, which is 64 JSON levels
// plus the event envelope.
const maxDepth = 200

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
// the index just past its closing quote. It rejects control characters,
// invalid escapes and invalid UTF-8, so a verbatim copy is always valid JSON.
func scanString(b []byte, i int) (int, error) {
	start := i
	i++
	for {
		// Eight bytes at a time while none needs a closer look.
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, syntaxErr(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, syntaxErr(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return 0, syntaxErr(i, `invalid \u escape`)
				}
				i += 6
			default:
				return 0, syntaxErr(i, "invalid escape %q", b[i+1])
			}
		case c < 0x20:
			return 0, syntaxErr(i, "control character 0x%02x in string", c)
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, syntaxErr(i, "invalid UTF-8 in string")
			}
			i += size
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
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case i < len(n) && '1' <= n[i] && n[i] <= '9':
		for i < len(n) && isDigit(n[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		d := i
		for i < len(n) && isDigit(n[i]) {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		d := i
		for i < len(n) && isDigit(n[i]) {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(n)
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
// returns the index just past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{':
		return skipContainer(b, i, depth, '}')
	case c == '[':
		return skipContainer(b, i, depth, ']')
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

func skipContainer(b []byte, i, depth int, closer byte) (int, error) {
	if depth >= maxDepth {
		return 0, syntaxErr(i, "nesting deeper than %d levels", maxDepth)
	}
	var err error
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		if closer == '}' {
			if i >= len(b) || b[i] != '"' {
				return 0, syntaxErr(i, "expected object key")
			}
			if i, err = scanString(b, i); err != nil {
				return 0, err
			}
			if i, err = expect(b, i, ':'); err != nil {
				return 0, err
			}
		}
		if i, err = skipValue(b, i, depth+1); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case closer:
			return i + 1, nil
		default:
			return 0, syntaxErr(i, "expected ',' or %q", closer)
		}
	}
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
// calling fn with the raw key (without quotes) and the index of its value.
// fn returns the index just past the value it consumed.
func members(b []byte, i, depth int, fn func(key []byte, v int) (int, error)) (int, error) {
	if depth >= maxDepth {
		return 0, syntaxErr(i, "nesting deeper than %d levels", maxDepth)
	}
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
		if i, err = scanString(b, i); err != nil {
			return 0, err
		}
		key := b[ks+1 : i-1]
		if i, err = expect(b, i, ':'); err != nil {
			return 0, err
		}
		if i, err = fn(key, i); err != nil {
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
