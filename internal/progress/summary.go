package progress

import (
	"fmt"
	"io"
	"strings"
)

// Summary is the block of "name: value" lines a command ends with, values
// aligned so that the eye finds them.
type Summary struct {
	rows [][2]string
}

// Add appends a line; an empty value is skipped, so that optional facts
// need no condition at the caller.
func (s *Summary) Add(name, value string) {
	if value != "" {
		s.rows = append(s.rows, [2]string{name, value})
	}
}

// Addf appends a formatted line.
func (s *Summary) Addf(name, format string, args ...any) { s.Add(name, fmt.Sprintf(format, args...)) }

// WriteTo writes the lines.
func (s *Summary) WriteTo(w io.Writer) (int64, error) {
	width := 0
	for _, r := range s.rows {
		width = max(width, len(r[0]))
	}
	var b strings.Builder
	for _, r := range s.rows {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, r[0]+":", r[1])
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
