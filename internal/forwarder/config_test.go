package forwarder

import (
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/databricks/bundle"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/s3event"
)

func s3eventObject(key, etag, seq string) s3event.Object {
	return s3event.Object{Bucket: "b", Key: key, ETag: etag, Sequencer: seq}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing", map[string]string{}, []string{"DATABRICKS_SECRET_ID is not set", "DATABRICKS_VOLUME_PATH is not set"}},
		{"unknown mode", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "email"}, []string{`DELIVERY_MODE="email": want one of volume, job, copy-into, dbfs`}},
		{"volume outside /Volumes", map[string]string{"DATABRICKS_SECRET_ID": "s", "DATABRICKS_VOLUME_PATH": "/tmp/{key}"}, []string{"a path under /Volumes/<catalog>/<schema>/<volume>/"}},
		{"unknown variable", map[string]string{"DATABRICKS_SECRET_ID": "s", "DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/{file}"}, []string{"unknown variable {file}"}},
		{"unclosed", map[string]string{"DATABRICKS_SECRET_ID": "s", "DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/{key"}, []string{"'{' without '}'"}},
		{"job id", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "job", "DATABRICKS_JOB_ID": "abc"}, []string{`DATABRICKS_JOB_ID="abc": want a positive whole number`}},
		{"copy-into", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "copy-into", "DATABRICKS_TABLE": "main.cdc.t; DROP TABLE x"}, []string{"DATABRICKS_WAREHOUSE_ID is not set", "[catalog.][schema.]table"}},
		{"dbfs parent segment", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/cdc/../secrets/{key}"}, []string{`DBFS_PATH="/mnt/cdc/../secrets/{key}": want an absolute path without empty, . or .. segments`}},
		{"dbfs dot segment", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/./{key}"}, []string{`DBFS_PATH="/mnt/./{key}": want an absolute path without empty, . or .. segments`}},
		{"dbfs empty segment", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt//{key}"}, []string{`DBFS_PATH="/mnt//{key}": want an absolute path without empty, . or .. segments`}},
		{"dbfs trailing slash", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "/mnt/{dir}/"}, []string{`DBFS_PATH="/mnt/{dir}/": want an absolute path without empty, . or .. segments`}},
		{"volume parent segment", map[string]string{"DATABRICKS_SECRET_ID": "s", "DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/../../d/e/{key}"}, []string{"without empty, . or .. segments"}},
		{"dbfs relative", map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "dbfs", "DBFS_PATH": "mnt/{key}"}, []string{`DBFS_PATH="mnt/{key}": want an absolute path`}},
		{"bad secret id", map[string]string{"DATABRICKS_SECRET_ID": "my secret!", "DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/{key}"}, []string{`DATABRICKS_SECRET_ID="my secret!"`}},
		{"retry delays", map[string]string{"DATABRICKS_SECRET_ID": "s", "DATABRICKS_VOLUME_PATH": "/Volumes/a/b/c/{key}", "RETRY_BASE_DELAY": "10s", "RETRY_MAX_DELAY": "1s"}, []string{"at least RETRY_BASE_DELAY"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestTemplateExpand(t *testing.T) {
	tpl, err := ParseTemplate("/Volumes/main/cdc/landing/{table}/dt={date}/{name}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Expand(templateVars(s3eventObject("cdc/table=Events.v2/dt=2026-11-22/hour=03/s-1-2.jsonl.gz", "", "")), nil)
	if err != nil || got != "/Volumes/main/cdc/landing/Events.v2/dt=2026-11-22/s-1-2.jsonl.gz" {
		t.Errorf("Expand = %q, %v", got, err)
	}
	if _, err := tpl.Expand(templateVars(s3eventObject("manual/x.gz", "", "")), nil); err == nil || !strings.Contains(err.Error(), "{table}") {
		t.Errorf("missing layout variable: %v", err)
	}
	sql, _ := ParseTemplate("main.cdc.{table}")
	if got, _ := sql.Expand(map[string]string{"table": "Events.v2-x"}, sqlName); got != "main.cdc.Events_v2_x" {
		t.Errorf("sql name %q", got)
	}
}

// TestCopyIntoOptionsRetired: copy-into mode runs a MERGE, which takes no
// COPY INTO options, so COPY_INTO_OPTIONS must be unset or empty; any value
// a deployment kept (the old default, 'force', mergeSchema) is refused at
// start, naming the variable and the remedy, rather than ignored.
func TestCopyIntoOptionsRetired(t *testing.T) {
	tests := []struct {
		name        string
		options     *string // nil: unset
		expectError bool
	}{
		{"unset", nil, false},
		{"empty", ptr(""), false},
		{"blank", ptr("  "), false},
		{"the old default", ptr("FORMAT_OPTIONS ('primitivesAsString' = 'true') COPY_OPTIONS ('mergeSchema' = 'true')"), true},
		{"force", ptr("COPY_OPTIONS ('force' = 'true')"), true},
		{"format options", ptr("FORMAT_OPTIONS ('multiLine' = 'true')"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "copy-into", "DATABRICKS_WAREHOUSE_ID": "wh-1", "DATABRICKS_TABLE": "main.cdc.{table}_changes"}
			if tc.options != nil {
				env["COPY_INTO_OPTIONS"] = *tc.options
			}
			_, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			switch {
			case !tc.expectError && err != nil:
				t.Fatalf("error: got %v, expect none", err)
			case tc.expectError && (err == nil || !strings.Contains(err.Error(), "COPY_INTO_OPTIONS=") || !strings.Contains(err.Error(), "unset it")):
				t.Fatalf("error: got %v, expect COPY_INTO_OPTIONS refused with the remedy", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestCopyIntoTableIsBronzes: the table copy-into mode creates has a column
// per field of a line, in the line's order, typed as the bundle's bronze
// table reads it (sizeBytes BIGINT, ttlDelete BOOLEAN, every other field
// STRING) except keys, which is its exact JSON text, and then sourceFile.
func TestCopyIntoTableIsBronzes(t *testing.T) {
	cols, err := CopyIntoColumns()
	if err != nil {
		t.Fatal(err)
	}
	var got, expect []string
	for _, c := range cols {
		got = append(got, c.Name+" "+c.Type)
	}
	typed := map[string]string{record.FieldSizeBytes: "BIGINT", record.FieldTTLDelete: "BOOLEAN"}
	for _, f := range record.Fields() {
		ty := typed[f]
		if ty == "" {
			ty = "STRING"
		}
		expect = append(expect, f+" "+ty)
	}
	expect = append(expect, bundle.SourceFile+" STRING")
	if strings.Join(got, ", ") != strings.Join(expect, ", ") {
		t.Errorf("columns:\ngot    %s\nexpect %s", strings.Join(got, ", "), strings.Join(expect, ", "))
	}
	create, err := CreateTableStatement("main.cdc.Orders_changes")
	if err != nil {
		t.Fatal(err)
	}
	defs := strings.ReplaceAll("`"+strings.Join(expect, ", `"), " STRING", "` STRING")
	defs = strings.ReplaceAll(strings.ReplaceAll(defs, " BIGINT", "` BIGINT"), " BOOLEAN", "` BOOLEAN")
	if prefix := "CREATE TABLE IF NOT EXISTS main.cdc.Orders_changes (" + defs + ") USING DELTA"; !strings.HasPrefix(create, prefix) {
		t.Errorf("create:\ngot    %s\nexpect %s...", create, prefix)
	}
}

// TestLoadStatement: each object is read by read_files with the JSON
// file reader and the table's schema (not from_json, which re-renders
// numbers), a line that does not fit fails the statement, and the MERGE
// inserts a line only if no row has its sourceFile and eventID, naming
// every column it inserts.
func TestLoadStatement(t *testing.T) {
	const (
		key  = "cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz"
		path = "s3://b/" + key
	)
	cols, err := CopyIntoColumns()
	if err != nil {
		t.Fatal(err)
	}
	var schema, selects, names, values []string
	for _, c := range cols[:len(cols)-1] {
		schema = append(schema, "`"+c.Name+"` "+c.Type)
		if c.Name == record.FieldEventID {
			selects = append(selects, "CASE WHEN _rescued_data IS NULL AND `eventID` IS NOT NULL AND _metadata.file_path = '"+path+"' THEN `eventID` "+
				"ELSE raise_error(concat('a line of "+path+" does not fit the record format: eventID ', coalesce(`eventID`, 'missing'), "+
				"', rescued data ', coalesce(_rescued_data, 'none'), ', read from ', _metadata.file_path)) END AS `eventID`")
			continue
		}
		selects = append(selects, "`"+c.Name+"`")
	}
	selects = append(selects, "_metadata.file_path AS `sourceFile`")
	for _, c := range cols {
		names, values = append(names, "`"+c.Name+"`"), append(values, "s.`"+c.Name+"`")
	}
	expect := "MERGE INTO main.cdc.Orders_changes AS t USING (SELECT " + strings.Join(selects, ", ") +
		" FROM read_files('" + path + "', format => 'json', schema => '" + strings.Join(schema, ", ") + "', rescuedDataColumn => '_rescued_data', mode => 'FAILFAST', partitionColumns => '')) AS s" +
		" ON t.`sourceFile` = '" + path + "' AND t.`sourceFile` = s.`sourceFile` AND t.`eventID` = s.`eventID`" +
		" WHEN NOT MATCHED THEN INSERT (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(values, ", ") + ")"
	stmt, err := LoadStatement("main.cdc.Orders_changes", "b", key)
	if err != nil {
		t.Fatal(err)
	}
	if stmt != expect {
		t.Errorf("statement:\ngot    %s\nexpect %s", stmt, expect)
	}
	for _, lossy := range []string{"from_json", "FILEFORMAT", "COPY INTO", "INSERT *", "multiLine", "encoding", "primitivesAsString", "prefersDecimal"} {
		if strings.Contains(stmt, lossy) {
			t.Errorf("statement has %q: %s", lossy, stmt)
		}
	}
}

// TestLoadStatementRefusesOtherPaths: a bucket or key with a character
// other than the pipeline's own (letters, digits, -_.=/) is refused: a
// quote or backslash would change the SQL literal, *?[]{} are read_files
// globs, and a space, % or non-ASCII letter would be percent-encoded in
// _metadata.file_path, so the match on sourceFile would never find the
// object's rows.
func TestLoadStatementRefusesOtherPaths(t *testing.T) {
	for _, tc := range []struct{ bucket, key string }{
		{"b", "it's.jsonl.gz"}, {"b", `back\slash.jsonl.gz`}, {"b", "a*.jsonl.gz"}, {"b", "a?.jsonl.gz"}, {"b", "a[1].jsonl.gz"},
		{"b", "a{b,c}.jsonl.gz"}, {"b", "a b.jsonl.gz"}, {"b", "a%20.jsonl.gz"}, {"b", "é.jsonl.gz"}, {"b", ""}, {"b'", "k.jsonl.gz"},
	} {
		if _, err := LoadStatement("t", tc.bucket, tc.key); err == nil || !strings.Contains(err.Error(), "letters, digits and -_.=/") {
			t.Errorf("s3://%s/%s: got %v, expect a refusal", tc.bucket, tc.key, err)
		}
	}
	if _, err := LoadStatement("t", "my-bucket.eu", "cdc/table=Events.v2-x_y/dt=2026-11-23/hour=17/snapshot-0179-abc.jsonl.gz"); err != nil {
		t.Errorf("a pipeline key: %v", err)
	}
}
