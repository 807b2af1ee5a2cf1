package fakedatabricks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Load is one file loaded into a table, by COPY INTO or by MERGE.
type Load struct{ Table, Source string }

// sqlState is the SQL Statement Execution API's state, guarded by
// Workspace.mu.
type sqlState struct {
	statementPolls int
	failSQL        []string
	statements     map[string]*statement
	// loaded holds the files each table has loaded with COPY INTO, and
	// merged those it has loaded with a MERGE that matches on the file's
	// path, keyed by the table name in lower case (Unity Catalog names
	// are case-insensitive).
	loaded, merged map[Load]bool
	loads          []Load
	// tables holds each table's column names, in order, keyed by the
	// table name in lower case.
	tables map[string][]string
	// executed is the text of every statement the warehouse ran or
	// refused, in the order submitted.
	executed []string
}

type statement struct {
	id     string
	polls  int
	final  string // SUCCEEDED or FAILED
	errMsg string
	result *rowResult // the statement's one result row; nil for none
}

// rowResult is the one row a COPY INTO or a MERGE returns: its counts, by
// column name.
type rowResult struct {
	names  []string
	values []string
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

// WithTable makes a table that exists before any statement runs, as one
// created by hand would, with the named columns.
func WithTable(name string, columns ...string) Option {
	return func(w *Workspace) { w.sql.tables[strings.ToLower(unquote(name))] = slices.Clone(columns) }
}

// Loads returns the files COPY INTO or MERGE loaded, in order. COPY INTO
// skips a file its table has loaded before, unless a statement set
// COPY_OPTIONS ('force' = 'true'), and so does a MERGE that matches on the
// file's path (see merge), so each (table, file) appears once.
func (w *Workspace) Loads() []Load {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Load(nil), w.sql.loads...)
}

// Statements returns the text of every statement submitted, in order,
// whether it succeeded or failed: what a warehouse's query history shows.
func (w *Workspace) Statements() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.sql.executed...)
}

// Tables returns each table's columns, in order, keyed by the table's name
// in lower case.
func (w *Workspace) Tables() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	for k, v := range w.sql.tables {
		out[k] = slices.Clone(v)
	}
	return out
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
	w.sql.executed = append(w.sql.executed, req.Statement)
	if st.final == "SUCCEEDED" {
		var err error
		if st.result, err = w.execute(req.Statement); err != nil {
			st.final, st.errMsg = "FAILED", err.Error()
		}
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
// a COPY INTO or MERGE that SUCCEEDED also carries its result row, as the API
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
	if state == "SUCCEEDED" && st.result != nil {
		body["manifest"], body["result"] = st.result.response()
	}
	writeJSON(rw, http.StatusOK, body)
}

var (
	createTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([^\s(]+)\s*\(`)
	copyInto    = regexp.MustCompile(`(?is)^\s*COPY\s+INTO\s+(\S+)\s+FROM\s+'([^']*)'`)
	copyOptions = regexp.MustCompile(`(?is)\bCOPY_OPTIONS\s*\(([^)]*)\)`)
	forceTrue   = regexp.MustCompile(`(?i)'force'\s*=\s*'true'`)
	validate    = regexp.MustCompile(`(?i)\bVALIDATE\b`)
	quoted      = regexp.MustCompile(`'[^']*'`)
	alias       = regexp.MustCompile("(?is)\\bAS\\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s*$")
	lastName    = regexp.MustCompile("(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s*$")
	// mergeInto is MERGE INTO table [[AS] alias] USING (, up to the
	// parenthesis that opens the source query.
	mergeInto = regexp.MustCompile(`(?is)^\s*MERGE\s+INTO\s+([^\s(]+)(?:\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*))?\s+USING\s*\(`)
	// mergeOn is what follows the source query: [AS] alias ON condition
	// WHEN NOT MATCHED THEN INSERT (, up to the column list's parenthesis.
	mergeOn = regexp.MustCompile(`(?is)^\s*(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*)\s+ON\s+(.*?)\s+WHEN\s+NOT\s+MATCHED(?:\s+BY\s+TARGET)?\s+THEN\s+INSERT\s*\(`)
	// readFiles is the one source the fake reads: SELECT list FROM
	// read_files(, up to the function's parenthesis.
	readFiles = regexp.MustCompile(`(?is)^\s*SELECT\s+(.*?)\s+FROM\s+read_files\s*\(`)
	literal   = regexp.MustCompile(`^\s*'([^']*)'`)
	valuesKw  = regexp.MustCompile(`(?is)^\s*VALUES\s*\(`)
	// equality is one conjunct of a MERGE condition: alias.column =
	// alias.column, or alias.column = 'literal'.
	equality = regexp.MustCompile("(?s)^([A-Za-z_][A-Za-z0-9_]*)\\.(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s*=\\s*(?:([A-Za-z_][A-Za-z0-9_]*)\\.(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)|'([^']*)')$")
	and      = regexp.MustCompile(`(?i)^AND$`)
)

