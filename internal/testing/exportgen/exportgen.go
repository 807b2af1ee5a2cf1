// Package exportgen writes realistic DynamoDB table export data files
// (DYNAMODB_JSON lines, {"Item":{...}}), for the converter's tests and
// cmd/exportbench: order-shaped items of a table keyed by pk (S) and
// sk (S), with every attribute type, nested maps and lists, prose from a
// small vocabulary (so the text compresses as real text does) and some
// binary. The same options always give the same bytes.
package exportgen

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
)

// Options describes a data file.
type Options struct {
	// Bytes is the uncompressed size to reach: items are written until
	// the text is at least this long. Items, when positive, is the number
	// of items instead.
	Bytes int64
	Items int64
	// ItemBytes is the approximate average size of an item's line.
	ItemBytes int
	// Seed makes the content reproducible.
	Seed uint64
}

// DefaultItemBytes is the average line size: DynamoDB items are billed in
// 1 KB units, and most tables' items are a few hundred bytes to a few KB.
const DefaultItemBytes = 1000

// PartitionKey and SortKey are the generated table's key schema.
const (
	PartitionKey = "pk"
	SortKey      = "sk"
)

var words = []string{"shipped", "express", "warehouse", "customer", "priority", "standard", "return", "gift", "wrap",
	"invoice", "paid", "pending", "berlin", "paris", "london", "madrid", "rome", "delivery", "window", "morning",
	"evening", "fragile", "handle", "with", "care", "the", "and", "for", "please", "leave", "at", "door",
	"signature", "required", "café", "größe", "東京", "\"quoted\"", "tab\there", "new\nline"}

var statuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"}

// Write writes a data file's text (uncompressed) to w and returns the
// items and bytes written.
func Write(w io.Writer, o Options) (items, n int64, err error) {
	if o.ItemBytes <= 0 {
		o.ItemBytes = DefaultItemBytes
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	for (o.Items > 0 && items < o.Items) || (o.Items <= 0 && n < o.Bytes) {
		line = Item(line[:0], rng, items, o.ItemBytes)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return items, n, err
		}
		items++
		n += int64(len(line))
	}
	return items, n, bw.Flush()
}

// Item appends the id'th item's line, without its newline, of about size
// bytes.
func Item(b []byte, rng *rand.Rand, id int64, size int) []byte {
	start := len(b)
	b = fmt.Appendf(b, `{"Item":{"pk":{"S":"customer#%d"},"sk":{"S":"order#%010d"},"version":{"N":"%d"},"status":{"S":"%s"},`,
		id%5000, id, 1+rng.IntN(9), statuses[rng.IntN(len(statuses))])
	b = fmt.Appendf(b, `"total":{"N":"%d.%02d"},"paid":{"BOOL":%t},"coupon":{"NULL":true},"tags":{"SS":["web","`,
		rng.IntN(100000), rng.IntN(100), rng.IntN(2) == 1)
	b = appendJSONText(b, words[rng.IntN(len(words))])
	b = append(b, `"]},`...)
	b = fmt.Appendf(b, `"placedAt":{"N":"%d"},"address":{"M":{"city":{"S":"%s"},"zip":{"S":"%05d"},"geo":{"M":{"lat":{"N":"%d.%07d"},"lon":{"N":"-%d.%07d"}}}}},`,
		1795449600+id, words[12+rng.IntN(5)], rng.IntN(100000), rng.IntN(90), rng.IntN(1e7), rng.IntN(180), rng.IntN(1e7))
	b = append(b, `"lines":{"L":[`...)
	for i, n := 0, 1+rng.IntN(3); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"M":{"sku":{"S":"SKU-%05d"},"qty":{"N":"%d"},"price":{"N":"%d.%02d"}}}`, rng.IntN(99999), 1+rng.IntN(5), rng.IntN(500), rng.IntN(100))
	}
	b = append(b, `]},"scores":{"NS":["1","2.5","-0.03"]},`...)
	raw := make([]byte, 12)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	b = append(b, `"token":{"B":"`...)
	b = base64.StdEncoding.AppendEncode(b, raw)
	b = append(b, `"},"note":{"S":"`...)
	target := start + size - 3 + rng.IntN(size/2+1) - size/4
	for first := true; len(b) < target || first; first = false {
		if !first {
			b = append(b, ' ')
		}
		b = appendJSONText(b, words[rng.IntN(len(words))])
	}
	b = append(b, `"}}}`...)
	return b
}

// appendJSONText appends s as the content of a JSON string, escaping as
// DynamoDB's export does for the few characters the vocabulary has.
func appendJSONText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
