package orderkey

import (
	"fmt"
	"strings"
	"time"
)

// SnapshotMargin is how long before its export time a snapshot row ranks:
// AWS documents export times as accurate to about a minute, and a wider
// margin only lets more stream records, which are as new or newer, win.
const SnapshotMargin = 5 * time.Minute

// Len is the length of every order key.
const Len = secondsDigits + 1 + sequenceDigits

const (
	secondsDigits  = 11
	sequenceDigits = 40
	streamKind     = 's'
	snapshotKind   = 'b'
)

// Stream returns the order key of a stream record created at created (its
// ApproximateCreationDateTime) with sequence number seq: 1 to 40 decimal
// digits.
func Stream(created time.Time, seq string) (string, error) {
	if err := checkSequence(seq); err != nil {
		return "", err
	}
	b := make([]byte, 0, Len)
	return string(AppendStream(b, created, []byte(seq))), nil
}

// AppendStream appends a stream record's order key to dst without
// allocating; seq must already be valid (1 to 40 digits), as the record
// converter checks.
func AppendStream(dst []byte, created time.Time, seq []byte) []byte {
	dst = appendSeconds(dst, created)
	dst = append(dst, streamKind)
	for i := len(seq); i < sequenceDigits; i++ {
		dst = append(dst, '0')
	}
	return append(dst, seq...)
}

// Snapshot returns the order key of every row of a table export taken at
// exportTime.
func Snapshot(exportTime time.Time) string {
	b := appendSeconds(make([]byte, 0, Len), exportTime.Add(-SnapshotMargin))
	b = append(b, snapshotKind)
	return string(append(b, strings.Repeat("0", sequenceDigits)...))
}

func appendSeconds(dst []byte, t time.Time) []byte {
	s := t.Unix()
	if s < 0 {
		s = 0 // before 1970: no DynamoDB record is
	}
	var digits [secondsDigits]byte
	for i := secondsDigits - 1; i >= 0; i-- {
		digits[i] = byte('0' + s%10)
		s /= 10
	}
	return append(dst, digits[:]...)
}

func checkSequence(seq string) error {
	if len(seq) == 0 || len(seq) > sequenceDigits {
		return fmt.Errorf("sequence number %q: want 1 to %d digits", seq, sequenceDigits)
	}
	for i := 0; i < len(seq); i++ {
		if seq[i] < '0' || seq[i] > '9' {
			return fmt.Errorf("sequence number %q: want decimal digits only", seq)
		}
	}
	return nil
}

// Parts are the pieces of an order key, for diagnostics.
type Parts struct {
	// Time is the record's creation time, or a snapshot's export time less
	// SnapshotMargin.
	Time time.Time
	// Snapshot is set for snapshot rows.
	Snapshot bool
	// Sequence is the stream record's sequence number without padding;
	// empty for snapshot rows.
	Sequence string
}

// Parse reads an order key back.
func Parse(key string) (Parts, error) {
	if len(key) != Len {
		return Parts{}, fmt.Errorf("order key %q: want %d characters", key, Len)
	}
	var secs int64
	for _, c := range key[:secondsDigits] {
		if c < '0' || c > '9' {
			return Parts{}, fmt.Errorf("order key %q: time is not digits", key)
		}
		secs = secs*10 + int64(c-'0')
	}
	p := Parts{Time: time.Unix(secs, 0).UTC()}
	seq := key[secondsDigits+1:]
	if err := checkSequence(seq); err != nil {
		return Parts{}, fmt.Errorf("order key %q: %w", key, err)
	}
	switch key[secondsDigits] {
	case snapshotKind:
		if strings.Trim(seq, "0") != "" {
			return Parts{}, fmt.Errorf("order key %q: a snapshot row has no sequence number", key)
		}
		p.Snapshot = true
	case streamKind:
		p.Sequence = strings.TrimLeft(seq, "0")
		if p.Sequence == "" {
			p.Sequence = "0"
		}
	default:
		return Parts{}, fmt.Errorf("order key %q: kind %q is neither %q nor %q", key, key[secondsDigits], streamKind, snapshotKind)
	}
	return p, nil
}
