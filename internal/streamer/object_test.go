package streamer

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// TestObject: the builder keeps its lines in order, compressed, and what
// naming and the partial-failure rule read of it, across chunks and
// resets.
func TestObject(t *testing.T) {
	long := strings.Repeat("x", chunk/3) // four lines cross a chunk
	cases := []struct {
		name   string
		hashed bool
		lines  []string
		seqs   []string // "" for a record without a sequence number
		first  int      // position of the first line

		expectFirstSeq, expectLastSeq string
	}{
		{name: "empty", hashed: true},
		{name: "one line", lines: []string{`{"a":1}`}, seqs: []string{"7"}, first: 3,
			expectFirstSeq: "7", expectLastSeq: "7"},
		{name: "unnamed edges", hashed: true, lines: []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, seqs: []string{"", "5", ""}, first: 0},
		{name: "across chunks", hashed: true, lines: []string{long, long, long, long}, seqs: []string{"1", "2", "3", "4"}, first: 1,
			expectFirstSeq: "1", expectLastSeq: "4"},
	}
	o := newObject(DefaultGzipLevel, 0, true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := o // reused: each case starts from a reset
			if !tc.hashed {
				o = newObject(DefaultGzipLevel, chunk, false)
			}
			o.reset()
			for i, l := range tc.lines {
				var seq []byte
				if tc.seqs[i] != "" {
					seq = []byte(tc.seqs[i])
				}
				if err := o.add([]byte(l), tc.first+i, seq); err != nil {
					t.Fatal(err)
				}
			}
			if err := o.close(); err != nil {
				t.Fatal(err)
			}
			content := ""
			for _, l := range tc.lines {
				content += l + "\n"
			}
			if got := gunzip(t, o.bytes()); got != content {
				t.Errorf("content: got %d bytes, expect %d", len(got), len(content))
			}
			if o.lines != len(tc.lines) {
				t.Errorf("lines: got %d, expect %d", o.lines, len(tc.lines))
			}
			if len(tc.lines) > 0 && o.first != tc.first {
				t.Errorf("first: got %d, expect %d", o.first, tc.first)
			}
			if string(o.seq[0]) != tc.expectFirstSeq {
				t.Errorf("first sequence number: got %q, expect %q", o.seq[0], tc.expectFirstSeq)
			}
			if string(o.seq[1]) != tc.expectLastSeq {
				t.Errorf("last sequence number: got %q, expect %q", o.seq[1], tc.expectLastSeq)
			}
			if tc.hashed {
				if got, expect := o.sha256(), sha256.Sum256([]byte(content)); got != expect {
					t.Errorf("sha256: got %x, expect %x", got, expect)
				}
			}
		})
	}
}
