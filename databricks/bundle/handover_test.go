package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

// resolvedResources resolves every resource of the bundle with the given
// variable values on top of the stack's, by kind and name.
func resolvedResources(t *testing.T, values map[string]string) map[string]map[string]map[string]any {
	t.Helper()
	saved := map[string]string{}
	for k, v := range stackValues {
		saved[k] = v
	}
	for k, v := range values {
		stackValues[k] = v
	}
	defer func() {
		for k := range values {
			delete(stackValues, k)
		}
		for k, v := range saved {
			stackValues[k] = v
		}
	}()
	main, all := loadBundle(t)
	vars := variables(t, main)
	names := resourceKeys(all)
	out := map[string]map[string]map[string]any{}
	for _, c := range all {
		rs, _ := c.doc["resources"].(map[string]any)
		for kind, byName := range rs {
			for name, def := range byName.(map[string]any) {
				var problems []string
				res := resolve(def, vars, names, map[string]bool{}, &problems).(map[string]any)
				for _, p := range problems {
					t.Errorf("%s.%s: %s", kind, name, p)
				}
				if out[kind] == nil {
					out[kind] = map[string]map[string]any{}
				}
				out[kind][name] = res
			}
		}
	}
	return out
}

// rootPaths resolves each target's workspace root_path (its own, or the
// bundle's) with the given deployment.
func rootPaths(t *testing.T, deployment string) map[string]string {
	t.Helper()
	main, _ := loadBundle(t)
	vars := variables(t, main)
	saved := stackValues["deployment"]
	stackValues["deployment"] = deployment
	defer func() { stackValues["deployment"] = saved }()
	top, _ := main.doc["workspace"].(map[string]any)
	out := map[string]string{}
	for name, tv := range main.doc["targets"].(map[string]any) {
		root, _ := top["root_path"].(string)
		if ws, ok := tv.(map[string]any)["workspace"].(map[string]any); ok {
			if r, ok := ws["root_path"].(string); ok {
				root = r
			}
		}
		if root == "" {
			t.Fatalf("target %s has no root_path: the CLI's default, ~/.bundle/<name>/<target>, would be one for every stack", name)
		}
		var problems []string
		out[name] = resolve(root, vars, nil, map[string]bool{}, &problems).(string)
		for _, p := range problems {
			t.Errorf("target %s root_path: %s", name, p)
		}
	}
	return out
}

// resourceNames are the names each resource is deployed under.
func resourceNames(res map[string]map[string]map[string]any) map[string]string {
	out := map[string]string{}
	for kind, byName := range res {
		for name, def := range byName {
			out[kind+"."+name] = fmt.Sprint(def["name"])
		}
	}
	return out
}

// TestEachStackIsItsOwnDeployment: two stacks' deployments (the printed
// command gives each its stack's name as the deployment variable) have
// distinct workspace root paths, where the CLI keeps a deployment's state,
// and distinct names for every resource, so the second one's deploy makes
// its own pipeline, jobs and volume instead of updating the first's and
// dropping its tables.
func TestEachStackIsItsOwnDeployment(t *testing.T) {
	first, second := rootPaths(t, "stack_one"), rootPaths(t, "stack_two")
	for target, p := range first {
		if p == second[target] {
			t.Errorf("target %s: both stacks deploy to %s, one state for both", target, p)
		}
		if !strings.Contains(p, "stack_one") {
			t.Errorf("target %s: root_path %s does not name the deployment", target, p)
		}
	}
	one := resourceNames(resolvedResources(t, map[string]string{"deployment": "stack_one"}))
	two := resourceNames(resolvedResources(t, map[string]string{"deployment": "stack_two"}))
	if len(one) == 0 {
		t.Fatal("no resources")
	}
	for r, name := range one {
		if name == two[r] {
			t.Errorf("%s is named %q in both stacks' deployments", r, name)
		}
	}
}

// TestBundleStatesTheCLIItNeeds: the pipeline's relative root_path is
// translated only from CLI 0.253.0 on (databricks/cli pull request 2931).
func TestBundleStatesTheCLIItNeeds(t *testing.T) {
	main, _ := loadBundle(t)
	if got := main.doc["bundle"].(map[string]any)["databricks_cli_version"]; got != ">= 0.253.0" {
		t.Errorf("bundle.databricks_cli_version %v, want \">= 0.253.0\"", got)
	}
}

