package fakedatabricks

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// statementAnswer is a StatementResponse
// (https://docs.databricks.com/api/statement-execution/v1/get-statement-result.md).
type statementAnswer struct {
	StatementID string `json:"statement_id"`
	Status      struct {
		State string `json:"state"`
		Error struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		} `json:"error"`
	} `json:"status"`
	Manifest *struct {
		Format string `json:"format"`
		Schema struct {
			Columns []struct {
				Name string `json:"name"`
			} `json:"columns"`
		} `json:"schema"`
	} `json:"manifest"`
	Result *struct {
		DataArray [][]string `json:"data_array"`
	} `json:"result"`
}

// copyRow is COPY INTO's one result row, keyed by column name; nil when
// the answer has no result.
func (a statementAnswer) copyRow() map[string]string {
	if a.Manifest == nil || a.Result == nil || len(a.Result.DataArray) != 1 {
		return nil
	}
	row := map[string]string{}
	for i, c := range a.Manifest.Schema.Columns {
		if i < len(a.Result.DataArray[0]) {
			row[c.Name] = a.Result.DataArray[0][i]
		}
	}
	return row
}

// executeBody is an execute-statement request as internal/databricks sends
// it (https://docs.databricks.com/api/workspace/statementexecution/executestatement).
func executeBody(stmt string) map[string]any {
	return map[string]any{
		"statement": stmt, "warehouse_id": "wh-1",
		"wait_timeout": "30s", "on_wait_timeout": "CONTINUE", "disposition": "INLINE", "format": "JSON_ARRAY",
	}
}

func loaded(rows string) map[string]string {
	return map[string]string{"num_affected_rows": rows, "num_inserted_rows": rows, "num_skipped_corrupt_files": "0"}
}

