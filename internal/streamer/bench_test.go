package streamer

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

// discardS3 consumes bodies without keeping them.
type discardS3 struct{}

func (discardS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	_, err := io.Copy(io.Discard, in.Body)
	return &s3.PutObjectOutput{}, err
}

func benchmarkHandle(b *testing.B, o eventgen.Options) {
	payload := eventgen.Event(o)
	cfg := testConfig()
	cfg.ConditionalWrites = false
	h, err := New(discardS3{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandle is a full 6 MB batch of small records.
func BenchmarkHandle(b *testing.B) { benchmarkHandle(b, eventgen.DefaultOptions()) }

// BenchmarkHandleIncompressible has items padded with random text.
func BenchmarkHandleIncompressible(b *testing.B) {
	o := eventgen.DefaultOptions()
	o.Records, o.ItemBytes = 5000, 500
	benchmarkHandle(b, o)
}

// TestAllocationPerBatch holds a full 6 MB batch to the 8 MB allocation
// budget (a count, not a timing, so it is stable on any machine).
func TestAllocationPerBatch(t *testing.T) {
	const budget = 8 << 20
	payload := eventgen.Event(eventgen.DefaultOptions())
	cfg := testConfig()
	cfg.ConditionalWrites = false
	h, err := New(discardS3{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	const runs = 5
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perBatch := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d bytes allocated per batch of %d bytes", perBatch, len(payload))
	if perBatch > budget {
		t.Errorf("a batch allocated %d bytes; budget %d", perBatch, budget)
	}
}
