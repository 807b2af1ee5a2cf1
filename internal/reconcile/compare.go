package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ddbstream/pipeline/internal/record"
)

// Images are compared as values, not text. The lake keeps an image as the
// stream sent it (attribute order, set order, string escapes and number
// spelling are the writer's), the live side is rendered from the SDK's
// map, so the same item can be written differently. The comparison is
// driven by the live item's DynamoDB types, which the typed rendering
// keeps, whatever the lake's image format:
//
//   - maps compare by name regardless of order, lists in order, at any
//     depth;
//   - strings by their decoded text;
//   - numbers as decimals (decimal.go): 1.50 equals 1.5, 1E+2 equals 100,
//     -0 equals 0, as DynamoDB stores them;
//   - sets (SS, NS, BS) regardless of order, number set members as
//     decimals. A plain image writes a set as a JSON array, which cannot
//     be told from a list: the live side's type decides, so a plain lake
//     array is compared as a set exactly when the live attribute is one.
//     The limit, documented in the README: an attribute whose type changed
//     between a list and a set with the same members compares equal in the
//     plain format (the typed format tells them apart).
//
// Keys are not compared here: they are the item's identity, canonical
// bytes (package record), matched byte for byte as every consumer of the
// lake matches them. A key number the lake writes in another spelling than
// DynamoDB stores makes a second item for those consumers; reconcile
// reports such pairs (keytext.go) rather than hiding them.

type jsonKind uint8

const (
	jString jsonKind = iota + 1
	jNumber
	jTrue
	jFalse
	jNull
	jObject
	jArray
)

// jvalue is a parsed JSON value: strings decoded, numbers as their text.
type jvalue struct {
	kind     jsonKind
	text     string
	members  []jmember
	elements []*jvalue
}

type jmember struct {
	name  string
	value *jvalue
}

// parseJSON parses one JSON value, strictly.
func parseJSON(b []byte) (*jvalue, error) {
	p := jparser{b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(b) {
		return nil, fmt.Errorf("data after the value at byte %d", p.i)
	}
	return v, nil
}

type jparser struct {
	b []byte
	i int
}

func (p *jparser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

var errEnd = errors.New("unexpected end of JSON")

func (p *jparser) value(depth int) (*jvalue, error) {
	if depth > 200 {
		return nil, errors.New("JSON nested too deeply")
	}
	p.ws()
	if p.i >= len(p.b) {
		return nil, errEnd
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, err := p.str()
		return &jvalue{kind: jString, text: s}, err
	case c == '{':
		v := &jvalue{kind: jObject}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return v, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, fmt.Errorf("expected a member name at byte %d", p.i)
			}
			name, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, fmt.Errorf("expected ':' at byte %d", p.i)
			}
			p.i++
			m, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.members = append(v.members, jmember{name, m})
			if done, err := p.next('}'); err != nil || done {
				return v, err
			}
		}
	case c == '[':
		v := &jvalue{kind: jArray}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return v, nil
		}
		for {
			e, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.elements = append(v.elements, e)
			if done, err := p.next(']'); err != nil || done {
				return v, err
			}
		}
	case c == 't':
		return p.literal("true", jTrue)
	case c == 'f':
		return p.literal("false", jFalse)
	case c == 'n':
		return p.literal("null", jNull)
	default:
		start := p.i
		for p.i < len(p.b) && strings.IndexByte("0123456789+-.eE", p.b[p.i]) >= 0 {
			p.i++
		}
		n := string(p.b[start:p.i])
		if !validNumber(n) {
			return nil, fmt.Errorf("invalid number %q at byte %d", n, start)
		}
		return &jvalue{kind: jNumber, text: n}, nil
	}
}

// next consumes ',' (more to come) or closer (done).
func (p *jparser) next(closer byte) (bool, error) {
	p.ws()
	if p.i >= len(p.b) {
		return false, errEnd
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, nil
	case closer:
		p.i++
		return true, nil
	}
	return false, fmt.Errorf("expected ',' or %q at byte %d", closer, p.i)
}

func (p *jparser) literal(lit string, k jsonKind) (*jvalue, error) {
	if !strings.HasPrefix(string(p.b[p.i:min(len(p.b), p.i+len(lit))]), lit) {
		return nil, fmt.Errorf("invalid literal at byte %d", p.i)
	}
	p.i += len(lit)
	return &jvalue{kind: k}, nil
}

