//go:build !linux

package main

import (
	"os"
	"time"
)

// tempRoot is the system's temporary directory where there is no
// /dev/shm to prefer (see tempdir_linux.go).
func tempRoot(int64) string { return os.TempDir() }

// cpuTime is not measured here: the figure reads 0.
func cpuTime() time.Duration { return 0 }
