package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var lastLine = regexp.MustCompile(`^streambench: records=(\d+) in_bytes=(\d+) out_bytes=(\d+) median_ms=[\d.]+ mb_per_s=[\d.]+ alloc_bytes_per_batch=\d+$`)

func TestOutputAndEventFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "event.json")
	var out bytes.Buffer
	if err := run([]string{"-records", "300", "-item-bytes", "400", "-iterations", "3", "-write-event", file}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	m := lastLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil || m[1] != "300" {
		t.Fatalf("last line %q does not match %s with 300 records", lines[len(lines)-1], lastLine)
	}
	if fi, err := os.Stat(file); err != nil || m[2] != strconv.FormatInt(fi.Size(), 10) {
		t.Fatalf("written event: %v, in_bytes %s", err, m[2])
	}
	out.Reset()
	if err := run([]string{"-event", file, "-iterations", "2"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "records=300 in_bytes="+m[2]) {
		t.Errorf("replaying the written event gave %q", out.String())
	}
}

func TestMissedTargetsFail(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-records", "50", "-iterations", "2", "-max-median-ms", "0.000001", "-max-alloc-bytes", "1"}, &out)
	if err == nil || !strings.Contains(err.Error(), "median") || !strings.Contains(err.Error(), "alloc") {
		t.Fatalf("err = %v; want both missed targets named", err)
	}
}
