package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainLinesAtPhaseChangesAndIntervals(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)}
	m := New(&out, "ddbstream backfill", false, time.Minute)
	m.now = c.now
	steps := []struct {
		advance time.Duration
		state   State
	}{
		{0, State{Phase: "export", Detail: "IN_PROGRESS for 0s"}},
		{10 * time.Second, State{Phase: "export", Detail: "IN_PROGRESS for 10s"}}, // not due
		{time.Minute, State{Phase: "export", Detail: "IN_PROGRESS for 1m10s"}},    // due
		{time.Second, State{Phase: "convert", Done: 0, Total: 4, Unit: "data files"}},
		{time.Second, State{Phase: "convert", Done: 1, Total: 4, Unit: "data files"}}, // not due
		{time.Second, State{Phase: "convert", Done: 4, Total: 4, Unit: "data files"}}, // complete
	}
	for _, s := range steps {
		c.t = c.t.Add(s.advance)
		m.Update(s.state)
	}
	m.Done()
	expect := strings.Join([]string{
		"ddbstream backfill: export, IN_PROGRESS for 0s",
		"ddbstream backfill: export, IN_PROGRESS for 1m10s",
		"ddbstream backfill: convert 0/4 data files",
		"ddbstream backfill: convert 4/4 data files",
		"",
	}, "\n")
	if got := out.String(); got != expect {
		t.Errorf("lines:\ngot    %q\nexpect %q", got, expect)
	}
}

func TestTerminalBarRedrawsOneLine(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, "b", true, 0)
	m.Update(State{Phase: "convert", Done: 1, Total: 3, Unit: "files"})
	m.Update(State{Phase: "convert", Done: 3, Total: 3, Unit: "files", Detail: "1 errors object"})
	m.Done()
	m.Done() // a second Done writes nothing
	expect := "\r\x1b[Kb: convert [##########....................] 1/3 files" +
		"\r\x1b[Kb: convert [##############################] 3/3 files, 1 errors object\n"
	if got := out.String(); got != expect {
		t.Errorf("output:\ngot    %q\nexpect %q", got, expect)
	}
}

func TestSummaryAligns(t *testing.T) {
	var s Summary
	s.Add("export", "arn:1")
	s.Add("skipped", "")
	s.Addf("converted objects", "%d", 3)
	var out bytes.Buffer
	if _, err := s.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	expect := "export:             arn:1\nconverted objects:  3\n"
	if got := out.String(); got != expect {
		t.Errorf("summary:\ngot    %q\nexpect %q", got, expect)
	}
}