// str reads a string at p.b[p.i] == '"' and returns its decoded text.
func (p *jparser) str() (string, error) {
	start := p.i
	i := p.i + 1
	escaped := false
	for {
		if i >= len(p.b) {
			return "", errEnd
		}
		c := p.b[i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			return "", fmt.Errorf("control character in a string at byte %d", i)
		}
		if c == '\\' {
			escaped = true
			i++
		}
		i++
	}
	p.i = i + 1
	raw := p.b[start:p.i]
	if !escaped {
		if !utf8.Valid(raw) {
			return "", fmt.Errorf("invalid UTF-8 in a string at byte %d", start)
		}
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("string at byte %d: %w", start, err)
	}
	return s, nil
}

// validNumber reports whether n is exactly a JSON number.
func validNumber(n string) bool {
	i := 0
	digits := func() int {
		s := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i - s
	}
	if i < len(n) && n[i] == '-' {
		i++
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}

// sameImage reports whether a lake image (in format) holds the same item
// as live, the live item in typed DynamoDB JSON (record.DynamoDB). A lake
// image that does not parse is not the same: the line was altered.
func sameImage(lake []byte, format record.ImageFormat, live []byte) (bool, error) {
	lv, err := parseJSON(live)
	if err != nil {
		return false, fmt.Errorf("live image: %w", err)
	}
	lk, err := parseJSON(lake)
	if err != nil {
		return false, nil
	}
	return sameMap(lk, lv, format == record.DynamoDB), nil
}

// sameMap compares an attribute map: lk from the lake, lv typed.
func sameMap(lk, lv *jvalue, typed bool) bool {
	if lk.kind != jObject || lv.kind != jObject || len(lk.members) != len(lv.members) {
		return false
	}
	a := sortedMembers(lk.members)
	b := sortedMembers(lv.members)
	for i := range a {
		if a[i].name != b[i].name || (i > 0 && a[i].name == a[i-1].name) {
			return false
		}
		if !sameAttr(a[i].value, b[i].value, typed) {
			return false
		}
	}
	return true
}

func sortedMembers(m []jmember) []jmember {
	s := slices.Clone(m)
	slices.SortFunc(s, func(x, y jmember) int { return strings.Compare(x.name, y.name) })
	return s
}

// sameAttr compares one attribute value: lk from the lake (typed or
// plain), lv a typed value {"<T>": v}.
func sameAttr(lk, lv *jvalue, typed bool) bool {
	if lv.kind != jObject || len(lv.members) != 1 {
		return false
	}
	t, v := lv.members[0].name, lv.members[0].value
	if typed {
		if lk.kind != jObject || len(lk.members) != 1 || lk.members[0].name != t {
			return false
		}
		lk = lk.members[0].value
	}
	switch t {
	case "S", "B":
		return lk.kind == jString && v.kind == jString && lk.text == v.text
	case "N":
		want := jNumber
		if typed {
			want = jString
		}
		return lk.kind == want && v.kind == jString && sameNumber(lk.text, v.text)
	case "BOOL":
		return lk.kind == v.kind && (v.kind == jTrue || v.kind == jFalse)
	case "NULL":
		if typed {
			return lk.kind == jTrue
		}
		return lk.kind == jNull
	case "M":
		return sameMap(lk, v, typed)
	case "L":
		if lk.kind != jArray || v.kind != jArray || len(lk.elements) != len(v.elements) {
			return false
		}
		for i := range v.elements {
			if !sameAttr(lk.elements[i], v.elements[i], typed) {
				return false
			}
		}
		return true
	case "SS", "BS", "NS":
		elem := jString
		if t == "NS" && !typed {
			elem = jNumber
		}
		return sameSet(lk, v, elem, t == "NS")
	}
	return false
}

// sameSet compares a set's elements regardless of order; numbers, as
// decimals.
func sameSet(lk, v *jvalue, elem jsonKind, numbers bool) bool {
	if lk.kind != jArray || v.kind != jArray || len(lk.elements) != len(v.elements) {
		return false
	}
	texts := func(es []*jvalue, k jsonKind) ([]string, bool) {
		out := make([]string, len(es))
		for i, e := range es {
			if e.kind != k {
				return nil, false
			}
			out[i] = e.text
			if numbers {
				out[i] = numberSetKey(e.text)
			}
		}
		slices.Sort(out)
		return out, true
	}
	a, ok := texts(lk.elements, elem)
	if !ok {
		return false
	}
	b, ok := texts(v.elements, jString)
	return ok && slices.Equal(a, b)
}