// TestCheckVolumeIsTheBundles: the runtime check writes to the volume the
// bundle creates for it.
func TestCheckVolumeIsTheBundles(t *testing.T) {
	res := resolvedResources(t, map[string]string{"deployment": "stack_one"})
	vol := res["volumes"]["ddbstream_check"]
	want := fmt.Sprintf("/Volumes/%s/%s/%s", vol["catalog_name"], vol["schema_name"], vol["name"])
	conf := res["pipelines"]["ddbstream"]["configuration"].(map[string]any)
	if got := conf["ddbstream.check_volume"]; got != want {
		t.Errorf("ddbstream.check_volume %v, want the bundle's volume %s", got, want)
	}
	if !strings.Contains(want, "stack_one") {
		t.Errorf("the check volume %s is not the deployment's own", want)
	}
}

// TestRuntimeCheckTestsBehaviour: the pipeline checks the runtime by
// reading the fixture through bronze's own reader (the JSON options and
// the line schema Auto Loader reads with), not by its version number.
func TestRuntimeCheckTestsBehaviour(t *testing.T) {
	src := pythonSource(t, pipelinePy)
	if strings.Contains(src, "spark.version") {
		t.Error("pipeline.py tests a version string")
	}
	check := pythonFunction(t, src, "check_runtime")
	bronze := pythonFunction(t, src, "bronze")
	for _, want := range []string{`.options(**s.JSON_OPTIONS)`, `.schema(line_schema(`, `s.RUNTIME_CHECK_FIXTURE`, `s.exact_text_problems(`, `raise RuntimeError(s.runtime_message(`} {
		if !strings.Contains(check, want) {
			t.Errorf("check_runtime has no %s", want)
		}
	}
	for _, want := range []string{`.options(**s.JSON_OPTIONS)`, `.options(**s.AUTO_LOADER_OPTIONS)`, `.schema(line_schema(`} {
		if !strings.Contains(bronze, want) {
			t.Errorf("bronze has no %s: the check would not read as bronze does", want)
		}
	}
	if i, j := strings.Index(src, "\ncheck_runtime("), strings.Index(src, "\nfor _table in"); i < 0 || j < i {
		t.Error("the runtime is not checked before the tables are defined")
	}
}

