// Package procstat measures the benchmarks' own process: its memory
// high-water mark on Linux, for their peak RSS figures, and a CPU profile
// of the timed part.
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// ResetPeakRSS starts a new high-water mark (clear_refs 5), so a benchmark
// measures from after its set-up. It does nothing where /proc is missing.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSS returns VmHWM in bytes, or 0 where /proc is missing.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
