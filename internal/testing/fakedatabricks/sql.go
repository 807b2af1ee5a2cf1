package fakedatabricks

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Load is one file loaded by COPY INTO.
type Load struct{ Table, Source string }

// sqlState is the SQL Statement Execution API's state, guarded by
// Workspace.mu.
type sqlState struct {
	statementPolls int
	failSQL        []string
	statements     map[string]*statement
	// loaded holds the files each table has loaded, keyed by the table
	// name in lower case (Unity Catalog names are case-insensitive).
	loaded map[Load]bool
	loads  []Load
}

type statement struct {
	id     string
	polls  int
	final  string // SUCCEEDED or FAILED
	errMsg string
	copy   *copyResult // nil unless the statement is a COPY INTO
}

// copyResult is what one COPY INTO did.
type copyResult struct {
	// files is 1 when the file was loaded, 0 when it was skipped.
	files int
}

// WithStatementPolls makes statements report their end only after n polls
// (default 1; 0 answers the submission with the end), so the client's
// polling loop is exercised. The statement itself runs when submitted, as
// on a warehouse, whether or not it is polled.
func WithStatementPolls(n int) Option { return func(w *Workspace) { w.sql.statementPolls = n } }

// WithFailingStatements fails statements that contain substr, without
// running them, as a statement rejected by the warehouse would.
func WithFailingStatements(substr string) Option {
	return func(w *Workspace) { w.sql.failSQL = append(w.sql.failSQL, substr) }
}

// Loads returns the files COPY INTO loaded, in order. COPY INTO skips a
// file its table has loaded before, so each (table, file) appears once,
// unless a statement set COPY_OPTIONS ('force' = 'true').
func (w *Workspace) Loads() []Load {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Load(nil), w.sql.loads...)
}

// submit serves POST /api/2.0/sql/statements
// (https://docs.databricks.com/api/workspace/statementexecution/executestatement).
// The statement runs now: with on_wait_timeout CONTINUE "the statement
// execution continues asynchronously" whether or not anyone polls, so a
// client that gives up polling has still loaded its file.
func (w *Workspace) submit(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Statement   string `json:"statement"`
		WarehouseID string `json:"warehouse_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Statement == "" || req.WarehouseID == "" {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "statement and warehouse_id are required")
		return
	}
	st := &statement{id: randomID(), final: "SUCCEEDED"}
	for _, s := range w.sql.failSQL {
		if strings.Contains(req.Statement, s) {
			st.final, st.errMsg = "FAILED", "[PARSE_SYNTAX_ERROR] injected failure"
		}
	}
	w.mu.Lock()
	if st.final == "SUCCEEDED" {
		st.copy = w.execute(req.Statement)
	}
	w.sql.statements[st.id] = st
	done := w.sql.statementPolls == 0
	w.mu.Unlock()
	w.answer(rw, st, done)
}

// poll serves GET /api/2.0/sql/statements/{id}
// (https://docs.databricks.com/api/statement-execution/v1/get-statement-result.md).
func (w *Workspace) poll(rw http.ResponseWriter, id string) {
	w.mu.Lock()
	st, ok := w.sql.statements[id]
	done := false
	if ok {
		st.polls++
		done = st.polls >= w.sql.statementPolls
	}
	w.mu.Unlock()
	if !ok {
		apiError(rw, http.StatusNotFound, "NOT_FOUND", "statement "+id+" not found")
		return
	}
	w.answer(rw, st, done)
}

// answer reports a statement: RUNNING until done, then its final state;
// a COPY INTO that SUCCEEDED also carries its result row, as the API
// returns "the result manifest and the first chunk of the result data"
// with SUCCEEDED.
func (w *Workspace) answer(rw http.ResponseWriter, st *statement, done bool) {
	state := "RUNNING"
	if done {
		state = st.final
	}
	status := map[string]any{"state": state}
	if state == "FAILED" {
		status["error"] = map[string]string{"error_code": "BAD_REQUEST", "message": st.errMsg}
	}
	body := map[string]any{"statement_id": st.id, "status": status}
	if state == "SUCCEEDED" && st.copy != nil {
		body["manifest"], body["result"] = st.copy.response()
	}
	writeJSON(rw, http.StatusOK, body)
}

var (
	copyInto    = regexp.MustCompile(`(?is)^\s*COPY\s+INTO\s+(\S+)\s+FROM\s+'([^']*)'`)
	copyOptions = regexp.MustCompile(`(?is)\bCOPY_OPTIONS\s*\(([^)]*)\)`)
	forceTrue   = regexp.MustCompile(`(?i)'force'\s*=\s*'true'`)
	validate    = regexp.MustCompile(`(?i)\bVALIDATE\b`)
	quoted      = regexp.MustCompile(`'[^']*'`)
)

// execute runs a statement; only COPY INTO has an effect. COPY INTO is
// documented as "a retriable and idempotent operation — files in the
// source location that have already been loaded are skipped", except that
// COPY_OPTIONS 'force' = 'true' disables idempotency, and VALIDATE checks
// the data without writing it
// (https://docs.databricks.com/sql/language-manual/delta-copy-into.html).
// The caller holds w.mu.
func (w *Workspace) execute(text string) *copyResult {
	m := copyInto.FindStringSubmatch(text)
	if m == nil {
		return nil
	}
	rest := quoted.ReplaceAllString(text[len(m[0]):], "''")
	if validate.MatchString(rest) {
		return &copyResult{}
	}
	force := false
	if o := copyOptions.FindStringSubmatch(text[len(m[0]):]); o != nil {
		force = forceTrue.MatchString(o[1])
	}
	key := Load{Table: strings.ToLower(strings.ReplaceAll(m[1], "`", "")), Source: m[2]}
	if w.sql.loaded[key] && !force {
		return &copyResult{}
	}
	w.sql.loaded[key] = true
	w.sql.loads = append(w.sql.loads, Load{Table: m[1], Source: m[2]})
	return &copyResult{files: 1}
}

// response is COPY INTO's result in the JSON_ARRAY format the client asks
// for: one row of num_affected_rows, num_inserted_rows and
// num_skipped_corrupt_files, all 0 when the file was skipped. The fake does
// not read the file, so it counts a loaded file as one row.
func (c *copyResult) response() (manifest, result map[string]any) {
	cols := []map[string]any{}
	for i, name := range []string{"num_affected_rows", "num_inserted_rows", "num_skipped_corrupt_files"} {
		cols = append(cols, map[string]any{"name": name, "type_name": "LONG", "type_text": "BIGINT", "position": i})
	}
	rows := strconv.Itoa(c.files)
	manifest = map[string]any{
		"format":            "JSON_ARRAY",
		"schema":            map[string]any{"column_count": len(cols), "columns": cols},
		"total_chunk_count": 1,
		"total_row_count":   1,
	}
	result = map[string]any{
		"chunk_index": 0, "row_offset": 0, "row_count": 1,
		"data_array": [][]string{{rows, rows, "0"}},
	}
	return manifest, result
}
