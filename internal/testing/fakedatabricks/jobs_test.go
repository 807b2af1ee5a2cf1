package fakedatabricks

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// runNowCall is a run-now request body as documented
// (https://docs.databricks.com/api/jobs/v2/run-now.md); an empty token is
// left out of the body.
type runNowCall struct {
	job    int64
	params map[string]string
	token  string
}

func (c runNowCall) body() map[string]any {
	b := map[string]any{"job_id": c.job, "job_parameters": c.params}
	if c.token != "" {
		b["idempotency_token"] = c.token
	}
	return b
}

type runNowAnswer struct {
	RunID       int64 `json:"run_id"`
	NumberInJob int64 `json:"number_in_job"`
}

// TestRunNowIdempotency: "If a run with the provided token already exists,
// the request does not create a new run but returns the ID of the existing
// run instead" and the token "must have at most 64 characters"
// (https://docs.databricks.com/api/jobs/v2/run-now.md). The end-to-end
// proof of one run per object rests on this.
func TestRunNowIdempotency(t *testing.T) {
	p1 := map[string]string{"s3_uri": "s3://b/k1"}
	p2 := map[string]string{"s3_uri": "s3://b/k2"}
	tok64 := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		calls []runNowCall
		// expectStatus per call; expectSameAs per call is the index of an
		// earlier call whose run_id it must repeat, or -1 for a new run.
		expectStatus []int
		expectSameAs []int
		expectRuns   []Run // RunID left 0: compared apart
	}{
		{"same token twice: one run",
			[]runNowCall{{42, p1, "tok-a"}, {42, p1, "tok-a"}},
			[]int{200, 200}, []int{-1, 0},
			[]Run{{JobID: 42, Params: p1, IdempotencyToken: "tok-a"}}},
		{"different tokens: two runs",
			[]runNowCall{{42, p1, "tok-a"}, {42, p2, "tok-b"}},
			[]int{200, 200}, []int{-1, -1},
			[]Run{{JobID: 42, Params: p1, IdempotencyToken: "tok-a"}, {JobID: 42, Params: p2, IdempotencyToken: "tok-b"}}},
		{"same token with other parameters: the existing run",
			[]runNowCall{{42, p1, "tok-a"}, {42, p2, "tok-a"}},
			[]int{200, 200}, []int{-1, 0},
			[]Run{{JobID: 42, Params: p1, IdempotencyToken: "tok-a"}}},
		{"interleaved tokens",
			[]runNowCall{{42, p1, "tok-a"}, {42, p2, "tok-b"}, {42, p1, "tok-a"}, {42, p2, "tok-b"}},
			[]int{200, 200, 200, 200}, []int{-1, -1, 0, 1},
			[]Run{{JobID: 42, Params: p1, IdempotencyToken: "tok-a"}, {JobID: 42, Params: p2, IdempotencyToken: "tok-b"}}},
		{"no token: a run per call",
			[]runNowCall{{42, p1, ""}, {42, p1, ""}},
			[]int{200, 200}, []int{-1, -1},
			[]Run{{JobID: 42, Params: p1}, {JobID: 42, Params: p1}}},
		{"64-character token accepted",
			[]runNowCall{{42, p1, tok64}, {42, p1, tok64}},
			[]int{200, 200}, []int{-1, 0},
			[]Run{{JobID: 42, Params: p1, IdempotencyToken: tok64}}},
		{"65-character token refused",
			[]runNowCall{{42, p1, tok64 + "a"}},
			[]int{400}, []int{-1},
			nil},
		{"missing job_id refused",
			[]runNowCall{{0, p1, "tok-a"}},
			[]int{400}, []int{-1},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			var ids []int64
			for i, c := range tc.calls {
				got := s.postJSON(t, runNowPath, "t", c.body())
				if got.status != tc.expectStatus[i] {
					t.Fatalf("call %d status: got %d, expect %d (%s)", i, got.status, tc.expectStatus[i], got.body)
				}
				if got.status != http.StatusOK {
					if code := got.errorCode(); code != "INVALID_PARAMETER_VALUE" {
						t.Errorf("call %d error_code: got %q, expect INVALID_PARAMETER_VALUE", i, code)
					}
					ids = append(ids, 0)
					continue
				}
				a := decode[runNowAnswer](t, got)
				if a.RunID <= 0 || a.NumberInJob != a.RunID {
					t.Errorf("call %d answer: got run_id %d number_in_job %d, expect a positive run_id repeated", i, a.RunID, a.NumberInJob)
				}
				if j := tc.expectSameAs[i]; j >= 0 && a.RunID != ids[j] {
					t.Errorf("call %d run_id: got %d, expect %d (call %d's)", i, a.RunID, ids[j], j)
				}
				if tc.expectSameAs[i] < 0 {
					for j, id := range ids {
						if id == a.RunID {
							t.Errorf("call %d run_id: got %d, the same as call %d's; expect a new run", i, a.RunID, j)
						}
					}
				}
				ids = append(ids, a.RunID)
			}
			runs := s.ws.Runs()
			if len(runs) != len(tc.expectRuns) {
				t.Fatalf("runs: got %d %+v, expect %d", len(runs), runs, len(tc.expectRuns))
			}
			for i, r := range runs {
				want := tc.expectRuns[i]
				if r.JobID != want.JobID || r.IdempotencyToken != want.IdempotencyToken || !reflect.DeepEqual(r.Params, want.Params) {
					t.Errorf("run %d: got %+v, expect %+v", i, r, want)
				}
			}
		})
	}
}

// TestRunNowSameTokenConcurrently: redelivered events race; Databricks
// "guarantees that exactly one run is launched with that idempotency
// token", so concurrent calls with one token all get the one run.
func TestRunNowSameTokenConcurrently(t *testing.T) {
	s := serve(t, WithToken("t"))
	const n = 16
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, s.srv.URL+runNowPath, strings.NewReader(`{"job_id":42,"idempotency_token":"tok-race"}`))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "Bearer t")
			got, err := s.try(req)
			if err != nil {
				errs[i] = err
				return
			}
			var a runNowAnswer
			errs[i] = json.Unmarshal(got.body, &a)
			ids[i] = a.RunID
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	for i, id := range ids {
		if id != ids[0] || id == 0 {
			t.Errorf("call %d run_id: got %d, expect %d for every call", i, id, ids[0])
		}
	}
	if runs := len(s.ws.Runs()); runs != 1 {
		t.Errorf("runs: got %d, expect 1", runs)
	}
}
