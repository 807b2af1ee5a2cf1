package procstat

import (
	"os"
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

func TestCPUProfile(t *testing.T) {
	stop, err := CPUProfile("")
	if err != nil {
		t.Fatal(err)
	}
	stop() // no profile: nothing to stop
	path := t.TempDir() + "/cpu.prof"
	if stop, err = CPUProfile(path); err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("profile %s: %v, %v; expect a written profile", path, fi, err)
	}
	if _, err := CPUProfile(t.TempDir() + "/no/such/dir/cpu.prof"); err == nil {
		t.Error("an unwritable path: got no error")
	}
}
