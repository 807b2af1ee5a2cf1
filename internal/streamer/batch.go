package streamer

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ddbstream/pipeline/internal/record"
)

// The objects of a batch, in the order they are put. The errors object
// goes first and a failed put stops the batch: when it fails nothing is
// durable and Lambda resumes at the batch's start; when the data object
// fails after it, Lambda resumes at the first data record. Either way a
// retry never covers data already durable under another key.
const (
	errorsObject = iota
	dataObject
)

// batch holds one invocation's working state; it is pooled so that a warm
// function reuses its buffers and gzip state across invocations.
type batch struct {
	conv *record.Converter
	// objects are the errors and data objects, in put order.
	objects [2]*object
	// logged keeps the first maxErrorLines records not converted, for the
	// log; the errors object keeps every one.
	logged []convError
	line   []byte // scratch for an errors line

	// records counts the records seen. first and last are the batch's
	// lowest and highest sequence numbers, aliasing the payload, and
	// firstUnnamed and lastUnnamed say its first and last (so far) records
	// have none.
	records                   int
	first, last               []byte
	firstUnnamed, lastUnnamed bool
	// table and stream come from the first record that names them, and
	// created from the first that has a time; oldest is the oldest time.
	table, stream   []byte
	created, oldest time.Time

	puts []put // scratch for the partial-failure rule
}

// convError is a record not converted, as the log reports it.
type convError struct {
	index  int
	seq    string
	reason string
}

// maxErrorLines bounds per-record error lines in the log; the metric and
// the _errors object still count and keep every record.
const maxErrorLines = 20

func newBatch(cfg Config) *batch {
	return &batch{
		conv: record.NewConverter(record.WithImageFormat(cfg.ImageFormat)),
		objects: [2]*object{
			// Named by its content when sequence numbers cannot prove it.
			errorsObject: newObject(cfg.GzipLevel, 0, true),
			dataObject:   newObject(cfg.GzipLevel, chunk+64<<10, false),
		},
	}
}

func (b *batch) reset() {
	for _, o := range b.objects {
		o.reset()
	}
	b.logged = b.logged[:0]
	b.records = 0
	b.first, b.last = nil, nil
	b.firstUnnamed, b.lastUnnamed = false, false
	b.table, b.stream = nil, nil
	b.created, b.oldest = time.Time{}, time.Time{}
	b.puts = b.puts[:0]
}

// data is the object of the converted records.
func (b *batch) data() *object { return b.objects[dataObject] }

// errs is the object of the records not converted.
func (b *batch) errs() *object { return b.objects[errorsObject] }

// add takes one record from the converter, in stream order.
func (b *batch) add(r *record.Record) error {
	pos, seq := b.records, r.SequenceNumber
	b.records++
	if pos == 0 {
		b.firstUnnamed = seq == nil
	}
	b.lastUnnamed = seq == nil
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
		return b.addError(r, pos)
	}
	return b.data().add(r.Line, pos, seq)
}

// addError keeps the raw record and why it failed as one JSON line.
func (b *batch) addError(r *record.Record, pos int) error {
	reason := r.Err.Error()
	if len(b.logged) < maxErrorLines {
		b.logged = append(b.logged, convError{index: r.Index, seq: string(r.SequenceNumber), reason: reason})
	}
	l := b.line[:0]
	l = append(l, `{"reason":`...)
	l = appendJSONString(l, reason)
	l = append(l, `,"index":`...)
	l = strconv.AppendInt(l, int64(r.Index), 10)
	if r.SequenceNumber != nil {
		l = append(l, `,"sequenceNumber":"`...)
		l = append(l, r.SequenceNumber...)
		l = append(l, '"')
	}
	l = append(l, `,"record":`...)
	l = appendOneLine(l, r.Raw) // valid JSON: the converter validated the payload
	l = append(l, '}')
	b.line = l
	return b.errs().add(l, pos, r.SequenceNumber)
}

// appendOneLine appends raw, valid JSON, with its line breaks turned into
// spaces, so that a record fed pretty-printed stays on its errors line. A
// JSON string cannot hold a raw line break, so every one is whitespace
// between tokens and the record's value is unchanged.
func appendOneLine(dst, raw []byte) []byte {
	start := len(dst)
	dst = append(dst, raw...)
	for i, c := range dst[start:] {
		if c == '\n' || c == '\r' {
			dst[start+i] = ' '
		}
	}
	return dst
}

func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(dst, q...)
}

// close completes both objects.
func (b *batch) close() error {
	for _, o := range b.objects {
		if err := o.close(); err != nil {
			return err
		}
	}
	return nil
}