// TestRuntimeCheckFixtureIsAConverterLine: the fixture is what the record
// converter writes for an item with a 38-digit number and a nested object,
// byte for byte, so the check reads the pipeline's own format.
func TestRuntimeCheckFixtureIsAConverterLine(t *testing.T) {
	k := `{"pk":{"S":"exact"},"sk":{"N":"12345678901234567890123456789012345678"}}`
	n := `{"pk":{"S":"exact"},"sk":{"N":"12345678901234567890123456789012345678"},"m":{"M":{"l":{"L":[{"N":"1.50"},{"N":"-0E-130"},{"M":{"big":{"N":"9.9999999999999999999999999999999999999E+125"}}}]},"s":{"S":"\"quoted\" \\ é"}}}}`
	lines, err := foldtest.StreamLines(record.Plain, foldtest.Change{
		Event: "INSERT", Keys: k, New: n, Seq: "1234567890123456789012345678901234567890",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "src", "ddbstream", "fixtures", "exact_text.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(lines[0], '\n'); !bytes.Equal(got, want) {
		t.Errorf("fixture\n%s\nconverter\n%s", got, want)
	}
}

// TestPipelineQuarantinesBadLines: no expectation fails the update; the
// lines that fail the rules go to a quarantine table per DynamoDB table,
// counted by warning expectations on bronze, and the current state reads
// only the others.
func TestPipelineQuarantinesBadLines(t *testing.T) {
	src := pythonSource(t, pipelinePy)
	if strings.Contains(src, "expect_all_or_fail") || strings.Contains(src, "expect_or_fail") {
		t.Error("pipeline.py stops the whole update for one bad line")
	}
	define := pythonFunction(t, src, "define")
	for _, want := range []string{
		"@dp.expect_all(rules)",
		"name=table.quarantine",
		`.where(f"NOT {valid}")`,
		"s.problems_expression(table)",
		".where(valid)",
	} {
		if !strings.Contains(define, want) {
			t.Errorf("define has no %s", want)
		}
	}
}

// TestPipelineAUTOCDCOptions: the flags the settings decide reach AUTO
// CDC: the item keeps its last image with ttl_deletes=flag, SCD type 2
// tracks history on the item only, and silver is clustered by its keys.
func TestPipelineAUTOCDCOptions(t *testing.T) {
	define := pythonFunction(t, pythonSource(t, pipelinePy), "define")
	for _, want := range []string{
		`options["ignore_null_updates_column_list"] = s.keep_last_image_columns(settings)`,
		`options["track_history_except_column_list"] = s.scd2_untracked_columns()`,
		"**options",
		"cluster_by=list(table.keys)",
		"F.expr(s.item_expression())",
		"AS TIMESTAMP)\").alias(s.APPROXIMATE_CREATION_TIMESTAMP)",
	} {
		if !strings.Contains(define, want) {
			t.Errorf("define has no %s", want)
		}
	}
}

// TestFreshnessAndFailure: a file-arrival job beside the scheduled one,
// one of them unpaused by default; failures of the pipeline (an update, a
// flow) and of either job are emailed.
func TestFreshnessAndFailure(t *testing.T) {
	main, _ := loadBundle(t)
	vars := variables(t, main)
	res := resolvedResources(t, nil)
	arrival, scheduled := 0, 0
	for name, job := range res["jobs"] {
		if tr, ok := job["trigger"].(map[string]any); ok {
			fa, _ := tr["file_arrival"].(map[string]any)
			if fa["url"] != stackValues["source"]+"/" {
				t.Errorf("job %s: file arrival url %v, want the source", name, fa["url"])
			}
			if tr["pause_status"] != "PAUSED" {
				t.Errorf("job %s: the file-arrival trigger is %v by default, want PAUSED beside the schedule", name, tr["pause_status"])
			}
			arrival++
		}
		if sc, ok := job["schedule"].(map[string]any); ok {
			if sc["pause_status"] != "UNPAUSED" {
				t.Errorf("job %s: schedule %v by default", name, sc["pause_status"])
			}
			scheduled++
		}
		en, _ := job["email_notifications"].(map[string]any)
		if of, _ := en["on_failure"].([]any); len(of) != 1 || of[0] != "someone@example.com" {
			t.Errorf("job %s: on_failure %v, want the failure_email variable (the deploying user by default)", name, en["on_failure"])
		}
	}
	if arrival != 1 || scheduled != 1 {
		t.Errorf("%d file-arrival and %d scheduled jobs, want one of each", arrival, scheduled)
	}
	notifications, _ := res["pipelines"]["ddbstream"]["notifications"].([]any)
	alerts := map[string]bool{}
	for _, n := range notifications {
		for _, a := range n.(map[string]any)["alerts"].([]any) {
			alerts[a.(string)] = true
		}
	}
	for _, a := range []string{"on-update-failure", "on-update-fatal-failure", "on-flow-failure"} {
		if !alerts[a] {
			t.Errorf("the pipeline does not notify %s", a)
		}
	}
	if _, ok := vars["file_events"]; ok {
		t.Error("the bundle still offers file_events, which the stack's role cannot serve")
	}
	if strings.Contains(pythonSource(t, pipelinePy), "useManagedFileEvents") {
		t.Error("pipeline.py still uses managed file events")
	}
}

func pythonSource(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pythonFunction is the text of a Python function definition (at any
// indentation) up to the next line indented as little or less.
func pythonFunction(t *testing.T, src, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^([ \t]*)def ` + regexp.QuoteMeta(name) + `\(`).FindStringSubmatchIndex(src)
	if m == nil {
		t.Fatalf("no function %s", name)
	}
	indent := src[m[2]:m[3]]
	lines := strings.Split(src[m[0]:], "\n")
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, indent+" ") && !strings.HasPrefix(l, indent+"\t") && !strings.HasPrefix(strings.TrimLeft(l, " \t"), ")") {
			break
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestTypedColumnsAreChecked: the typed-columns example, for both image
// formats, gives every typed number a check column that tells rounded and
// unrepresentable values from exact ones, and the READMEs say why.
func TestTypedColumnsAreChecked(t *testing.T) {
	src := pythonSource(t, filepath.Join(root, "sql", "typed_columns.sql"))
	code := regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(src, "")
	views := regexp.MustCompile(`(?s)CREATE OR REPLACE VIEW .*?;`).FindAllString(code, -1)
	if len(views) != 2 {
		t.Fatalf("%d views, want one per image format", len(views))
	}
	for i, format := range []string{"plain", "dynamodb"} {
		if !strings.Contains(src, "image_format = "+format) {
			t.Errorf("no statement for image_format = %s", format)
		}
		v := views[i]
		typed := map[string]string{}
		for _, m := range regexp.MustCompile(`(\w+) (DECIMAL\(\d+,\d+\)|BIGINT)[,']`).FindAllStringSubmatch(v, -1) {
			if m[2] != "DECIMAL(38,30)" {
				typed[m[1]] = m[2]
			}
		}
		for _, m := range regexp.MustCompile(`TRY_CAST\(t\.(\w+)\.N AS (DECIMAL\(\d+,\d+\)|BIGINT)\) AS (\w+)`).FindAllStringSubmatch(v, -1) {
			typed[m[3]] = m[2]
		}
		if len(typed) < 2 {
			t.Errorf("%s: typed columns %v, want a DECIMAL and a BIGINT", format, typed)
		}
		for col, typ := range typed {
			end := strings.Index(v, "END AS "+col+"_check")
			begin := strings.LastIndex(v[:max(end, 0)], "CASE\n")
			if end < 0 || begin < 0 {
				t.Errorf("%s: %s %s has no %s_check", format, col, typ, col)
				continue
			}
			body := v[begin:end]
			for _, want := range []string{"'absent'", "'does not fit'", "'exact'"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: %s_check never says %s", format, col, want)
				}
			}
			if strings.HasPrefix(typ, "DECIMAL") && !strings.Contains(body, "'rounded'") {
				t.Errorf("%s: %s_check does not find rounded values", format, col)
			}
		}
	}
	for _, readme := range []string{filepath.Join(root, "README.md"), filepath.Join(root, "..", "README.md")} {
		text := pythonSource(t, readme)
		// The repository's README: its Databricks section.
		if i := strings.Index(text, "\n## Databricks\n"); i >= 0 {
			text = text[i+1:]
			if j := strings.Index(text[3:], "\n## "); j >= 0 {
				text = text[:j+3]
			}
		}
		for _, want := range []string{"typed_columns.sql", "rounds", "NULL", "_check"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not mention %s where it documents typed columns", readme, want)
			}
		}
	}
}

// TestFileArrivalNeedsFileEvents: without file events a file arrival
// trigger cannot monitor a folder of more than 10,000 files, which the
// forwarder's folder becomes within days, so the file-arrival job never
// updates the tables on such a trigger: its first task
// (src/jobs/file_arrival_check.py, given the job's own ID) reads the
// trigger's state and fails the run unless it uses file events, and the
// pipeline task depends on it. The variable that unpauses the job says
// so, and the scheduled job does not run the check.
func TestFileArrivalNeedsFileEvents(t *testing.T) {
	res := resolvedResources(t, nil)
	arrival, ok := res["jobs"]["ddbstream_on_arrival"]
	if !ok {
		t.Fatal("no ddbstream_on_arrival job")
	}
	envs := map[string]bool{}
	for _, e := range listOf(arrival["environments"]) {
		envs[fmt.Sprint(e.(map[string]any)["environment_key"])] = true
	}
	tasks := listOf(arrival["tasks"])
	if len(tasks) != 2 {
		t.Fatalf("ddbstream_on_arrival has %d tasks, want the check and the pipeline", len(tasks))
	}
	check, refresh := tasks[0].(map[string]any), tasks[1].(map[string]any)
	py, _ := check["spark_python_task"].(map[string]any)
	if got := fmt.Sprint(py["python_file"]); !strings.HasSuffix(got, "/src/jobs/file_arrival_check.py") {
		t.Errorf("first task runs %q, want src/jobs/file_arrival_check.py", got)
	}
	if params := listOf(py["parameters"]); len(params) != 1 || params[0] != "{{job.id}}" {
		t.Errorf("the check is given %v, want the job's own ID, {{job.id}}", py["parameters"])
	}
	if key := fmt.Sprint(check["environment_key"]); !envs[key] {
		t.Errorf("the check runs in environment %q, which the job does not define (%v): it would have no serverless compute", key, envs)
	}
	if _, ok := refresh["pipeline_task"]; !ok {
		t.Errorf("second task %v does not update the pipeline", refresh["task_key"])
	}
	deps := listOf(refresh["depends_on"])
	if len(deps) != 1 || deps[0].(map[string]any)["task_key"] != check["task_key"] {
		t.Errorf("the pipeline task depends on %v, want only the check %v: it would run on a trigger without file events", refresh["depends_on"], check["task_key"])
	}
	if rif, ok := refresh["run_if"]; ok && rif != "ALL_SUCCESS" {
		t.Errorf("the pipeline task runs if %v, want only after the check succeeds", rif)
	}
	for _, task := range listOf(res["jobs"]["ddbstream_refresh"]["tasks"]) {
		if _, ok := task.(map[string]any)["spark_python_task"]; ok {
			t.Error("the scheduled job runs the file-events check, which would fail it")
		}
	}

	main, _ := loadBundle(t)
	desc := fmt.Sprint(variables(t, main)["file_arrival_pause_status"]["description"])
	for _, want := range []string{"file events", "10,000", "fails", "s3://"} {
		if !strings.Contains(desc, want) {
			t.Errorf("file_arrival_pause_status's description does not say %q: %s", want, desc)
		}
	}
	for _, readme := range []string{filepath.Join(root, "README.md"), filepath.Join(root, "..", "README.md")} {
		text := databricksSection(t, readme)
		for _, want := range []string{"10,000", "file events", "using_file_events"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not say %q where it offers the file-arrival job", readme, want)
			}
		}
	}
}

