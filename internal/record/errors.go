package record

import (
	"fmt"
	"unicode/utf8"
)

// The package reports two kinds of failure, and callers must treat them
// differently: a *SyntaxError condemns the whole event (the payload is not
// valid JSON, so nothing gathered from it can be trusted), while a
// *ConversionError belongs to one record, which the rest of the batch
// survives.

// SyntaxError reports a payload that is not valid JSON.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// ConversionError explains why one record could not be converted.
type ConversionError struct {
	// Path locates the offending value, such as "dynamodb.NewImage.price".
	Path   string
	Reason string
}

func (e *ConversionError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// convErr returns a ConversionError without a path; the callers up the
// attribute tree add the path with within as the error passes them.
func convErr(format string, args ...any) *ConversionError {
	return &ConversionError{Reason: fmt.Sprintf(format, args...)}
}

// within prefixes the error's path with name, building paths only on the
// error path so that successful conversion allocates nothing.
func within(err error, name string) error {
	ce, ok := err.(*ConversionError)
	if !ok {
		return err
	}
	switch {
	case ce.Path == "":
		ce.Path = name
	case ce.Path[0] == '[':
		ce.Path = name + ce.Path
	default:
		ce.Path = name + "." + ce.Path
	}
	if len(ce.Path) > maxPath {
		k := maxPath
		for k > 0 && !utf8.RuneStart(ce.Path[k]) {
			k--
		}
		ce.Path = ce.Path[:k] + "…"
	}
	return ce
}

// maxPath bounds an error's path. A path through a value nested a hundred
// levels deep, or through names of up to 64 KB, would make a reason as
// long as the record; its outermost part says where to look, and the
// record is kept whole beside the reason.
const maxPath = 512

// callbackError carries the caller's own error out of the walk untouched.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
