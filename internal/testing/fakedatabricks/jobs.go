package fakedatabricks

import (
	"encoding/json"
	"net/http"
)

// Run is a job run started by run-now.
type Run struct {
	RunID            int64
	JobID            int64
	Params           map[string]string
	IdempotencyToken string
}

// jobsState is the Jobs API's state, guarded by Workspace.mu.
type jobsState struct {
	runs    []Run
	byToken map[string]int64 // idempotency token to run ID
}

// Runs returns the job runs started, each once however often run-now was
// called for it, so tests can prove one run per idempotency token.
func (w *Workspace) Runs() []Run {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Run(nil), w.jobs.runs...)
}

// maxIdempotencyToken is the documented limit on idempotency_token.
const maxIdempotencyToken = 64

// runNow serves POST /api/2.1/jobs/run-now as documented
// (https://docs.databricks.com/api/jobs/v2/run-now.md): "If a run with the
// provided token already exists, the request does not create a new run but
// returns the ID of the existing run instead", the token has "at most 64
// characters", and the answer is 200 with run_id and number_in_job (the
// same value as run_id). Without a token every call starts a run.
func (w *Workspace) runNow(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		JobID            int64             `json:"job_id"`
		JobParameters    map[string]string `json:"job_parameters"`
		IdempotencyToken string            `json:"idempotency_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.JobID <= 0 {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "job_id is required")
		return
	}
	if len(req.IdempotencyToken) > maxIdempotencyToken {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "idempotency_token must have at most 64 characters")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.jobs.byToken[req.IdempotencyToken]; ok && req.IdempotencyToken != "" {
		writeJSON(rw, http.StatusOK, map[string]int64{"run_id": id, "number_in_job": id})
		return
	}
	id := int64(len(w.jobs.runs) + 1000)
	w.jobs.runs = append(w.jobs.runs, Run{RunID: id, JobID: req.JobID, Params: req.JobParameters, IdempotencyToken: req.IdempotencyToken})
	if req.IdempotencyToken != "" {
		w.jobs.byToken[req.IdempotencyToken] = id
	}
	writeJSON(rw, http.StatusOK, map[string]int64{"run_id": id, "number_in_job": id})
}
