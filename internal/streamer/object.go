package streamer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/klauspost/compress/gzip"
)

// chunk is how much text an object gathers before compressing it: large
// enough to amortise each gzip Write, small enough to stay in cache.
const chunk = 256 << 10

// object builds one gzip-compressed JSON Lines object in memory: the data
// object and the errors object of a batch are each one. It keeps what
// naming, putting and the partial-failure rule need to know of it: how
// many lines it holds, the index and sequence number of its first record,
// the sequence numbers of its first and last records and, when asked
// for, the SHA-256 of its uncompressed content. It is reused across
// batches (reset), so a warm function allocates nothing for it.
type object struct {
	out    bytes.Buffer
	gz     *gzip.Writer
	text   []byte    // lines not yet compressed
	sum    hash.Hash // nil: no content hash kept
	digest [sha256.Size]byte

	lines int
	// first is the batch index of the first record; seq holds the first
	// and last records' sequence numbers (nil for a record without one),
	// aliasing the payload.
	first int
	seq   [2][]byte
}

// newObject returns an empty object compressing at level (validated by
// Config), with room for textCap bytes of pending text; hashed keeps the
// SHA-256 of its content, for objects named by it.
func newObject(level, textCap int, hashed bool) *object {
	gz, _ := gzip.NewWriterLevel(nil, level)
	o := &object{gz: gz, text: make([]byte, 0, textCap)}
	if hashed {
		o.sum = sha256.New()
	}
	o.reset()
	return o
}

// reset empties the object for the next batch, keeping its buffers.
func (o *object) reset() {
	o.out.Reset()
	o.gz.Reset(&o.out)
	o.text = o.text[:0]
	if o.sum != nil {
		o.sum.Reset()
	}
	o.lines, o.first, o.seq = 0, 0, [2][]byte{}
}

// add appends line and a newline; index and seq are those of the record
// it stands for, in stream order.
func (o *object) add(line []byte, index int, seq []byte) error {
	if o.lines == 0 {
		o.first, o.seq[0] = index, seq
	}
	o.seq[1] = seq
	o.lines++
	o.text = append(o.text, line...)
	o.text = append(o.text, '\n')
	if len(o.text) >= chunk {
		return o.compress()
	}
	return nil
}

// compress moves the pending text into the gzip stream (and the hash).
func (o *object) compress() error {
	if o.sum != nil {
		o.sum.Write(o.text) // a hash.Hash never returns an error
	}
	if _, err := o.gz.Write(o.text); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	o.text = o.text[:0]
	return nil
}

// close compresses what is pending and ends the gzip stream; the object
// is then complete.
func (o *object) close() error {
	if err := o.compress(); err != nil {
		return err
	}
	if err := o.gz.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// bytes is the compressed object, valid after close until reset.
func (o *object) bytes() []byte { return o.out.Bytes() }

// sha256 is the SHA-256 of the object's uncompressed content, after close;
// only for an object made with hashed.
func (o *object) sha256() [sha256.Size]byte {
	o.sum.Sum(o.digest[:0]) // into the object's own array: no allocation
	return o.digest
}
