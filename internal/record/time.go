package record

import (
	"bytes"
	"strconv"
	"time"
)

// parseEpochSeconds parses epoch seconds with an optional fraction without
// going through float64 (which would round sub-microsecond digits) in the
// common case.
func parseEpochSeconds(n []byte) (time.Time, bool) {
	if bytes.ContainsAny(n, "eE-") {
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f < 0 || f > 1e11 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9+0.5)).UTC(), true
	}
	intPart, frac, _ := bytes.Cut(n, []byte{'.'})
	if len(intPart) == 0 || len(intPart) > 11 {
		return time.Time{}, false
	}
	var sec, nsec int64
	for _, c := range intPart {
		sec = sec*10 + int64(c-'0')
	}
	scale := int64(1e8)
	for _, c := range frac {
		if scale == 0 {
			break
		}
		nsec += int64(c-'0') * scale
		scale /= 10
	}
	return time.Unix(sec, nsec).UTC(), true
}
