package streamer

import (
	"errors"
	"testing"
)

// TestDecide is the partial-failure rule, case by case. A batch of 9
// records: positions 0-8, sequence numbers "s0".."s8" unless unnamed.
// puts are in put order, the errors object first.
func TestDecide(t *testing.T) {
	boom := errors.New("boom")
	// Objects of a batch whose errors object starts at position 1 (s1)
	// and whose data object starts at position 0 (s0).
	errorsAt1 := put{first: 1, firstSeq: []byte("s1")}
	dataAt0 := put{first: 0, firstSeq: []byte("s0")}
	made := func(p put, err error) put { p.made, p.err = true, err; return p }

	cases := []struct {
		name               string
		records            int
		puts               []put
		reportItemFailures bool

		expectWritten  int
		expectErr      error
		expectFailed   int
		expectResumeAt string
		expectWhole    bool
	}{
		{name: "nothing to write", records: 0, reportItemFailures: true},
		{name: "data object written", records: 9, reportItemFailures: true,
			puts:          []put{made(dataAt0, nil)},
			expectWritten: 1},
		{name: "errors and data objects written", records: 9, reportItemFailures: true,
			puts:          []put{made(errorsAt1, nil), made(dataAt0, nil)},
			expectWritten: 2},
		{name: "all written without ReportBatchItemFailures", records: 9, reportItemFailures: false,
			puts:          []put{made(errorsAt1, nil), made(dataAt0, nil)},
			expectWritten: 2},
		{name: "data put failed: resume at its first record", records: 9, reportItemFailures: true,
			puts:      []put{made(put{first: 3, firstSeq: []byte("s3")}, boom)},
			expectErr: boom, expectFailed: 6, expectResumeAt: "s3"},
		{name: "errors put failed: nothing durable, resume at the batch's first record", records: 9, reportItemFailures: true,
			puts:      []put{made(errorsAt1, boom), dataAt0},
			expectErr: boom, expectFailed: 9, expectResumeAt: "s0"},
		{name: "errors put failed and the batch's first record is unnamed: whole batch", records: 9, reportItemFailures: true,
			puts:      []put{made(put{first: 0}, boom), put{first: 2, firstSeq: []byte("s2")}},
			expectErr: boom, expectFailed: 9, expectWhole: true},
		{name: "errors written, data failed: an unnamed error record before it does not matter", records: 9, reportItemFailures: true,
			puts:          []put{made(put{first: 0}, nil), made(put{first: 4, firstSeq: []byte("s4")}, boom)},
			expectWritten: 1, expectErr: boom, expectFailed: 5, expectResumeAt: "s4"},
		{name: "data put failed without ReportBatchItemFailures: whole batch", records: 9, reportItemFailures: false,
			puts:          []put{made(errorsAt1, nil), made(put{first: 3, firstSeq: []byte("s3")}, boom)},
			expectWritten: 1, expectErr: boom, expectFailed: 6, expectWhole: true},
		{name: "a failed put stops the batch: a later put does not count", records: 9, reportItemFailures: true,
			puts:      []put{made(errorsAt1, boom), made(dataAt0, nil)},
			expectErr: boom, expectFailed: 9, expectResumeAt: "s0"},
		{name: "an object never put is not written", records: 9, reportItemFailures: true,
			puts:      []put{dataAt0},
			expectErr: errNotPut, expectFailed: 9, expectResumeAt: "s0"},
		{name: "the first failure is the one reported", records: 9, reportItemFailures: true,
			puts:          []put{made(put{first: 0, firstSeq: []byte("s0")}, nil), made(put{first: 1, firstSeq: []byte("s1")}, boom), made(put{first: 5, firstSeq: []byte("s5")}, errors.New("later"))},
			expectWritten: 1, expectErr: boom, expectFailed: 8, expectResumeAt: "s1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.records, tc.puts, tc.reportItemFailures)

			if got.written != tc.expectWritten {
				t.Errorf("written: got %d, expect %d", got.written, tc.expectWritten)
			}
			if got.err != tc.expectErr {
				t.Errorf("err: got %v, expect %v", got.err, tc.expectErr)
			}
			if got.failed != tc.expectFailed {
				t.Errorf("failed: got %d, expect %d", got.failed, tc.expectFailed)
			}
			if string(got.resumeAt) != tc.expectResumeAt {
				t.Errorf("resumeAt: got %q, expect %q", got.resumeAt, tc.expectResumeAt)
			}
			if got.whole != tc.expectWhole {
				t.Errorf("whole: got %v, expect %v", got.whole, tc.expectWhole)
			}
		})
	}
}
