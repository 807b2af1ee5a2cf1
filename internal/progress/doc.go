// Package progress shows how an operator command's long work advances
// and how it ended: a Meter draws a bar, redrawn in place, when its output
// is a terminal, and otherwise (a log file, CI, a pipe) writes a plain
// line at each change of phase and at most once per interval, so that a
// log stays readable and still shows the command is alive; a Summary is
// the aligned "name: value" block a command ends with.
package progress
