package main

import (
	"os"
	"syscall"
	"time"
)

// tempRoot is where the data file and the output go by default: memory
// (/dev/shm) when it has room for both, about half the text size, so that
// the disk's writeback does not stall the converter's writes and blur its
// figures. Files there are not in the process's RSS.
func tempRoot(size int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && int64(st.Bavail)*int64(st.Bsize) > size/2+(64<<20) {
		return "/dev/shm"
	}
	return os.TempDir()
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
