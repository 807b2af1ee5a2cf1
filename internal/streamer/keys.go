package streamer

import "github.com/ddbstream/pipeline/internal/objectkey"

// objectKey is where one object goes, and whether that name alone proves
// what the object holds. Only then may a 412 on If-None-Match count as
// "already written": the object already in S3 is then the one being
// written. A name that does not prove it could belong to other records,
// and counting its 412 as success would acknowledge records never stored.
type objectKey struct {
	name          string
	provesContent bool
}

// key names one of the batch's objects (errorsObject or dataObject).
func (b *batch) key(which int, prefix string) objectKey {
	if which == errorsObject {
		return b.errorsKey(prefix)
	}
	return b.dataKey(prefix)
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
	return objectKey{name: objectkey.ErrorsByContent(id, b.errs().sha256()), provesContent: true}
}
