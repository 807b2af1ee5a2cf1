package procstat

import (
	"runtime"
	"testing"
)

var sink []byte

func TestPeakRSSGrowsWithMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ResetPeakRSS()
	before := PeakRSS()
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = byte(i)
	}
	after := PeakRSS()
	if before <= 0 || after-before < 60<<20 {
		t.Errorf("peak RSS %d before and %d after touching 64 MiB", before, after)
	}
}
