package fold

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// MaxLine bounds one line. A line holds a record's keys and at most two
// images of a 400 KB item; in the typed format, with escapes, a few MB.
const MaxLine = 32 << 20

// ObjectReader reads the lines of lake objects: gzip JSON Lines as the
// streamer writes them, or the same text uncompressed (an object whose
// Content-Encoding a client already undid). It keeps its buffers and
// decompressor between objects, so reuse one per goroutine.
type ObjectReader struct {
	gz   *gzip.Reader
	br   *bufio.Reader
	src  *bufio.Reader
	long []byte
}

// NewObjectReader returns an ObjectReader.
func NewObjectReader() *ObjectReader {
	return &ObjectReader{
		br:  bufio.NewReaderSize(nil, 256<<10),
		src: bufio.NewReaderSize(nil, 64<<10),
	}
}

// Read calls fn with every non-empty line of the object r holds, without
// its newline, and its number (from 1); the line is valid until fn
// returns. It stops at fn's first error and returns the number of lines.
func (o *ObjectReader) Read(r io.Reader, fn func(no int, line []byte) error) (int, error) {
	o.src.Reset(r)
	magic, _ := o.src.Peek(2)
	var text io.Reader = o.src
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if o.gz == nil {
			o.gz, err = gzip.NewReader(o.src)
		} else {
			err = o.gz.Reset(o.src)
		}
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		text = o.gz
	}
	o.br.Reset(text)
	n, no := 0, 0
	for {
		line, err := o.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			o.long = append(o.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(o.long) > MaxLine {
					return n, fmt.Errorf("line %d is longer than %d bytes", no+1, MaxLine)
				}
				line, err = o.br.ReadSlice('\n')
				o.long = append(o.long, line...)
			}
			line = o.long
		}
		if err != nil && err != io.EOF {
			return n, fmt.Errorf("line %d: %w", no+1, err)
		}
		if len(line) > 0 {
			no++
			line = bytes.TrimSuffix(line, []byte{'\n'})
			if len(line) > 0 {
				n++
				if ferr := fn(no, line); ferr != nil {
					return n, ferr
				}
			}
		}
		if err == io.EOF {
			return n, nil
		}
	}
}
