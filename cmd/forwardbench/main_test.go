package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var lastLine = regexp.MustCompile(`^forwardbench: bytes=(\d+) seconds=[\d.]+ mb_per_s=[\d.]+ peak_rss_mib=[\d.]+ attempts=1$`)

func TestForwardsAndVerifies(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-size", "5000000"}, &out); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out.String())
	if m := lastLine.FindStringSubmatch(line); m == nil || m[1] != "5000000" {
		t.Fatalf("output %q does not match %s", line, lastLine)
	}
}

func TestMissedTargetsFail(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-size", "1000000", "-max-rss-mb", "0.001", "-min-mb-per-s", "1e9"}, &out)
	if err == nil || !strings.Contains(err.Error(), "peak RSS") || !strings.Contains(err.Error(), "rate") {
		t.Fatalf("err = %v", err)
	}
}
