// Package fold turns the lake's lines for one table into each item's
// current state: the fold rule, defined once here, and the machinery that
// applies it to archives larger than memory.
//
// # The rule
//
// An item is identified by its line's keys field, written canonically by
// internal/record: the same bytes for a stream line, a snapshot line and
// record.Converter.AppendKeys of a Scan item, so identity is byte equality.
// Of all the lines of one item, the one with the greatest orderKey
// (internal/orderkey: compared as a plain string it orders an item's
// stream records and snapshot rows) decides the item's state:
//
//   - eventName REMOVE: the item is absent;
//   - a line with a newImage (INSERT, MODIFY, SNAPSHOT): the item is
//     present and its state is that newImage;
//   - INSERT or MODIFY without a newImage (a KEYS_ONLY or OLD_IMAGE
//     stream): the item exists but its state is unknown (StatusUnknown),
//     which a reconciliation must report as such, never as equal.
//
// Lines can arrive twice (README, "Delivery guarantees": a duplicate is
// byte-identical and keeps its sequence number, so its orderKey), and the
// order of objects is irrelevant: the winner is the maximum, so the result
// does not depend on the order lines are applied in, and a duplicate of the
// winner changes nothing. Two lines with the same orderKey but a different
// outcome cannot come from the pipeline; the item's state is then
// StatusConflict, whatever order they came in, until a line with a greater
// orderKey decides it.
//
// The same rule as SQL, for a consumer's "current state" view: rank an
// item's lines by orderKey descending and keep the first; drop it when its
// eventName is REMOVE.
//
// # Memory
//
// Folding needs one state per item, so an archive larger than memory is
// folded in partitions: Spill hash-partitions lines by their keys into N
// files on disk, holding nothing but its write buffers, and Walk then folds
// one partition at a time into a Table, re-partitioning on the fly any
// partition whose spill exceeds the memory budget. Other spills made with
// the same partitioning (a Scan of the live table, for one) are walked in
// step, so the same item lands in the same partition on both sides.
//
// Parse reads only the four fields the rule needs (keys, orderKey,
// eventName, newImage) with a minimal scanner that skips every other value
// structurally, which is what makes the fold fast.
package fold
