package eventgen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Options describes the event to generate.
type Options struct {
	// Records is the number of stream records.
	Records int
	// ItemBytes is the approximate size of each item image in DynamoDB JSON.
	ItemBytes int
	// Table names the table in eventSourceARN.
	Table string
	// Start is the creation time of the first record; records are spaced
	// one millisecond apart.
	Start time.Time
	// FirstSequence numbers the first record; later records count up from
	// it in steps of 100. Sequence numbers are written as 28 digits, the
	// shape DynamoDB uses, so they sort as text in stream order.
	FirstSequence uint64
	// Seed makes the content reproducible.
	Seed uint64
}

// DefaultOptions describes a batch just under the 6 MB invoke payload cap:
// 8,500 small records, the largest batch of this shape an event source
// mapping can hand to one invocation.
func DefaultOptions() Options {
	return Options{
		Records:       8500,
		ItemBytes:     200,
		Table:         "Orders",
		Start:         time.Date(2026, 11, 22, 17, 4, 5, 0, time.UTC),
		FirstSequence: 1000000,
		Seed:          1,
	}
}

// StreamARN returns the stream ARN used for o.Table.
func (o Options) StreamARN() string {
	return "arn:aws:dynamodb:eu-west-1:123456789012:table/" + o.Table + "/stream/2026-11-01T00:00:00.000"
}

// Event returns a compact Lambda DynamoDB Streams event. Records cycle
// through INSERT, MODIFY and REMOVE on a NEW_AND_OLD_IMAGES stream, with
// every tenth REMOVE made by TTL (70% inserts, 20% modifies, 10% removes).
func Event(o Options) []byte {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	var b strings.Builder
	b.Grow(o.Records * (o.ItemBytes*2 + 600))
	arn := o.StreamARN()
	b.WriteString(`{"Records":[`)
	for i := 0; i < o.Records; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		name := "INSERT"
		switch r := i % 10; {
		case r >= 7 && r < 9:
			name = "MODIFY"
		case r == 9:
			name = "REMOVE"
		}
		id := i / 3
		created := o.Start.Add(time.Duration(i) * time.Millisecond)
		fmt.Fprintf(&b, `{"eventID":"%032x","eventName":"%s","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1",`,
			rng.Uint64()<<1|uint64(i), name)
		if name == "REMOVE" && i%100 == 99 {
			b.WriteString(`"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},`)
		}
		// Lambda rounds ApproximateCreationDateTime down to whole seconds.
		ts := strconv.FormatInt(created.Unix(), 10)
		fmt.Fprintf(&b, `"dynamodb":{"ApproximateCreationDateTime":%s,"Keys":{"pk":{"S":"customer#%d"},"sk":{"S":"order#%08d"}},`, ts, id%500, id)
		size := 0
		if name != "REMOVE" {
			b.WriteString(`"NewImage":`)
			size += item(&b, rng, o.ItemBytes, id, 2)
			b.WriteByte(',')
		}
		if name != "INSERT" {
			b.WriteString(`"OldImage":`)
			size += item(&b, rng, o.ItemBytes, id, 1)
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"SequenceNumber":"%s","SizeBytes":%d,"StreamViewType":"NEW_AND_OLD_IMAGES"},"eventSourceARN":"%s"}`,
			Sequence(o.FirstSequence+uint64(i)*100), size, arn)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// Sequence formats n as a 28-digit DynamoDB-style sequence number.
func Sequence(n uint64) string { return fmt.Sprintf("4421584500%018d", n) }

var statuses = []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"}

// item writes an order-shaped item of about size bytes and returns its size.
func item(b *strings.Builder, rng *rand.Rand, size, id, version int) int {
	start := b.Len()
	fmt.Fprintf(b, `{"pk":{"S":"customer#%d"},"sk":{"S":"order#%08d"},"v":{"N":"%d"},"status":{"S":"%s"},`,
		id%500, id, version, statuses[rng.IntN(len(statuses))])
	fmt.Fprintf(b, `"total":{"N":"%d.%02d"},"ok":{"BOOL":%t},"tag":{"SS":["web"]},`,
		rng.IntN(100000), rng.IntN(100), rng.IntN(2) == 1)
	fmt.Fprintf(b, `"line":{"M":{"sku":{"S":"S%d"},"qty":{"N":"%d"}}}`, rng.IntN(99999), 1+rng.IntN(5))
	if pad := size - (b.Len() - start) - len(`,"note":{"S":""}}`); pad > 0 {
		b.WriteString(`,"note":{"S":"`)
		raw := make([]byte, pad*3/4)
		for k := range raw {
			raw[k] = byte(rng.Uint32())
		}
		b.WriteString(base64.RawURLEncoding.EncodeToString(raw)[:min(pad, base64.RawURLEncoding.EncodedLen(len(raw)))])
		b.WriteString(`"}`)
	}
	b.WriteByte('}')
	return b.Len() - start
}
