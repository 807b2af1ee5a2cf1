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

var (
	objectLine  = regexp.MustCompile(`^streambench: object kind=(\w+) records=(\d+) bytes=(\d+) key=(\S+)$`)
	recordsLine = regexp.MustCompile(`^streambench: converted=(\d+) diverted=(\d+) objects=(\d+) first_batch_alloc_bytes=(\d+) alloc_bytes_per_batch=(\d+)$`)
)

// TestDivertedRecordsAreReported: a batch whose records mostly went to
// _errors/ must not read like a clean one. internal/record's bad_records
// fixture holds 2 records that convert and 7 that do not.
func TestDivertedRecordsAreReported(t *testing.T) {
	tests := []struct {
		name string
		args []string

		expectObjects   []string // kind=records, in put order
		expectConverted string
		expectDiverted  string
		expectRecords   string
		expectNote      bool
	}{
		{"clean batch", []string{"-records", "40", "-iterations", "2"},
			[]string{"data=40"}, "40", "0", "40", false},
		{"mostly diverted", []string{"-event", "../../internal/record/testdata/bad_records.json", "-iterations", "2"},
			[]string{"errors=7", "data=2"}, "2", "7", "9", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(tc.args, &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var gotObjects []string
			objectBytes := 0
			var gotNote bool
			var counts []string
			for _, l := range lines {
				if m := objectLine.FindStringSubmatch(l); m != nil {
					gotObjects = append(gotObjects, m[1]+"="+m[2])
					n, _ := strconv.Atoi(m[3])
					objectBytes += n
				}
				if strings.HasPrefix(l, "streambench: note: ") {
					gotNote = true
				}
				if m := recordsLine.FindStringSubmatch(l); m != nil {
					counts = m
				}
			}
			if strings.Join(gotObjects, " ") != strings.Join(tc.expectObjects, " ") {
				t.Errorf("objects: got %v, expect %v", gotObjects, tc.expectObjects)
			}
			if counts == nil {
				t.Fatalf("no converted/diverted line in:\n%s", out.String())
			}
			if got := counts[1]; got != tc.expectConverted {
				t.Errorf("converted: got %s, expect %s", got, tc.expectConverted)
			}
			if got := counts[2]; got != tc.expectDiverted {
				t.Errorf("diverted: got %s, expect %s", got, tc.expectDiverted)
			}
			if got, expect := counts[3], strconv.Itoa(len(tc.expectObjects)); got != expect {
				t.Errorf("objects count: got %s, expect %s", got, expect)
			}
			if got := counts[4]; got == "0" {
				t.Errorf("first batch allocation: got %s, expect the cold batch's allocation", got)
			}
			if gotNote != tc.expectNote {
				t.Errorf("note about diverted records: got %v, expect %v", gotNote, tc.expectNote)
			}
			last := lastLine.FindStringSubmatch(lines[len(lines)-1])
			if last == nil {
				t.Fatalf("last line %q does not match %s", lines[len(lines)-1], lastLine)
			}
			if got := last[1]; got != tc.expectRecords {
				t.Errorf("records: got %s, expect %s", got, tc.expectRecords)
			}
			if got, expect := last[3], strconv.Itoa(objectBytes); got != expect {
				t.Errorf("out_bytes: got %s, expect %s, the bytes of every object", got, expect)
			}
		})
	}
}
