package fold

import (
	"fmt"
	"testing"

	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

// BenchmarkParse parses an order-shaped MODIFY line, the fold's most
// common input.
func BenchmarkParse(b *testing.B) {
	img := func(v int) string {
		return fmt.Sprintf(`{"pk":{"S":"customer#42"},"sk":{"S":"order#00001234"},"v":{"N":"%d"},"total":{"N":"123.45"},"status":{"S":"PAID"},`+
			`"tags":{"SS":["web","gift"]},"note":{"S":"Zm9sZCBiZW5jaG1hcmsgbm90ZSB0ZXh0IHRoYXQgaXMgbm90IHZlcnkgY29tcHJlc3NpYmxl"}}`, v)
	}
	lines, err := foldtest.StreamLines(record.Plain, foldtest.Change{Event: "MODIFY", Keys: `{"pk":{"S":"customer#42"},"sk":{"S":"order#00001234"}}`,
		New: img(2), Old: img(1), Seq: "4421584500000000001000000", Created: t0})
	if err != nil {
		b.Fatal(err)
	}
	line := lines[0]
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}
