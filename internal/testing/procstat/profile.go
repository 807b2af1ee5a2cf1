package procstat

import (
	"os"
	"runtime/pprof"
)

// CPUProfile starts a CPU profile written to path and returns the stop
// that ends it; with no path it profiles nothing and stop does nothing.
func CPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
