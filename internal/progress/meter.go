package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// State is one reading of the work's progress.
type State struct {
	// Phase names what is being done, such as "export".
	Phase string
	// Done of Total units; Total 0 means the amount is unknown, and no
	// bar is drawn.
	Done, Total int
	// Unit names what Done counts, such as "data files".
	Unit string
	// Detail says more, such as "IN_PROGRESS for 3m0s".
	Detail string
}

// Meter shows States. It is safe for concurrent use.
type Meter struct {
	w        io.Writer
	name     string
	terminal bool
	every    time.Duration
	now      func() time.Time

	mu        sync.Mutex
	lastLine  time.Time
	lastPhase string
	lastText  string
	drawn     bool
}

// barWidth is the bar's length in characters.
const barWidth = 30

// New returns a meter writing to w, its lines starting with name.
// terminal selects the redrawn bar; every bounds how often a plain line
// is written (default 30s).
func New(w io.Writer, name string, terminal bool, every time.Duration) *Meter {
	if every <= 0 {
		every = 30 * time.Second
	}
	return &Meter{w: w, name: name, terminal: terminal, every: every, now: time.Now}
}

// IsTerminal reports whether f is a terminal (a character device), where
// a redrawn bar is readable; anything else gets plain lines.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update shows s: on a terminal by redrawing the bar line; otherwise as a
// line when the phase changed, the work is complete, or a plain line is
// due.
func (m *Meter) Update(s State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	text := m.text(s)
	if m.terminal {
		// \r and erase-line redraw the one line in place.
		fmt.Fprintf(m.w, "\r\x1b[K%s", text)
		m.drawn = true
		return
	}
	now := m.now()
	complete := s.Total > 0 && s.Done >= s.Total
	due := s.Phase != m.lastPhase || complete || now.Sub(m.lastLine) >= m.every
	if !due || text == m.lastText {
		return
	}
	fmt.Fprintln(m.w, text)
	m.lastLine, m.lastPhase, m.lastText = now, s.Phase, text
}

// Done ends the bar's line, so that what follows starts on a line of its
// own; it does nothing without a terminal.
func (m *Meter) Done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.terminal && m.drawn {
		fmt.Fprintln(m.w)
		m.drawn = false
	}
}

func (m *Meter) text(s State) string {
	var b strings.Builder
	b.WriteString(m.name)
	b.WriteString(": ")
	b.WriteString(s.Phase)
	if s.Total > 0 {
		done := min(max(s.Done, 0), s.Total)
		if m.terminal {
			filled := done * barWidth / s.Total
			fmt.Fprintf(&b, " [%s%s]", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled))
		}
		fmt.Fprintf(&b, " %d/%d", s.Done, s.Total)
		if s.Unit != "" {
			b.WriteString(" " + s.Unit)
		}
	}
	if s.Detail != "" {
		b.WriteString(", " + s.Detail)
	}
	return b.String()
}