// execute runs a statement; CREATE TABLE, COPY INTO and MERGE have
// effects, and an error is the statement's failure. The caller holds w.mu.
func (w *Workspace) execute(text string) (*rowResult, error) {
	if m := createTable.FindStringSubmatchIndex(text); m != nil {
		return nil, w.create(text, m)
	}
	if m := mergeInto.FindStringSubmatchIndex(text); m != nil {
		return w.merge(text, m)
	}
	return w.copyInto(text)
}

// create runs CREATE TABLE [IF NOT EXISTS] name (columns) ...: "IF NOT
// EXISTS: If specified and a table with the same name already exists, the
// statement is ignored"; without it an existing table fails the statement
// (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-table-using.html).
// An existing table keeps its columns either way.
func (w *Workspace) create(text string, m []int) error {
	ifNotExists := m[2] >= 0
	name := strings.ToLower(unquote(text[m[4]:m[5]]))
	open := m[1] - 1
	end := closing(text, open)
	if end < 0 {
		return fmt.Errorf("[PARSE_SYNTAX_ERROR] CREATE TABLE %s: unbalanced column list", name)
	}
	var cols []string
	for _, def := range splitTop(text[open+1 : end]) {
		f := strings.Fields(def)
		if len(f) < 2 {
			return fmt.Errorf("[PARSE_SYNTAX_ERROR] CREATE TABLE %s: column %q has no type", name, def)
		}
		cols = append(cols, unquote(f[0]))
	}
	if _, ok := w.sql.tables[name]; ok {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table %s because it already exists", name)
	}
	w.sql.tables[name] = cols
	return nil
}

// copyInto runs COPY INTO; other statements have no effect. COPY INTO
// "Identifies an existing Delta table" and is documented as "a retriable
// and idempotent operation — files in the source location that have
// already been loaded are skipped", except that COPY_OPTIONS 'force' =
// 'true' disables idempotency, and VALIDATE checks the data without
// writing it (https://docs.databricks.com/sql/language-manual/delta-copy-into.html).
func (w *Workspace) copyInto(text string) (*rowResult, error) {
	m := copyInto.FindStringSubmatchIndex(text)
	if m == nil {
		return nil, nil
	}
	table, source, end := text[m[2]:m[3]], text[m[4]:m[5]], m[1]
	name := strings.ToLower(unquote(table))
	if _, ok := w.sql.tables[name]; !ok {
		return nil, fmt.Errorf("[TABLE_OR_VIEW_NOT_FOUND] The table or view %s cannot be found", table)
	}
	if validate.MatchString(quoted.ReplaceAllString(text[end:], "''")) {
		return copied(0), nil
	}
	force := false
	if o := copyOptions.FindStringSubmatch(text[end:]); o != nil {
		force = forceTrue.MatchString(o[1])
	}
	key := Load{Table: name, Source: source}
	if w.sql.loaded[key] && !force {
		return copied(0), nil
	}
	w.sql.loaded[key] = true
	w.sql.loads = append(w.sql.loads, Load{Table: table, Source: source})
	return copied(1), nil
}

// copied is COPY INTO's result row: num_affected_rows, num_inserted_rows
// and num_skipped_corrupt_files, all 0 when the file was skipped. The
// fake does not read the file, so it counts a loaded file as one row.
func copied(rows int) *rowResult {
	n := strconv.Itoa(rows)
	return &rowResult{[]string{"num_affected_rows", "num_inserted_rows", "num_skipped_corrupt_files"}, []string{n, n, "0"}}
}

// mergeResult is MERGE's result row
// (https://docs.databricks.com/sql/language-manual/delta-merge-into.html):
// num_affected_rows, num_updated_rows, num_deleted_rows and
// num_inserted_rows; the fake counts a loaded file as one inserted row.
func mergeResult(rows int) *rowResult {
	n := strconv.Itoa(rows)
	return &rowResult{[]string{"num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows"}, []string{n, "0", "0", n}}
}

