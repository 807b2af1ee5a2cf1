package eventrule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Matches reports whether EventBridge would deliver event to a rule with
// pattern, for the operators this project uses: a field's array lists
// alternatives (exact values, {"prefix"}, {"suffix"}, {"wildcard"}); an
// object nests; every field of the pattern must match, and a field absent
// from the event does not. Where the event holds an array, one matching
// element is enough. Any other operator ("anything-but", "exists",
// "numeric", "$or", …) or a malformed pattern is an error, because
// guessing would let the local pipeline deliver what AWS would not.
// See https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
func Matches(pattern map[string]any, event []byte) (bool, error) {
	n, err := compilePattern(pattern)
	if err != nil {
		return false, err
	}
	ev, err := decode(event)
	if err != nil {
		return false, fmt.Errorf("event: %w", err)
	}
	obj, ok := ev.(map[string]any)
	if !ok {
		return false, errors.New("event is not a JSON object")
	}
	return n.match(obj), nil
}

// node is a compiled object of a pattern: every field must match.
type node struct {
	fields []field
}

// field is one pattern field: either a nested object or a list of
// alternative conditions on a value.
type field struct {
	name  string
	sub   *node
	conds []cond
}

type condKind int

const (
	exact condKind = iota
	prefix
	suffix
	wildcard
)

type cond struct {
	kind condKind
	// value is the exact value (string, json.Number, bool or nil).
	value any
	// text is the prefix or suffix.
	text string
	// segs are a wildcard's literal parts, one more than its stars.
	segs []string
}

// compilePattern checks the whole pattern before anything is matched, so
// that an unsupported operator is reported even where matching would have
// stopped earlier.
func compilePattern(pattern map[string]any) (*node, error) {
	if pattern == nil {
		return nil, errors.New("pattern is nil")
	}
	// A JSON round trip accepts documents built in Go ([]string values,
	// for example) and numbers as json.Number, like the event.
	b, err := json.Marshal(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern is not JSON: %w", err)
	}
	v, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	return compileObject(v.(map[string]any), "")
}

func compileObject(obj map[string]any, path string) (*node, error) {
	if len(obj) == 0 {
		return nil, fmt.Errorf("pattern object %s is empty", where(path))
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	n := &node{}
	for _, name := range names {
		p := name
		if path != "" {
			p = path + "." + name
		}
		if name == "$or" {
			return nil, fmt.Errorf("pattern field %s: $or is not supported", p)
		}
		switch v := obj[name].(type) {
		case map[string]any:
			sub, err := compileObject(v, p)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name: name, sub: sub})
		case []any:
			conds, err := compileConds(v, p)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name: name, conds: conds})
		default:
			return nil, fmt.Errorf("pattern field %s is %s; want an array of values or an object", p, describe(v))
		}
	}
	return n, nil
}

func compileConds(list []any, path string) ([]cond, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("pattern field %s has no values", path)
	}
	conds := make([]cond, 0, len(list))
	for _, v := range list {
		switch v := v.(type) {
		case string, json.Number, bool, nil:
			conds = append(conds, cond{kind: exact, value: v})
		case map[string]any:
			c, err := compileOperator(v, path)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		default:
			return nil, fmt.Errorf("pattern field %s holds %s; want a value or an operator", path, describe(v))
		}
	}
	return conds, nil
}

func compileOperator(op map[string]any, path string) (cond, error) {
	if len(op) != 1 {
		return cond{}, fmt.Errorf("pattern field %s: an operator object has one key, not %d", path, len(op))
	}
	var name string
	var arg any
	for k, v := range op { // the only key
		name, arg = k, v
	}
	s, isString := arg.(string)
	switch {
	case name == "prefix" && isString:
		return cond{kind: prefix, text: s}, nil
	case name == "suffix" && isString:
		return cond{kind: suffix, text: s}, nil
	case name == "wildcard" && isString:
		segs, err := parseWildcard(s)
		if err != nil {
			return cond{}, fmt.Errorf("pattern field %s: %w", path, err)
		}
		return cond{kind: wildcard, segs: segs}, nil
	}
	return cond{}, fmt.Errorf("pattern field %s: operator %q with %s is not supported", path, name, describe(arg))
}

// parseWildcard splits a wildcard filter at its unescaped stars. As in
// EventBridge, '\' escapes only '*' and '\', and two stars may not follow
// each other.
func parseWildcard(s string) ([]string, error) {
	var segs []string
	var cur strings.Builder
	star := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) || s[i+1] != '*' && s[i+1] != '\\' {
				return nil, fmt.Errorf("wildcard %q: '\\' may only escape '*' or '\\'", s)
			}
			i++
			cur.WriteByte(s[i])
			star = false
		case '*':
			if star {
				return nil, fmt.Errorf("wildcard %q has consecutive '*'", s)
			}
			segs = append(segs, cur.String())
			cur.Reset()
			star = true
		default:
			cur.WriteByte(c)
			star = false
		}
	}
	return append(segs, cur.String()), nil
}

func (n *node) match(obj map[string]any) bool {
	for _, f := range n.fields {
		v, ok := obj[f.name]
		if !ok || !f.match(v) {
			return false
		}
	}
	return true
}

func (f field) match(v any) bool {
	if list, ok := v.([]any); ok {
		for _, e := range list {
			if f.match(e) {
				return true
			}
		}
		return false
	}
	if f.sub != nil {
		obj, ok := v.(map[string]any)
		return ok && f.sub.match(obj)
	}
	for _, c := range f.conds {
		if c.match(v) {
			return true
		}
	}
	return false
}

func (c cond) match(v any) bool {
	if c.kind == exact {
		return equal(c.value, v)
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	switch c.kind {
	case prefix:
		return strings.HasPrefix(s, c.text)
	case suffix:
		return strings.HasSuffix(s, c.text)
	}
	return matchWildcard(c.segs, s)
}

// matchWildcard matches s against literal parts that stars separate: the
// first part anchors the start, the last the end, and the middle ones are
// taken leftmost, which finds a match whenever there is one.
func matchWildcard(segs []string, s string) bool {
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	if !strings.HasSuffix(s, last) {
		return false
	}
	s = s[:len(s)-len(last)]
	for _, mid := range segs[1 : len(segs)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

func equal(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string, bool:
		return w == got
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return false
		}
		wf, err1 := strconv.ParseFloat(string(w), 64)
		gf, err2 := strconv.ParseFloat(string(g), 64)
		return err1 == nil && err2 == nil && wf == gf
	}
	return false
}

// decode reads exactly one JSON value, numbers kept as json.Number.
func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func where(path string) string {
	if path == "" {
		return "at the top"
	}
	return path
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return fmt.Sprintf("%t", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
