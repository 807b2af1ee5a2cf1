package streamer

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
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
	// errSum hashes the errors object's uncompressed lines as they are
	// added, for the key of an errors object named by its content.
	errSum hash.Hash
	sum    [sha256.Size]byte

	// first and last hold the batch's bounding sequence numbers, and
	// dataSeq/errSeq those of each object; all alias the payload.
	first, last     []byte
	dataSeq, errSeq [2][]byte
	dataFirst       []byte
	firstUnnamed    bool // the batch's first record has no sequence number
	lastUnnamed     bool // the batch's last record (so far) has none
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
		conv:   record.NewConverter(record.WithImageFormat(cfg.ImageFormat)),
		text:   make([]byte, 0, chunk+64<<10),
		gz:     gz,
		errGz:  errGz,
		errSum: sha256.New(),
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
	b.errSum.Reset()
	b.first, b.last = nil, nil
	b.dataSeq, b.errSeq = [2][]byte{}, [2][]byte{}
	b.dataFirst, b.firstUnnamed, b.lastUnnamed = nil, false, false
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
	b.lastUnnamed = seq == nil
	b.seqs = append(b.seqs, seq)
	if seq != nil {
		if b.first == nil {
			b.first = seq
		}
		b.last = seq
	}
	// Table and stream, and the time, each come from the first record that
	// has them: a record without a time still names its table.
	if b.table == nil && r.Table != nil {
		b.table, b.stream = r.Table, r.StreamLabel
	}
	if b.created.IsZero() && !r.Created.IsZero() {
		b.created = r.Created
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
	b.errSum.Write(l) // a hash.Hash never returns an error
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

// objectKey is where one object goes, and whether that name alone proves
// what the object holds. Only then may a 412 on If-None-Match count as
// "already written": the object already in S3 is then the one being
// written. A name that does not prove it could belong to other records,
// and counting its 412 as success would acknowledge records never stored.
type objectKey struct {
	name          string
	provesContent bool
}

// identity holds what names the batch's objects: the table and stream of
// the first record that has them, the time of the first record that has
// one, and the batch's first and last sequence numbers.
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

// bySequence reports whether the batch's stream and sequence range are
// known. A name <stream>-<first>-<last> then stands for exactly the
// shard's records from first to last: a shard never changes what lies
// between two of its sequence numbers, and Lambda retries a batch with the
// same records.
func (b *batch) bySequence() bool { return b.stream != nil && b.first != nil }

// dataKey names the data object. Every converted record has a sequence
// number, so each lies between the batch's first and last and the
// sequence name proves the data object's content.
func (b *batch) dataKey(prefix string) objectKey {
	return objectKey{name: objectkey.Data(b.identity(prefix)), provesContent: b.bySequence()}
}

// errorsKey names the errors object. Records without a sequence number can
// only be placed by their neighbours: one between two numbered records is
// pinned by the range, but one before the first or after the last numbered
// record is not (batches [5, 9, X] and [5, 9, Y] share the range 5-9). So
// the sequence name is used only when the batch's first and last records
// are both numbered; otherwise the object is named by the SHA-256 of its
// uncompressed content, which a retry of the same records reproduces and
// different records do not. Either way the name proves the content.
func (b *batch) errorsKey(prefix string) objectKey {
	id := b.identity(prefix)
	if b.bySequence() && !b.firstUnnamed && !b.lastUnnamed {
		return objectKey{name: objectkey.Errors(id), provesContent: true}
	}
	b.errSum.Sum(b.sum[:0])
	return objectKey{name: objectkey.ErrorsByContent(id, b.sum), provesContent: true}
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
