package streamer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/testing/eventgen"
)

// TestWriteReportsWhatItWrote: Write's Result names the keys S3 holds for
// the event, those it already held, and where Lambda resumes, so that no
// caller needs the log to learn them.
func TestWriteReportsWhatItWrote(t *testing.T) {
	const base = "table=Mixed/dt=2026-11-23/hour=17/20261101T000000000-500000000000000000001-500000000000000000008.jsonl.gz"
	dataKey, errorsKey := "cdc/"+base, "cdc/_errors/"+base
	genData := genKey + eventgen.Sequence(1000000+4*100) + ".jsonl.gz"
	mixed := func(t *testing.T) []byte { return readFixture(t, badRecords) }
	// The first data record is 8: record 1 becomes an error record.
	dataLate := func(t *testing.T) []byte {
		return []byte(strings.Replace(string(readFixture(t, badRecords)), `"ok-1"}},"SequenceNumber"`, `"ok-1"},"x":{"BAD":1}},"SequenceNumber"`, 1))
	}
	generated := func(*testing.T) []byte { return genEvent(5) }
	malformed := []byte(`{"Records":[{"eventID":"x"`)
	failOn := func(part string, match bool) func(string) error {
		return func(key string) error {
			if strings.Contains(key, part) == match {
				return errors.New("boom")
			}
			return nil
		}
	}
	tests := []struct {
		name    string
		payload func(*testing.T) []byte
		// before writes the payload once first; fail decides each put.
		before    bool
		fail      func(string) error
		noReports bool // ReportBatchItemFailures off
		written   []string
		existing  []string
		resumeAt  string
		wantErr   bool
	}{
		{name: "one data object", payload: generated, written: []string{genData}},
		{name: "already written", payload: generated, before: true, written: []string{genData}, existing: []string{genData}},
		{name: "errors object first", payload: mixed, written: []string{errorsKey, dataKey}},
		{name: "both already written", payload: mixed, before: true, written: []string{errorsKey, dataKey}, existing: []string{errorsKey, dataKey}},
		{name: "data object fails", payload: dataLate, fail: failOn("_errors/", false),
			written: []string{errorsKey}, resumeAt: "500000000000000000008"},
		{name: "errors object fails", payload: mixed, fail: failOn("_errors/", true), resumeAt: "500000000000000000001"},
		{name: "whole batch retried", payload: generated, fail: failOn("", true), noReports: true, wantErr: true},
		{name: "malformed event kept", payload: func(*testing.T) []byte { return malformed },
			written: []string{objectkey.Malformed("cdc", malformed)}},
		{name: "empty batch", payload: func(*testing.T) []byte { return []byte(`{"Records":[]}`) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeS3()
			cfg := testConfig()
			cfg.ReportBatchItemFailures = !tc.noReports
			h := newHandler(t, fs, cfg)
			payload := tc.payload(t)
			if tc.before {
				if _, err := h.Write(context.Background(), payload); err != nil {
					t.Fatal(err)
				}
			}
			fs.fail = tc.fail
			res, err := h.Write(context.Background(), payload)
			for _, c := range []struct {
				field       string
				got, expect any
			}{
				{"written", strings.Join(res.Written, ","), strings.Join(tc.written, ",")},
				{"existing", strings.Join(res.Existing, ","), strings.Join(tc.existing, ",")},
				{"resume at", res.ResumeAt, tc.resumeAt},
				{"error", err != nil, tc.wantErr},
			} {
				if c.got != c.expect {
					t.Errorf("%s: got %v, expect %v (error %v)", c.field, c.got, c.expect, err)
				}
			}
		})
	}
}
