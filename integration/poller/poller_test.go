package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func recs(n int) []record {
	var out []record
	for i := 1; i <= n; i++ {
		seq := fmt.Sprintf("%03d", i)
		out = append(out, record{raw: []byte(`{"dynamodb":{"SequenceNumber":"` + seq + `"}}`), seq: seq})
	}
	return out
}

// seqs reads the sequence numbers of an event.
func seqs(t *testing.T, payload []byte) []string {
	var ev struct {
		Records []struct {
			Dynamodb struct{ SequenceNumber string } `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.Dynamodb.SequenceNumber)
	}
	return out
}

type scripted struct {
	t     *testing.T
	calls [][]string
	// answer decides the response to each call.
	answer func(call int, seqs []string) (resp string, fnErr error)
}

func (s *scripted) invoke(_ context.Context, payload []byte) ([]byte, error, error) {
	got := seqs(s.t, payload)
	s.calls = append(s.calls, got)
	resp, fnErr := s.answer(len(s.calls), got)
	return []byte(resp), fnErr, nil
}

func newPoller(s *scripted, maxRetries int, bisect bool, failed *[]FailedBatch) *Poller {
	return &Poller{cfg: Config{Invoke: s.invoke, MaxRetryAttempts: maxRetries, BisectOnError: bisect, OnFailure: func(b FailedBatch) { *failed = append(*failed, b) }}}
}

func TestRetriesFromTheLowestReportedFailure(t *testing.T) {
	s := &scripted{t: t, answer: func(call int, _ []string) (string, error) {
		if call == 1 {
			return `{"batchItemFailures":[{"itemIdentifier":"004"},{"itemIdentifier":"003"}]}`, nil
		}
		return `{"batchItemFailures":[]}`, nil
	}}
	var failed []FailedBatch
	p := newPoller(s, 3, false, &failed)
	if err := p.process(context.Background(), "shard-1", recs(5)); err != nil {
		t.Fatal(err)
	}
	expect := [][]string{{"001", "002", "003", "004", "005"}, {"003", "004", "005"}}
	if !reflect.DeepEqual(s.calls, expect) {
		t.Errorf("calls: got %v, expect %v", s.calls, expect)
	}
	if len(failed) != 0 {
		t.Errorf("on-failure: got %+v, expect none", failed)
	}
	if got := p.Stats().Processed; got != 5 {
		t.Errorf("Processed: got %d, expect 5", got)
	}
}

func TestFunctionErrorsRetryTheSameBatchThenGoToTheDestination(t *testing.T) {
	s := &scripted{t: t, answer: func(int, []string) (string, error) { return "", errors.New("Runtime.ExitError") }}
	var failed []FailedBatch
	p := newPoller(s, 2, false, &failed)
	if err := p.process(context.Background(), "shard-1", recs(4)); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 3 {
		t.Fatalf("calls: got %d, expect 3 (the first and 2 retries)", len(s.calls))
	}
	for i, c := range s.calls {
		if expect := []string{"001", "002", "003", "004"}; !reflect.DeepEqual(c, expect) {
			t.Errorf("call %d: got %v, expect the same batch %v", i+1, c, expect)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("on-failure: got %d batches (%+v), expect 1", len(failed), failed)
	}
	f := failed[0]
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"ShardID", f.ShardID, "shard-1"},
		{"StartSequenceNumber", f.StartSequenceNumber, "001"},
		{"EndSequenceNumber", f.EndSequenceNumber, "004"},
		{"BatchSize", f.BatchSize, 4},
		{"Reason", f.Reason, "function error: Runtime.ExitError"},
		{"Invocations", f.Invocations, 3},
		{"FunctionError", f.FunctionError, true},
	} {
		if c.got != c.expect {
			t.Errorf("on-failure %s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
	st := p.Stats()
	if st.Discarded != 4 {
		t.Errorf("Discarded: got %d, expect 4", st.Discarded)
	}
	if st.Processed != 4 {
		t.Errorf("Processed: got %d, expect 4", st.Processed)
	}
}

func TestBisectIsolatesAFailingRecord(t *testing.T) {
	s := &scripted{t: t, answer: func(_ int, seqs []string) (string, error) {
		for _, q := range seqs {
			if q == "003" {
				return "", errors.New("poison")
			}
		}
		return `{}`, nil
	}}
	var failed []FailedBatch
	p := newPoller(s, 1, true, &failed)
	if err := p.process(context.Background(), "shard-1", recs(4)); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 {
		t.Fatalf("on-failure: got %d batches (%+v) after calls %v, expect 1", len(failed), failed, s.calls)
	}
	if got := failed[0].StartSequenceNumber; got != "003" {
		t.Errorf("on-failure StartSequenceNumber: got %s, expect 003", got)
	}
	if got := failed[0].BatchSize; got != 1 {
		t.Errorf("on-failure BatchSize: got %d, expect 1", got)
	}
	if got := p.Stats().Processed; got != 4 {
		t.Errorf("Processed: got %d, expect 4", got)
	}
}

func TestUnknownIdentifierFailsTheWholeBatch(t *testing.T) {
	s := &scripted{t: t, answer: func(call int, _ []string) (string, error) {
		if call == 1 {
			return `{"batchItemFailures":[{"itemIdentifier":"not-in-batch"}]}`, nil
		}
		return `{}`, nil
	}}
	var failed []FailedBatch
	p := newPoller(s, 3, false, &failed)
	if err := p.process(context.Background(), "s", recs(3)); err != nil {
		t.Fatal(err)
	}
	if len(s.calls) != 2 {
		t.Fatalf("calls: got %d (%v), expect 2", len(s.calls), s.calls)
	}
	if got := len(s.calls[1]); got != 3 {
		t.Errorf("retry: got %d records, expect the whole batch of 3", got)
	}
}

func TestChangedWakesOnEveryCount(t *testing.T) {
	s := &scripted{t: t, answer: func(int, []string) (string, error) { return `{}`, nil }}
	var failed []FailedBatch
	p := newPoller(s, 0, false, &failed)
	changed := p.Changed()
	select {
	case <-changed:
		t.Fatal("before any batch: got Changed closed, expect open")
	default:
	}
	if err := p.process(context.Background(), "shard-1", recs(2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("after a batch: got Changed open, expect closed")
	}
	if got := p.Stats().Processed; got != 2 {
		t.Errorf("Processed: got %d, expect 2", got)
	}
}
