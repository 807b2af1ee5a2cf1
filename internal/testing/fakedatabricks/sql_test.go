package fakedatabricks

import (
	"net/http"
	"reflect"
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

// TestCopyIntoLoadsEachFileOnce: COPY INTO is "a retriable and idempotent
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
			s := serve(t, append([]Option{WithToken("t"), WithStatementPolls(0)}, tc.opts...)...)
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
	s := serve(t, WithToken("t"), WithStatementPolls(2))

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
