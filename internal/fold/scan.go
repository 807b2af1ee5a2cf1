package fold

import (
	"encoding/binary"
	"fmt"
)

// maxDepth bounds nesting, as internal/record does: DynamoDB allows 32
// levels of nested attributes, 64 JSON levels in the typed format.
const maxDepth = 200

// SyntaxError is a line that is not the JSON object the fold expects.
type SyntaxError struct {
	Offset int
	Reason string
}

// Error locates the fault by offset, never quoting the line, whose values
// may be sensitive.
func (e *SyntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.Offset, e.Reason) }

func syntaxErr(at int, format string, args ...any) error {
	return &SyntaxError{Offset: at, Reason: fmt.Sprintf(format, args...)}
}

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

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// quiet8 reports whether none of the eight bytes of v is '"', '\\' or a
// control character: bytes a string scan can step over without looking.
// Unlike internal/record's scanner this one does not validate UTF-8: the
// fold only needs the structure, and the images it keeps are parsed in
// full by whoever compares them.
func quiet8(v uint64) bool {
	hasZero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	less20 := (v - ones*0x20) &^ v & highs
	return less20|hasZero(v^(ones*'"'))|hasZero(v^(ones*'\\')) == 0
}

// skipString returns the index just past the JSON string starting at
// b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	start := i
	i++
	for {
		for i+8 <= len(b) && quiet8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return 0, syntaxErr(start, "unterminated string")
		}
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return 0, syntaxErr(start, "unterminated string")
			}
			if b[i+1] == 'u' {
				if i+6 > len(b) {
					return 0, syntaxErr(i, `invalid \u escape`)
				}
				i += 6
				continue
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			default:
				return 0, syntaxErr(i, "invalid escape %q", b[i+1])
			}
		default:
			return 0, syntaxErr(i, "control character 0x%02x in string", b[i])
		}
	}
}

// scalarEnd marks the bytes that end a number or literal.
var scalarEnd = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n,:]}[{\"") {
		t[c] = true
	}
	return t
}()

// skipValue returns the index just past the JSON value at b[i] (no
// leading space). It checks structure (brackets matched and of the same
// kind, strings terminated, members named, separators in place) and that
// scalars are made of number or literal characters, not their exact
// grammar: the values it skips are not the fold's concern.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; c {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipContainer(b, i)
	default:
		start := i
		for i < len(b) && !scalarEnd[b[i]] {
			if !scalarByte[b[i]] {
				return 0, syntaxErr(i, "unexpected character %q", b[i])
			}
			i++
		}
		if i == start {
			return 0, syntaxErr(i, "unexpected character %q", c)
		}
		return i, nil
	}
}

// scalarByte marks the bytes a number, true, false or null is made of.
var scalarByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eEtruefalsn") {
		t[c] = true
	}
	return t
}()

// skipContainer skips the object or array at b[i] iteratively, keeping
// the open brackets on a bit stack, so that deep nesting costs no
// recursion.
func skipContainer(b []byte, i int) (int, error) {
	var stack [maxDepth/64 + 1]uint64 // bit set: the level is an object
	depth := 0
	push := func(obj bool) error {
		if depth >= maxDepth {
			return syntaxErr(i, "nesting deeper than %d levels", maxDepth)
		}
		if obj {
			stack[depth/64] |= 1 << (depth % 64)
		} else {
			stack[depth/64] &^= 1 << (depth % 64)
		}
		depth++
		return nil
	}
	inObject := func() bool { return stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0 }
	var err error
	// expectMember: in an object, the next token is a name (or the end).
	for {
		// b[i] opens a container.
		if err = push(b[i] == '{'); err != nil {
			return 0, err
		}
		i = skipWS(b, i+1)
		if i < len(b) && (b[i] == '}' || b[i] == ']') {
			goto closing
		}
	member:
		if inObject() {
			if i >= len(b) || b[i] != '"' {
				return 0, syntaxErr(i, "expected object key")
			}
			if i, err = skipString(b, i); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return 0, syntaxErr(i, "expected ':'")
			}
			i = skipWS(b, i+1)
		}
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		if b[i] == '{' || b[i] == '[' {
			continue // descend
		}
		if i, err = skipValue(b, i); err != nil {
			return 0, err
		}
	after:
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, syntaxErr(i, "unexpected end of input")
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			goto member
		}
	closing:
		want := byte(']')
		if inObject() {
			want = '}'
		}
		if i >= len(b) || b[i] != want {
			return 0, syntaxErr(i, "expected ',' or %q", want)
		}
		i++
		depth--
		if depth == 0 {
			return i, nil
		}
		goto after
	}
}
