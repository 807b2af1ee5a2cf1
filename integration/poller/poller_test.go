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
	want := [][]string{{"001", "002", "003", "004", "005"}, {"003", "004", "005"}}
	if !reflect.DeepEqual(s.calls, want) || len(failed) != 0 || p.Stats().Processed != 5 {
		t.Errorf("calls %v, failed %v, stats %+v", s.calls, failed, p.Stats())
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
		t.Fatalf("%d calls; want the first and 2 retries", len(s.calls))
	}
	for _, c := range s.calls {
		if !reflect.DeepEqual(c, []string{"001", "002", "003", "004"}) {
			t.Errorf("retry of a different batch: %v", c)
		}
	}
	want := []FailedBatch{{ShardID: "shard-1", StartSequenceNumber: "001", EndSequenceNumber: "004", BatchSize: 4, Reason: "function error: Runtime.ExitError"}}
	if !reflect.DeepEqual(failed, want) || p.Stats().Discarded != 4 || p.Stats().Processed != 4 {
		t.Errorf("failed %+v, stats %+v", failed, p.Stats())
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
	if len(failed) != 1 || failed[0].StartSequenceNumber != "003" || failed[0].BatchSize != 1 {
		t.Fatalf("failed %+v after calls %v", failed, s.calls)
	}
	if p.Stats().Processed != 4 {
		t.Errorf("stats %+v", p.Stats())
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
	if len(s.calls) != 2 || len(s.calls[1]) != 3 {
		t.Errorf("calls %v; want the whole batch retried", s.calls)
	}
}