// TestCopyIntoLoadsEachFileOnce: given its table, COPY INTO is "a retriable and idempotent
// operation — files in the source location that have already been loaded
// are skipped", unless COPY_OPTIONS 'force' = 'true'; VALIDATE writes
// nothing (https://docs.databricks.com/sql/language-manual/delta-copy-into.html).
// A skipped file reports 0 rows. The end-to-end proof that redelivered
// objects load once rests on this.
func TestCopyIntoLoadsEachFileOnce(t *testing.T) {
	const (
		orders  = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON"
		orders2 = "COPY INTO main.cdc.orders FROM 's3://b/t/2.jsonl.gz' FILEFORMAT = JSON"
		// The forwarder's default options (internal/forwarder/config.go).
		merged = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON FORMAT_OPTIONS ('prefersDecimal' = 'true', 'inferTimestamp' = 'false') COPY_OPTIONS ('mergeSchema' = 'true')"
		forced = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON COPY_OPTIONS ('force' = 'true')"
		upper  = "copy into MAIN.cdc.Orders from 's3://b/t/1.jsonl.gz' fileformat = JSON"
		other  = "COPY INTO main.cdc.items FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON"
		valid  = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON VALIDATE ALL"
		quoted = "COPY INTO main.cdc.orders FROM 's3://b/VALIDATE/1.jsonl.gz' FILEFORMAT = JSON"
	)
	l := func(table, src string) Load { return Load{Table: table, Source: src} }
	tests := []struct {
		name        string
		opts        []Option
		statements  []string
		expectState []string
		expectRows  []map[string]string // COPY INTO result per statement; nil for none
		expectLoads []Load
	}{
		{"same file twice loads once", nil,
			[]string{orders, orders}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("0")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz")}},
		{"two files load", nil,
			[]string{orders, orders2}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("1")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz"), l("main.cdc.orders", "s3://b/t/2.jsonl.gz")}},
		{"one file into two tables loads into each", nil,
			[]string{orders, other, other}, []string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("1"), loaded("0")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz"), l("main.cdc.items", "s3://b/t/1.jsonl.gz")}},
		{"table names are case-insensitive", nil,
			[]string{orders, upper}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("0")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz")}},
		{"the forwarder's options keep idempotency", nil,
			[]string{merged, merged}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("0")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz")}},
		{"force loads again", nil,
			[]string{orders, forced}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("1"), loaded("1")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz"), l("main.cdc.orders", "s3://b/t/1.jsonl.gz")}},
		{"validate writes nothing", nil,
			[]string{valid, orders}, []string{"SUCCEEDED", "SUCCEEDED"},
			[]map[string]string{loaded("0"), loaded("1")},
			[]Load{l("main.cdc.orders", "s3://b/t/1.jsonl.gz")}},
		{"VALIDATE inside the location is not the keyword", nil,
			[]string{quoted}, []string{"SUCCEEDED"},
			[]map[string]string{loaded("1")},
			[]Load{l("main.cdc.orders", "s3://b/VALIDATE/1.jsonl.gz")}},
		{"other statements load nothing", nil,
			[]string{"SELECT 1"}, []string{"SUCCEEDED"},
			[]map[string]string{nil}, nil},
		{"a failing statement loads nothing", []Option{WithFailingStatements("orders")},
			[]string{orders, other}, []string{"FAILED", "SUCCEEDED"},
			[]map[string]string{nil, loaded("1")},
			[]Load{l("main.cdc.items", "s3://b/t/1.jsonl.gz")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, append([]Option{WithToken("t"), WithStatementPolls(0), WithTable("main.cdc.orders"), WithTable("main.cdc.items")}, tc.opts...)...)
			for i, stmt := range tc.statements {
				got := s.postJSON(t, statementsPath, "t", executeBody(stmt))
				if got.status != http.StatusOK {
					t.Fatalf("statement %d: got HTTP %d (%s), expect 200", i, got.status, got.body)
				}
				a := decode[statementAnswer](t, got)
				if a.StatementID == "" {
					t.Errorf("statement %d: got no statement_id", i)
				}
				if a.Status.State != tc.expectState[i] {
					t.Errorf("statement %d state: got %s, expect %s", i, a.Status.State, tc.expectState[i])
				}
				if row := a.copyRow(); !reflect.DeepEqual(row, tc.expectRows[i]) {
					t.Errorf("statement %d result: got %v, expect %v", i, row, tc.expectRows[i])
				}
				if a.Status.State == "FAILED" && (a.Status.Error.ErrorCode == "" || a.Status.Error.Message == "") {
					t.Errorf("statement %d: FAILED without error code and message: %+v", i, a.Status.Error)
				}
			}
			if got := s.ws.Loads(); !reflect.DeepEqual(got, tc.expectLoads) {
				t.Errorf("loads: got %v, expect %v", got, tc.expectLoads)
			}
		})
	}
}

// TestStatementPolling: a statement reports RUNNING until its polls are
// used, then its end with the result; the warehouse runs it when it is
// submitted, "the statement execution continues asynchronously"
// (https://docs.databricks.com/api/workspace/statementexecution/executestatement),
// so an abandoned statement has still loaded its file and a retried one
// skips it.
func TestStatementPolling(t *testing.T) {
	const stmt = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON"
	s := serve(t, WithToken("t"), WithStatementPolls(2), WithTable("main.cdc.orders"))

	abandoned := decode[statementAnswer](t, s.postJSON(t, statementsPath, "t", executeBody(stmt)))
	if abandoned.Status.State != "RUNNING" || abandoned.copyRow() != nil {
		t.Errorf("submitted: got %s with result %v, expect RUNNING without a result", abandoned.Status.State, abandoned.copyRow())
	}
	if got := len(s.ws.Loads()); got != 1 {
		t.Errorf("loads after the submission: got %d, expect 1", got)
	}

	retry := decode[statementAnswer](t, s.postJSON(t, statementsPath, "t", executeBody(stmt)))
	if retry.StatementID == abandoned.StatementID {
		t.Errorf("statement_id: got %s twice, expect a new one per submission", retry.StatementID)
	}
	tests := []struct {
		expectState string
		expectRow   map[string]string
	}{
		{"RUNNING", nil},
		{"SUCCEEDED", loaded("0")},
		{"SUCCEEDED", loaded("0")},
	}
	for i, tc := range tests {
		got := s.request(t, http.MethodGet, statementsPath+"/"+retry.StatementID, "t", nil, "")
		if got.status != http.StatusOK {
			t.Fatalf("poll %d: got HTTP %d, expect 200", i+1, got.status)
		}
		a := decode[statementAnswer](t, got)
		if a.StatementID != retry.StatementID || a.Status.State != tc.expectState {
			t.Errorf("poll %d: got %s %s, expect %s %s", i+1, a.StatementID, a.Status.State, retry.StatementID, tc.expectState)
		}
		if row := a.copyRow(); !reflect.DeepEqual(row, tc.expectRow) {
			t.Errorf("poll %d result: got %v, expect %v", i+1, row, tc.expectRow)
		}
	}
	if got := len(s.ws.Loads()); got != 1 {
		t.Errorf("loads: got %d, expect 1", got)
	}

	unknown := s.request(t, http.MethodGet, statementsPath+"/no-such-statement", "t", nil, "")
	if unknown.status != http.StatusNotFound || unknown.errorCode() != "NOT_FOUND" {
		t.Errorf("unknown statement: got %d %s, expect 404 NOT_FOUND", unknown.status, unknown.errorCode())
	}
}

// TestExecuteStatementNeedsItsFields: statement and warehouse_id are
// required.
func TestExecuteStatementNeedsItsFields(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
	}{
		{"no statement", map[string]any{"warehouse_id": "wh-1"}},
		{"no warehouse", map[string]any{"statement": "SELECT 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			got := s.postJSON(t, statementsPath, "t", tc.body)
			if got.status != http.StatusBadRequest || got.errorCode() != "INVALID_PARAMETER_VALUE" {
				t.Errorf("got %d %s, expect 400 INVALID_PARAMETER_VALUE", got.status, got.errorCode())
			}
		})
	}
}

// TestTablesAndMerge: COPY INTO and MERGE "Identif[y] an existing Delta
// table", so they fail until CREATE TABLE made it; CREATE TABLE IF NOT
// EXISTS "is ignored" when the table exists and keeps its columns,
// without IF NOT EXISTS it fails
// (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-ddl-create-table-using.html).
// A MERGE from read_files that matches on the file's sourceFile loads a
// file once, as its match on sourceFile and eventID finds every line
// again; one that does not (no such match, or a sourceFile literal that
// is not the file read) loads it again. An insert naming a column the
// table lacks fails ("The columns that are the target of an UPDATE or
// INSERT action must exist in the target table",
// https://docs.databricks.com/aws/en/tables/schema-enforcement), and so
// does a value that is not a column of the source.
func TestTablesAndMerge(t *testing.T) {
	const (
		create = "CREATE TABLE IF NOT EXISTS main.cdc.`orders` (`eventID` STRING, `n` BIGINT, `sourceFile` STRING) USING DELTA COMMENT 'a, (b)'"
		again  = "CREATE TABLE IF NOT EXISTS main.cdc.orders (other STRING)"
		strict = "CREATE TABLE main.cdc.orders (other STRING)"
		plain  = "COPY INTO main.cdc.orders FROM 's3://b/t/1.jsonl.gz' FILEFORMAT = JSON"
	)
	merge := func(path, on, insert, values string) string {
		return "MERGE INTO main.cdc.orders AS t USING (SELECT CASE WHEN _rescued_data IS NULL THEN `eventID` ELSE raise_error(concat('bad (', _metadata.file_path, ') AND x')) END AS `eventID`, " +
			"`n`, _metadata.file_path AS `sourceFile` FROM read_files('" + path + "', format => 'json', schema => '`eventID` STRING, `n` BIGINT', mode => 'FAILFAST')) AS s " +
			"ON " + on + " WHEN NOT MATCHED THEN INSERT (" + insert + ") VALUES (" + values + ")"
	}
	const (
		cols   = "`eventID`, `n`, `sourceFile`"
		values = "s.`eventID`, s.`n`, s.`sourceFile`"
		keyed  = "t.`sourceFile` = 's3://b/t/2.jsonl.gz' AND t.`sourceFile` = s.`sourceFile` AND t.`eventID` = s.`eventID`"
	)
	load := merge("s3://b/t/2.jsonl.gz", keyed, cols, values)
	l := func(src string) Load { return Load{Table: "main.cdc.orders", Source: src} }
	tableCols := []string{"eventID", "n", "sourceFile"}
	tests := []struct {
		name         string
		statements   []string
		expectState  []string
		expectError  []string // a part of each FAILED statement's message
		expectRows   []map[string]string
		expectLoads  []Load
		expectTables map[string][]string
	}{
		{"no table", []string{plain, load}, []string{"FAILED", "FAILED"}, []string{"[TABLE_OR_VIEW_NOT_FOUND]", "[TABLE_OR_VIEW_NOT_FOUND]"},
			[]map[string]string{nil, nil}, nil, map[string][]string{}},
		{"created, then loaded", []string{create, plain}, []string{"SUCCEEDED", "SUCCEEDED"}, []string{"", ""},
			[]map[string]string{nil, loaded("1")}, []Load{l("s3://b/t/1.jsonl.gz")}, map[string][]string{"main.cdc.orders": tableCols}},
		{"IF NOT EXISTS keeps the table", []string{create, again, plain}, []string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}, []string{"", "", ""},
			[]map[string]string{nil, nil, loaded("1")}, []Load{l("s3://b/t/1.jsonl.gz")}, map[string][]string{"main.cdc.orders": tableCols}},
		{"CREATE without IF NOT EXISTS fails on a table", []string{create, strict}, []string{"SUCCEEDED", "FAILED"}, []string{"", "[TABLE_OR_VIEW_ALREADY_EXISTS]"},
			[]map[string]string{nil, nil}, nil, map[string][]string{"main.cdc.orders": tableCols}},
		{"a MERGE keyed by the file loads it once", []string{create, load, load}, []string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}, []string{"", "", ""},
			[]map[string]string{nil, merged("1"), merged("0")}, []Load{l("s3://b/t/2.jsonl.gz")}, map[string][]string{"main.cdc.orders": tableCols}},
		{"a MERGE keyed by eventID alone loads it again", []string{create, merge("s3://b/t/2.jsonl.gz", "t.`eventID` = s.`eventID`", cols, values), merge("s3://b/t/2.jsonl.gz", "t.`eventID` = s.`eventID`", cols, values)},
			[]string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}, []string{"", "", ""},
			[]map[string]string{nil, merged("1"), merged("1")}, []Load{l("s3://b/t/2.jsonl.gz"), l("s3://b/t/2.jsonl.gz")}, map[string][]string{"main.cdc.orders": tableCols}},
		{"a sourceFile literal that is not the file matches nothing", []string{create, merge("s3://b/t/3.jsonl.gz", keyed, cols, values), merge("s3://b/t/3.jsonl.gz", keyed, cols, values)},
			[]string{"SUCCEEDED", "SUCCEEDED", "SUCCEEDED"}, []string{"", "", ""},
			[]map[string]string{nil, merged("1"), merged("1")}, []Load{l("s3://b/t/3.jsonl.gz"), l("s3://b/t/3.jsonl.gz")}, map[string][]string{"main.cdc.orders": tableCols}},
		{"a column the table lacks fails", []string{create, merge("s3://b/t/2.jsonl.gz", keyed, cols+", `extra`", values+", s.`n`")},
			[]string{"SUCCEEDED", "FAILED"}, []string{"", "[UNRESOLVED_COLUMN.WITH_SUGGESTION]"},
			[]map[string]string{nil, nil}, nil, map[string][]string{"main.cdc.orders": tableCols}},
		{"a value that is not the source's fails", []string{create, merge("s3://b/t/2.jsonl.gz", keyed, cols, "s.`eventID`, s.`n`, s.`other`")},
			[]string{"SUCCEEDED", "FAILED"}, []string{"", "[UNRESOLVED_COLUMN.WITH_SUGGESTION]"},
			[]map[string]string{nil, nil}, nil, map[string][]string{"main.cdc.orders": tableCols}},
		{"a table made otherwise fails the load", []string{strict, load}, []string{"SUCCEEDED", "FAILED"}, []string{"", "lacks"},
			[]map[string]string{nil, nil}, nil, map[string][]string{"main.cdc.orders": {"other"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"), WithStatementPolls(0))
			for i, stmt := range tc.statements {
				a := decode[statementAnswer](t, s.postJSON(t, statementsPath, "t", executeBody(stmt)))
				if a.Status.State != tc.expectState[i] {
					t.Errorf("statement %d state: got %s (%s), expect %s", i, a.Status.State, a.Status.Error.Message, tc.expectState[i])
				}
				if !strings.Contains(a.Status.Error.Message, tc.expectError[i]) {
					t.Errorf("statement %d error: got %q, expect it to contain %q", i, a.Status.Error.Message, tc.expectError[i])
				}
				if row := a.copyRow(); !reflect.DeepEqual(row, tc.expectRows[i]) {
					t.Errorf("statement %d result: got %v, expect %v", i, row, tc.expectRows[i])
				}
			}
			if got := s.ws.Loads(); !reflect.DeepEqual(got, tc.expectLoads) {
				t.Errorf("loads: got %v, expect %v", got, tc.expectLoads)
			}
			if got := s.ws.Tables(); !reflect.DeepEqual(got, tc.expectTables) {
				t.Errorf("tables: got %v, expect %v", got, tc.expectTables)
			}
			if got := s.ws.Statements(); !reflect.DeepEqual(got, tc.statements) {
				t.Errorf("statements: got %q, expect %q", got, tc.statements)
			}
		})
	}
}

func merged(rows string) map[string]string {
	return map[string]string{"num_affected_rows": rows, "num_updated_rows": "0", "num_deleted_rows": "0", "num_inserted_rows": rows}
}
