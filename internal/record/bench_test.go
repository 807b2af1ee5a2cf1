package record

import (
	"testing"

	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

func BenchmarkConvertEvent(b *testing.B) {
	payload := eventgen.Event(eventgen.DefaultOptions())
	c := NewConverter()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ConvertEvent(payload, func(*Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