// mergeStatement is what the fake understands of
// MERGE INTO table [[AS] t] USING (SELECT list FROM read_files('path', ...) ...) [AS] s
// ON condition WHEN NOT MATCHED THEN INSERT (columns) VALUES (s.columns).
type mergeStatement struct {
	table, target, source string
	selected              []string // the source query's column names
	path                  string   // read_files' path
	on                    string
	insert, values        []string
}

// parseMerge reads a MERGE; m is mergeInto's match.
func parseMerge(text string, m []int) (mergeStatement, error) {
	st := mergeStatement{table: text[m[2]:m[3]]}
	if m[4] >= 0 {
		st.target = text[m[4]:m[5]]
	}
	open := m[1] - 1
	end := closing(text, open)
	if end < 0 {
		return st, fmt.Errorf("[PARSE_SYNTAX_ERROR] MERGE INTO %s: unbalanced source query", st.table)
	}
	query := text[open+1 : end]
	sel := readFiles.FindStringSubmatchIndex(query)
	if sel == nil {
		return st, fmt.Errorf("fake: MERGE INTO %s: the source is not SELECT ... FROM read_files(...)", st.table)
	}
	for _, item := range splitTop(query[sel[2]:sel[3]]) {
		if a := alias.FindStringSubmatch(item); a != nil {
			st.selected = append(st.selected, unquote(a[1]))
		} else if n := lastName.FindStringSubmatch(item); n != nil {
			st.selected = append(st.selected, unquote(n[1]))
		}
	}
	args := closing(query, sel[1]-1)
	p := literal.FindStringSubmatch(query[sel[1]:max(args, sel[1])])
	if args < 0 || p == nil {
		return st, fmt.Errorf("[PARSE_SYNTAX_ERROR] MERGE INTO %s: read_files needs a path literal", st.table)
	}
	st.path = p[1]
	rest := text[end+1:]
	on := mergeOn.FindStringSubmatchIndex(rest)
	if on == nil {
		return st, fmt.Errorf("fake: MERGE INTO %s: only [AS] s ON ... WHEN NOT MATCHED THEN INSERT (...) VALUES (...) is understood", st.table)
	}
	st.source, st.on = rest[on[2]:on[3]], rest[on[4]:on[5]]
	colsEnd := closing(rest, on[1]-1)
	if colsEnd < 0 {
		return st, fmt.Errorf("[PARSE_SYNTAX_ERROR] MERGE INTO %s: unbalanced INSERT column list", st.table)
	}
	for _, c := range splitTop(rest[on[1]:colsEnd]) {
		st.insert = append(st.insert, unquote(c))
	}
	rest = rest[colsEnd+1:]
	v := valuesKw.FindStringIndex(rest)
	valsEnd := -1
	if v != nil {
		valsEnd = closing(rest, v[1]-1)
	}
	if valsEnd < 0 || strings.TrimSpace(rest[valsEnd+1:]) != "" {
		return st, fmt.Errorf("fake: MERGE INTO %s: INSERT (...) must be followed by VALUES (...) and nothing else", st.table)
	}
	st.values = splitTop(rest[v[1]:valsEnd])
	return st, nil
}

// merge runs a MERGE whose only clause inserts what does not match
// (parseMerge), as Delta does for what the fake can see without reading
// the file. The table must exist ("The table referenced must be a Delta
// table"), the insert must name only columns the table has ("The columns
// that are the target of an UPDATE or INSERT action must exist in the
// target table", https://docs.databricks.com/aws/en/tables/schema-enforcement),
// and each value must be a column of the source query. The fake does not
// read the file, so it stands for its lines by the file: when the
// condition matches the table's sourceFile with the source's (and any
// literal it gives the table's sourceFile is the path read_files reads),
// a file the table has loaded matches every line and inserts nothing, as
// a real MERGE keyed by sourceFile and eventID would; with any other
// condition every MERGE inserts the file again.
func (w *Workspace) merge(text string, m []int) (*rowResult, error) {
	st, err := parseMerge(text, m)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(unquote(st.table))
	cols, ok := w.sql.tables[name]
	if !ok {
		return nil, fmt.Errorf("[TABLE_OR_VIEW_NOT_FOUND] The table or view %s cannot be found", st.table)
	}
	has := func(list []string, c string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, c) })
	}
	var lacking []string
	for _, c := range st.insert {
		if !has(cols, c) {
			lacking = append(lacking, c)
		}
	}
	if len(lacking) > 0 {
		return nil, fmt.Errorf("[UNRESOLVED_COLUMN.WITH_SUGGESTION] MERGE INTO %s inserts columns %v that the table lacks; its columns are %v", st.table, lacking, cols)
	}
	if len(st.values) != len(st.insert) {
		return nil, fmt.Errorf("[PARSE_SYNTAX_ERROR] MERGE INTO %s inserts %d columns with %d values", st.table, len(st.insert), len(st.values))
	}
	for _, v := range st.values {
		q, c, ok := strings.Cut(v, ".")
		if !ok || !strings.EqualFold(q, st.source) || !has(st.selected, unquote(c)) {
			return nil, fmt.Errorf("[UNRESOLVED_COLUMN.WITH_SUGGESTION] MERGE INTO %s: value %s is not a column of the source %s %v", st.table, v, st.source, st.selected)
		}
	}
	key := Load{Table: name, Source: st.path}
	idempotent := st.keyedByFile()
	if idempotent && w.sql.merged[key] {
		return mergeResult(0), nil
	}
	w.sql.merged[key] = true
	w.sql.loads = append(w.sql.loads, Load{Table: st.table, Source: st.path})
	return mergeResult(1), nil
}

