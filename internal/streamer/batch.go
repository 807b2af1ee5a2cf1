package streamer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// chunk is how much converted text is gathered before it is compressed:
// large enough to amortise each Write, small enough to stay in cache.
const chunk = 256 << 10

// batch holds one invocation's working state; it is pooled so that a warm
// function reuses its buffers and gzip state across invocations.
type batch struct {
	conv  *record.Converter
	text  []byte
	out   bytes.Buffer
	gz    *gzip.Writer
	lines int

	errOut bytes.Buffer
	errGz  *gzip.Writer
	errs   []convError

	// first and last hold the batch's bounding sequence numbers, and
	// dataSeq/errSeq those of each object; all alias the payload.
	first, last     []byte
	dataSeq, errSeq [2][]byte
	dataFirst       []byte
	firstUnnamed    bool // the batch's first record has no sequence number
	table, stream   []byte
	created, oldest time.Time
	seqs            [][]byte
	line            []byte
}

type convError struct {
	index  int
	seq    string
	reason string
}

func newBatch(cfg Config) *batch {
	gz, _ := gzip.NewWriterLevel(nil, cfg.GzipLevel) // level validated by Config
	errGz, _ := gzip.NewWriterLevel(nil, cfg.GzipLevel)
	return &batch{
		conv:  record.NewConverter(record.WithImageFormat(cfg.ImageFormat)),
		text:  make([]byte, 0, chunk+64<<10),
		gz:    gz,
		errGz: errGz,
	}
}

func (b *batch) reset() {
	b.text = b.text[:0]
	b.out.Reset()
	b.errOut.Reset()
	b.gz.Reset(&b.out)
	b.errGz.Reset(&b.errOut)
	b.lines = 0
	b.errs = b.errs[:0]
	b.first, b.last = nil, nil
	b.dataSeq, b.errSeq = [2][]byte{}, [2][]byte{}
	b.dataFirst, b.firstUnnamed = nil, false
	b.table, b.stream = nil, nil
	b.created, b.oldest = time.Time{}, time.Time{}
	b.seqs = b.seqs[:0]
}

// add takes one record from the converter, in stream order.
func (b *batch) add(r *record.Record) error {
	seq := r.SequenceNumber
	if len(b.seqs) == 0 {
		b.firstUnnamed = seq == nil
	}
	b.seqs = append(b.seqs, seq)
	if seq != nil {
		if b.first == nil {
			b.first = seq
		}
		b.last = seq
	}
	if b.table == nil && r.Table != nil && !r.Created.IsZero() {
		b.table, b.stream, b.created = r.Table, r.StreamLabel, r.Created
	}
	if !r.Created.IsZero() && (b.oldest.IsZero() || r.Created.Before(b.oldest)) {
		b.oldest = r.Created
	}
	if r.Err != nil {
		return b.addError(r)
	}
	if b.lines == 0 {
		b.dataFirst = seq
		b.dataSeq[0] = seq
	}
	b.dataSeq[1] = seq
	b.lines++
	b.text = append(b.text, r.Line...)
	b.text = append(b.text, '\n')
	if len(b.text) >= chunk {
		return b.compress()
	}
	return nil
}

func (b *batch) compress() error {
	if _, err := b.gz.Write(b.text); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	b.text = b.text[:0]
	return nil
}

// addError keeps the raw record and why it failed as one JSON line.
func (b *batch) addError(r *record.Record) error {
	if len(b.errs) == 0 {
		b.errSeq[0] = r.SequenceNumber
	}
	b.errSeq[1] = r.SequenceNumber
	reason := r.Err.Error()
	b.errs = append(b.errs, convError{index: r.Index, seq: string(r.SequenceNumber), reason: reason})
	l := b.line[:0]
	l = append(l, `{"reason":`...)
	l = appendJSONString(l, reason)
	l = append(l, `,"index":`...)
	l = fmt.Appendf(l, "%d", r.Index)
	if r.SequenceNumber != nil {
		l = append(l, `,"sequenceNumber":"`...)
		l = append(l, r.SequenceNumber...)
		l = append(l, '"')
	}
	l = append(l, `,"record":`...)
	l = append(l, r.Raw...) // valid JSON: the converter validated the payload
	l = append(l, '}', '\n')
	b.line = l
	if _, err := b.errGz.Write(l); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(dst, q...)
}

// flush finishes both gzip streams.
func (b *batch) flush() error {
	if err := b.compress(); err != nil {
		return err
	}
	if err := b.gz.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := b.errGz.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// identity names the batch's objects: first record's table, stream and
// time, and the batch's first and last sequence numbers.
func (b *batch) identity(prefix string) objectkey.Batch {
	id := objectkey.Batch{
		Prefix: prefix, Table: string(b.table), Stream: string(b.stream),
		FirstSequence: string(b.first), LastSequence: string(b.last), Created: b.created,
	}
	if id.Table == "" {
		// Every record failed before naming its table: errors only.
		id.Table = "unknown"
	}
	if id.Stream == "" {
		id.Stream = "unknown"
	}
	if id.FirstSequence == "" {
		id.FirstSequence, id.LastSequence = "none", "none"
	}
	return id
}

// countFrom counts the records that Lambda will retry when told to resume
// at seq (or all of them, when the whole invocation fails).
func (b *batch) countFrom(seq []byte, whole bool) int {
	if whole || seq == nil {
		return len(b.seqs)
	}
	for i, s := range b.seqs {
		if s != nil && !seqLess(s, seq) {
			return len(b.seqs) - i
		}
	}
	return 0
}
