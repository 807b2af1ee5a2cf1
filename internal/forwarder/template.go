package forwarder

import (
	"fmt"
	"sort"
	"strings"
)

// Variables a destination template may use. The layout ones come from
// keys written by the streamer (see objectkey) and are missing otherwise.
var (
	objectVars = []string{"bucket", "key", "name", "dir"}
	layoutVars = []string{"prefix", "table", "date", "hour", "stream", "first", "last"}
)

// Template is a destination with {variable} placeholders, such as
// /Volumes/main/cdc/landing/{table}/dt={date}/{name}.
type Template struct {
	raw   string
	parts []part
}

type part struct {
	lit      string
	variable string
}

// ParseTemplate parses s, rejecting unknown variables and stray braces.
func ParseTemplate(s string) (*Template, error) {
	known := map[string]bool{}
	for _, v := range append(append([]string{}, objectVars...), layoutVars...) {
		known[v] = true
	}
	t := &Template{raw: s}
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return nil, fmt.Errorf("template %q has a '}' without '{'", s)
		}
		if open < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("template %q has a '{' without '}'", s)
		}
		name := rest[open+1 : open+end]
		if !known[name] {
			names := make([]string, 0, len(known))
			for k := range known {
				names = append(names, "{"+k+"}")
			}
			sort.Strings(names)
			return nil, fmt.Errorf("template %q uses unknown variable {%s}; known: %s", s, name, strings.Join(names, " "))
		}
		if open > 0 {
			t.parts = append(t.parts, part{lit: rest[:open]})
		}
		t.parts = append(t.parts, part{variable: name})
		rest = rest[open+end+1:]
	}
	return t, nil
}

func (t *Template) String() string { return t.raw }

// Expand fills the template; mapValue, if not nil, rewrites each value.
func (t *Template) Expand(vars map[string]string, mapValue func(string) string) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.variable == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := vars[p.variable]
		if !ok {
			return "", fmt.Errorf("template %q needs {%s}, but the key does not follow the pipeline layout .../table=T/dt=D/hour=H/NAME", t.raw, p.variable)
		}
		if mapValue != nil {
			v = mapValue(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
