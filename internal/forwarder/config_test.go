package forwarder

import (
	"strings"
	"testing"

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

// TestDefaultCopyOptionsKeepEveryDigit: COPY INTO's default options must
// not let schema inference type a number, since an inferred DOUBLE (what
// 'prefersDecimal' falls back to beyond DECIMAL(38), for 1E+130) keeps
// about 17 digits, and must be what the forwarder sends by default.
func TestDefaultCopyOptionsKeepEveryDigit(t *testing.T) {
	opts := strings.ToLower(DefaultCopyOptions)
	if !strings.Contains(opts, "'primitivesasstring' = 'true'") {
		t.Errorf("default options %q do not read numbers as strings", DefaultCopyOptions)
	}
	for _, lossy := range []string{"prefersdecimal", "inferschema", "infercolumntypes"} {
		if strings.Contains(opts, lossy) {
			t.Errorf("default options %q infer numeric types (%s)", DefaultCopyOptions, lossy)
		}
	}
	env := map[string]string{"DATABRICKS_SECRET_ID": "s", "DELIVERY_MODE": "copy-into", "DATABRICKS_WAREHOUSE_ID": "wh-1", "DATABRICKS_TABLE": "main.cdc.{table}_changes"}
	c, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.CopyOptions != DefaultCopyOptions {
		t.Errorf("COPY_INTO_OPTIONS unset: options %q", c.CopyOptions)
	}
	h := &Handler{cfg: c}
	stmt, err := h.copyStatement(s3eventObject("cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz", "", ""), map[string]string{"table": "Orders"})
	if err != nil {
		t.Fatal(err)
	}
	want := "COPY INTO main.cdc.Orders_changes FROM 's3://b/cdc/table=Orders/dt=2026-11-23/hour=17/s-1-2.jsonl.gz' FILEFORMAT = JSON " +
		"FORMAT_OPTIONS ('primitivesAsString' = 'true') COPY_OPTIONS ('mergeSchema' = 'true')"
	if stmt != want {
		t.Errorf("statement\n%s\nwant\n%s", stmt, want)
	}
}
