package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var (
	lastLine   = regexp.MustCompile(`^foldbench: lines=(\d+) seconds=[\d.]+ lines_per_s=\d+ peak_rss_mib=[\d.]+ gomaxprocs=1$`)
	genLine    = regexp.MustCompile(`^foldbench: generated items=(\d+) lines=(\d+) objects=(\d+) gz_bytes=\d+ image_format=(\w+)$`)
	foldedLine = regexp.MustCompile(`^foldbench: folded objects=\d+ spill_bytes=\d+ partitions=(\d+) splits=(\d+) folded_partitions=(\d+) max_table_items=\d+$`)
)

func TestRunSmall(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		expectSplit bool
	}{
		{"plain", []string{"-items", "3000", "-batch", "200"}, false},
		{"typed, one partition split under a small budget", []string{"-items", "3000", "-image-format", "dynamodb", "-partitions", "1", "-budget-mb", "1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(append(tc.args, "-dir", t.TempDir()), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			gen := genLine.FindStringSubmatch(lines[0])
			if gen == nil || gen[1] != "3000" {
				t.Fatalf("first line %q does not match %s with 3000 items", lines[0], genLine)
			}
			last := lastLine.FindStringSubmatch(lines[len(lines)-1])
			if last == nil || last[1] != gen[2] {
				t.Fatalf("last line %q does not match %s with the %s generated lines", lines[len(lines)-1], lastLine, gen[2])
			}
			folded := foldedLine.FindStringSubmatch(lines[1])
			if folded == nil {
				t.Fatalf("second line %q does not match %s", lines[1], foldedLine)
			}
			if gotSplit := folded[2] != "0"; gotSplit != tc.expectSplit {
				t.Errorf("split: got %v (%s), expect %v", gotSplit, lines[1], tc.expectSplit)
			}
		})
	}
}

func TestMissedTargetsFail(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-items", "500", "-dir", t.TempDir(), "-min-lines-per-s", "1e12", "-max-rss-mb", "0.001"}, &out)
	if err == nil || !strings.Contains(err.Error(), "rate") || !strings.Contains(err.Error(), "RSS") {
		t.Fatalf("err = %v; want both missed targets named", err)
	}
}
