// Package orderkey defines the order key carried by every line the
// pipeline writes: a string that, compared as a plain string, orders all
// lines of one item correctly, stream records and snapshot rows alike.
//
// Why a new field: DynamoDB Streams sequence numbers have 21 to 40 digits
// (StreamRecord API reference), so they neither sort as strings nor fit
// DECIMAL(38), and a snapshot row from a table export has no sequence
// number at all. The key is
//
//	stream record: SSSSSSSSSSS "s" NNNN…(40 digits)
//	snapshot row:  SSSSSSSSSSS "b" 0000…(40 zeros)
//
// where SSSSSSSSSSS is a time in Unix seconds, zero-padded to 11 digits,
// and NNNN… the record's sequence number, zero-padded to 40 digits.
//
// For a stream record the time is its ApproximateCreationDateTime (whole
// seconds, as DynamoDB gives it). Records of one item are written in
// order, so their times never decrease and, within one second, their
// sequence numbers increase (also across a shard split: a child shard's
// numbers follow its parent's). Zero-padding makes string order numeric
// order whatever the number of digits.
//
// For a snapshot row the time is the export time less SnapshotMargin. AWS
// says an export reflects the table within about a minute of its export
// time, so a stream record created from SnapshotMargin before the export
// time on could be newer than the snapshot: it must win, and does, since
// its time is at least the snapshot's and "s" sorts after "b". A stream
// record created earlier is certainly older than the snapshot and loses
// to it, so a snapshot also repairs an item whose later changes the lake
// missed. A stream record older than the snapshot that wins anyway is
// harmless as long as the stream is complete from it on: its image, or a
// later record's, is the item's state. Of two snapshots the later export
// wins.
package orderkey