// TestLocalStateIsExplained: the CLI uses a local copy of a deployment's
// state whenever the workspace has none yet, and commands that do not
// pull use it whenever it exists (databricks/cli
// bundle/statemgmt/state_pull.go), so the bundle says so where a user
// reads it, names DATABRICKS_BUNDLE_TMP as what keeps each deployment's
// copy apart, and has no default deployment: a command without the
// stack's values stops at once.
func TestLocalStateIsExplained(t *testing.T) {
	raw := pythonSource(t, filepath.Join(root, "databricks.yml"))
	header := raw[:strings.Index(raw, "\nbundle:")]
	readme := databricksSection(t, filepath.Join(root, "README.md"))
	for name, text := range map[string]string{"databricks.yml's header": header, "databricks/README.md": readme} {
		flat := strings.Join(strings.Fields(strings.ReplaceAll(text, "#", " ")), " ")
		for _, want := range []string{
			"DATABRICKS_BUNDLE_TMP",
			"state_pull.go",
			"has no state yet",
			"whenever it exists",
			"no value assigned to required variable deployment",
		} {
			if !strings.Contains(flat, want) {
				t.Errorf("%s does not say %q", name, want)
			}
		}
	}
	main, _ := loadBundle(t)
	if d, ok := variables(t, main)["deployment"]["default"]; ok {
		t.Errorf("the deployment variable defaults to %v: a command without the stack's environment would deploy with whatever local state is there", d)
	}
}

// listOf is v as a list, or nil.
func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// databricksSection is the text of a README: the whole of
// databricks/README.md, the "Databricks" section of the repository's.
func databricksSection(t *testing.T, path string) string {
	t.Helper()
	text := pythonSource(t, path)
	if i := strings.Index(text, "\n## Databricks\n"); i >= 0 {
		text = text[i+1:]
		if j := strings.Index(text[3:], "\n## "); j >= 0 {
			text = text[:j+3]
		}
	}
	return text
}
