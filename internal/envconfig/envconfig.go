package envconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reader reads typed values, collecting errors instead of stopping at the
// first, so one deploy shows every mistake.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns a Reader over lookup, usually os.LookupEnv.
func New(lookup func(string) (string, bool)) *Reader { return &Reader{lookup: lookup} }

func (r *Reader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Fail records that name holds value, which is not of the form want.
func (r *Reader) Fail(name, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

// Required returns the value of name, recording an error when it is unset.
func (r *Reader) Required(name, want string) string {
	v, ok := r.get(name)
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s is not set: want %s", name, want))
	}
	return v
}

// String returns the value of name, or def when it is unset.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// OneOf returns the value of name, which must be one of allowed, or def.
func (r *Reader) OneOf(name, def string, allowed ...string) string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.Fail(name, v, "one of "+strings.Join(allowed, ", "))
	return def
}

// Int returns the whole number in name, from lo to hi, or def.
func (r *Reader) Int(name string, def, lo, hi int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.Fail(name, v, fmt.Sprintf("a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

// Bool returns the boolean in name (true/false/1/0), or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.Fail(name, v, "true or false")
		return def
	}
	return b
}

// Duration returns the Go duration in name (such as 2s or 500ms), from lo
// to hi, or def.
func (r *Reader) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.Fail(name, v, fmt.Sprintf("a duration from %s to %s, such as 2s", lo, hi))
		return def
	}
	return d
}

// Check records err, if any, as a problem with name's value.
func (r *Reader) Check(name, value string, err error) {
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, value, err))
	}
}

// Err returns every recorded problem, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(r.errs...))
}
