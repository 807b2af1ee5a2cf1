package record

import "time"

// Record is one stream record as seen by the converter. Its byte slices
// alias the payload or the converter's buffers and are valid only until the
// callback returns.
type Record struct {
	// Index is the record's position in the event's Records array.
	Index int
	// Raw is the record's JSON exactly as received.
	Raw []byte
	// Line is the converted JSON line without a trailing newline; nil when
	// Err is set.
	Line []byte
	// Err says why the record could not be converted.
	Err *ConversionError
	// SequenceNumber is the record's dynamodb.SequenceNumber, nil when it is
	// missing or not a string of digits.
	SequenceNumber []byte
	// Table and StreamLabel come from eventSourceARN; nil when it is missing
	// or malformed.
	Table, StreamLabel []byte
	// Created is dynamodb.ApproximateCreationDateTime; zero when missing.
	Created time.Time
}

// Converter turns Lambda DynamoDB Streams events into JSON lines. It keeps
// scratch buffers between calls, so reuse one per goroutine.
type Converter struct {
	format                 ImageFormat
	keys, newImage, oldImg []byte
	line                   []byte
	rec                    Record
	f                      envelope

	// kbuf and kspans gather key attributes before they are sorted, and
	// unq holds a string with its escapes resolved (keys.go). resolved
	// does for a member name or a number what unq does for a key (name,
	// attribute.go), so that resolving a name never overwrites a key.
	kbuf     []byte
	kspans   []keySpan
	unq      []byte
	resolved []byte
	// snapKey is the order key of snapshot rows exported at snapTime, kept
	// because orderkey.Snapshot allocates it.
	snapTime time.Time
	snapKey  string
}

// Option configures a Converter.
type Option func(*Converter)

// WithImageFormat sets how images are written; the default is Plain.
func WithImageFormat(f ImageFormat) Option { return func(c *Converter) { c.format = f } }

// NewConverter returns a Converter.
func NewConverter(opts ...Option) *Converter {
	c := &Converter{}
	for _, o := range opts {
		o(c)
	}
	return c
}
