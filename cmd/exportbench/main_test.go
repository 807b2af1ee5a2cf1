package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var lastLine = regexp.MustCompile(`^exportbench: text_bytes=(\d+) items=(\d+) in_bytes=\d+ out_bytes=\d+ parts=(\d+) procs=1 seconds=[\d.]+ cpu_seconds=[\d.]+ mb_per_s=[\d.]+ peak_rss_mib=[\d.]+$`)

// TestConvertsAndVerifies runs the benchmark on a file of several parts:
// the converter's object is read back, every item once and in order.
func TestConvertsAndVerifies(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-size", "26000000", "-part-size", "5242880", "-workdir", t.TempDir()}, &out); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out.String())
	m := lastLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("output %q does not match %s", line, lastLine)
	}
	text, _ := strconv.Atoi(m[1])
	items, _ := strconv.Atoi(m[2])
	parts, _ := strconv.Atoi(m[3])
	if text < 26000000 || items == 0 || parts < 2 {
		t.Errorf("text %d bytes, %d items, %d parts: expect at least 26 MB in more than one part", text, items, parts)
	}
}

func TestMissedTargetsFail(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-size", "1000000", "-max-rss-mb", "0.001", "-min-mb-per-s", "1e9", "-workdir", t.TempDir()}, &out)
	if err == nil || !strings.Contains(err.Error(), "peak RSS") || !strings.Contains(err.Error(), "rate") {
		t.Fatalf("err = %v", err)
	}
}

func TestDataFileFlag(t *testing.T) {
	dir := t.TempDir()
	src, err := generate(dir+"/given.json.gz", 2000000, 500)
	if err != nil {
		t.Fatal(err)
	}
	got, err := describe(src.path)
	if err != nil {
		t.Fatal(err)
	}
	if got != src {
		t.Errorf("describe: got %+v, expect %+v", got, src)
	}
	var out bytes.Buffer
	if err := run([]string{"-data-file", src.path, "-workdir", dir}, &out); err != nil {
		t.Fatal(err)
	}
}

var floorLine = regexp.MustCompile(`(?m)^exportbench floor: gunzip_seconds=[\d.]+ gzip_seconds=[\d.]+ codec_floor_mb_per_s=([\d.]+) conversion_share=-?\d+%$`)

// TestFloor: -floor prints the codecs' own rate on the same text, before
// the summary line, which stays last.
func TestFloor(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-size", "4000000", "-floor", "-workdir", t.TempDir()}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q: expect the floor line and the summary", out.String())
	}
	m := floorLine.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("first line %q does not match %s", lines[0], floorLine)
	}
	if rate, _ := strconv.ParseFloat(m[1], 64); rate <= 0 {
		t.Errorf("codec floor %v MB/s: expect a positive rate", rate)
	}
	if !lastLine.MatchString(lines[1]) {
		t.Errorf("last line %q does not match %s", lines[1], lastLine)
	}
}