// keyedByFile reports whether the MERGE's condition is a conjunction of
// equalities that matches the table's sourceFile with the source's, and
// gives the table's sourceFile no other literal than the path read.
func (st mergeStatement) keyedByFile() bool {
	joined := false
	for _, c := range splitAnd(st.on) {
		e := equality.FindStringSubmatch(strings.TrimSpace(c))
		if e == nil {
			return false
		}
		left, col := e[1], unquote(e[2])
		if !strings.EqualFold(left, st.target) || !strings.EqualFold(col, "sourceFile") {
			continue
		}
		switch {
		case e[3] != "" && strings.EqualFold(e[3], st.source) && strings.EqualFold(unquote(e[4]), "sourceFile"):
			joined = true
		case e[3] == "" && e[5] != st.path:
			return false
		}
	}
	return joined
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// walkTop calls visit with each index of s from start that is outside
// quotes ('…' and `…`), and the nesting of parentheses there (counting the
// one at the index itself), until visit returns true; it returns that
// index, or -1.
func walkTop(s string, start int, visit func(i, depth int) bool) int {
	depth := 0
	var q byte
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
			continue
		case c == '\'' || c == '`':
			q = c
			continue
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
		if visit(i, depth) {
			return i
		}
	}
	return -1
}

// splitAnd splits a condition at the ANDs outside parentheses and quotes.
func splitAnd(cond string) []string {
	var out []string
	start := 0
	walkTop(cond, 0, func(i, depth int) bool {
		if depth == 0 && i > 0 && i+4 < len(cond) && space(cond[i-1]) && and.MatchString(cond[i:i+3]) && space(cond[i+3]) {
			out = append(out, cond[start:i])
			start = i + 4
		}
		return false
	})
	return append(out, cond[start:])
}

// unquote drops the backquotes of a quoted identifier such as
// main.cdc.`orders` or `keys`.
func unquote(name string) string { return strings.ReplaceAll(name, "`", "") }

// closing returns the index of the parenthesis that closes the one at
// open, skipping quoted text, or -1.
func closing(s string, open int) int {
	return walkTop(s, open, func(i, depth int) bool { return s[i] == ')' && depth == 0 })
}

// splitTop splits a list at the commas outside parentheses and quotes.
func splitTop(s string) []string {
	var out []string
	start := 0
	walkTop(s, 0, func(i, depth int) bool {
		if s[i] == ',' && depth == 0 {
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
		return false
	})
	return append(out, strings.TrimSpace(s[start:]))
}

// response is the result row in the JSON_ARRAY format the client asks
// for: the manifest's schema, and one chunk of one row.
func (r *rowResult) response() (manifest, result map[string]any) {
	cols := []map[string]any{}
	for i, name := range r.names {
		cols = append(cols, map[string]any{"name": name, "type_name": "LONG", "type_text": "BIGINT", "position": i})
	}
	manifest = map[string]any{
		"format":            "JSON_ARRAY",
		"schema":            map[string]any{"column_count": len(cols), "columns": cols},
		"total_chunk_count": 1,
		"total_row_count":   1,
	}
	result = map[string]any{
		"chunk_index": 0, "row_offset": 0, "row_count": 1,
		"data_array": [][]string{r.values},
	}
	return manifest, result
}
