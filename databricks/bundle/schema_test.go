package bundle

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/record"
)

var update = flag.Bool("update", false, "rewrite the generated block of src/ddbstream/ddbstream_settings.py")

var (
	settingsPy     = filepath.Join(root, "src", "ddbstream", "ddbstream_settings.py")
	pipelinePy     = filepath.Join(root, "src", "ddbstream", "pipeline.py")
	currentStateSQ = filepath.Join(root, "sql", "current_state.sql")
)

const (
	beginGenerated = "# BEGIN GENERATED"
	endGenerated   = "# END GENERATED\n"
)

func TestLineColumnsAreTheRecordFormat(t *testing.T) {
	cols, err := LineColumns()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, record.Fields()) {
		t.Errorf("line columns %v, record fields %v", names, record.Fields())
	}
	lineTypes["surprise"] = String
	defer delete(lineTypes, "surprise")
	if _, err := LineColumns(); err == nil {
		t.Error("a type for a field the format does not have was accepted")
	}
}

// pyName is the Python constant for a column: eventID -> EVENT_ID,
// approximateCreationDateTime -> APPROXIMATE_CREATION_DATE_TIME.
func pyName(col string) string {
	var b strings.Builder
	rs := []rune(strings.Trim(col, "_"))
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// generated is the block ddbstream_settings.py carries, from this package's
// definitions and so from record.Fields().
func generated(t *testing.T) string {
	t.Helper()
	cols, err := BronzeColumns()
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := LineColumns()
	var b strings.Builder
	b.WriteString(beginGenerated + " by `go test ./databricks/bundle -update` from internal/record.Fields(); do not edit.\n")
	b.WriteString("# The fields of a line, in the order a line carries them, and how each is read.\n")
	b.WriteString("LINE_FIELDS = (\n")
	for _, c := range lines {
		fmt.Fprintf(&b, "    (%q, %q),\n", c.Name, c.Type)
	}
	b.WriteString(")\n")
	names := map[string]bool{}
	for _, c := range cols {
		fmt.Fprintf(&b, "%s = %q\n", pyName(c.Name), c.Name)
		names[c.Name] = true
	}
	for _, c := range CurrentStateColumns() {
		if !names[c] {
			fmt.Fprintf(&b, "%s = %q\n", pyName(c), c)
		}
	}
	var state []string
	for _, c := range CurrentStateColumns() {
		state = append(state, pyName(c))
	}
	fmt.Fprintf(&b, "CURRENT_STATE_COLUMNS = (%s)\n", strings.Join(state, ", "))
	fmt.Fprintf(&b, "KEYS_TYPE = %q\n", Keys)
	fmt.Fprintf(&b, "ORDER_KEY_LENGTH = %d\n", orderkey.Len)
	fmt.Fprintf(&b, "EVENT_SNAPSHOT = %q\n", record.EventSnapshot)
	b.WriteString(endGenerated)
	return b.String()
}

// TestPythonSchemaIsGenerated holds ddbstream_settings.py's copy of the columns to
// this package's, so that the pipeline reads exactly the record format.
func TestPythonSchemaIsGenerated(t *testing.T) {
	src, err := os.ReadFile(settingsPy)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(src, []byte(beginGenerated))
	j := bytes.Index(src, []byte(endGenerated))
	if i < 0 || j < i {
		t.Fatalf("%s has no generated block", settingsPy)
	}
	want := generated(t)
	have := string(src[i : j+len(endGenerated)])
	if have == want {
		return
	}
	if *update {
		out := append(append(append([]byte{}, src[:i]...), want...), src[j+len(endGenerated):]...)
		if err := os.WriteFile(settingsPy, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's generated block is stale: run go test ./databricks/bundle -update\nhave:\n%s\nwant:\n%s", settingsPy, have, want)
}

// TestPythonNamesNoColumnItself: outside the generated block, the Python
// sources name no column by a string of their own, only by the generated
// constants, so that a renamed field cannot be half renamed.
func TestPythonNamesNoColumnItself(t *testing.T) {
	cols, err := BronzeColumns()
	if err != nil {
		t.Fatal(err)
	}
	names := CurrentStateColumns()
	for _, c := range cols {
		names = append(names, c.Name)
	}
	for _, path := range []string{settingsPy, pipelinePy} {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if i, j := bytes.Index(src, []byte(beginGenerated)), bytes.Index(src, []byte(endGenerated)); i >= 0 && j > i {
			src = append(src[:i:i], src[j+len(endGenerated):]...)
		}
		for _, lit := range pyString.FindAll(src, -1) {
			s := string(lit[1 : len(lit)-1])
			if slices.Contains(names, s) && !slices.Contains(literalExceptions[path], string(lit)) {
				t.Errorf("%s names column %s as a literal: use the generated constant %s", path, lit, pyName(s))
			}
		}
	}
}

// literalExceptions are literals equal to a column name that are not
// column names, by file.
var literalExceptions = map[string][]string{
	// The tables setting's member naming the key attributes.
	settingsPy: {`"keys"`},
}

var pyString = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'`)

// TestConfigurationIsWhatPythonReads: the pipeline's configuration keys
// are exactly the ddbstream.* keys ddbstream_settings.py reads.
func TestConfigurationIsWhatPythonReads(t *testing.T) {
	_, all := loadBundle(t)
	var configured []string
	for _, c := range all {
		walk(c.doc["resources"], "", func(key string, v any) {
			if m, ok := v.(map[string]any); ok && key == "configuration" {
				for k := range m {
					configured = append(configured, k)
				}
			}
		})
	}
	src, err := os.ReadFile(settingsPy)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, m := range regexp.MustCompile(`"(ddbstream\.[a-z_]+)"`).FindAllSubmatch(src, -1) {
		read = append(read, string(m[1]))
	}
	sort.Strings(configured)
	sort.Strings(read)
	if len(configured) == 0 || !slices.Equal(configured, read) {
		t.Errorf("pipeline configuration %v, ddbstream_settings.py reads %v", configured, read)
	}
}

// sqlWords are the SQL keywords, functions, aliases and parameters of
// current_state.sql: every other word in it must be a column.
var sqlWords = []string{
	"SELECT", "FROM", "AS", "CASE", "WHEN", "THEN", "ELSE", "END", "ROW_NUMBER", "OVER",
	"PARTITION", "BY", "ORDER", "DESC", "IDENTIFIER", "WHERE", "AND", "OR", "NOT", "IS", "NULL",
	"FIRST_VALUE", "SUM", "COALESCE", "ROWS", "BETWEEN", "UNBOUNDED", "PRECEDING", "TRY_CAST", "TIMESTAMP", "length",
	"ranked", "lines", "lineRank", "image", "lastImage", "era", "bronze_table", "ttl_deletes",
}

// TestSQLUsesTheColumns: the current-state query reads only bronze columns
// and yields only current-state columns. (The DuckDB test runs it.)
func TestSQLUsesTheColumns(t *testing.T) {
	src, err := os.ReadFile(currentStateSQ)
	if err != nil {
		t.Fatal(err)
	}
	code := sqlCode(string(src))
	cols, err := BronzeColumns()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range cols {
		known[c.Name] = true
	}
	for _, c := range CurrentStateColumns() {
		known[c] = true
	}
	for _, w := range sqlWords {
		known[w] = true
	}
	for _, w := range regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`).FindAllString(code, -1) {
		if !known[w] {
			t.Errorf("current_state.sql: %q is neither a column nor a known SQL word", w)
		}
	}
	for _, c := range CurrentStateColumns() {
		if !regexp.MustCompile(`\b` + c + `\b`).MatchString(code) {
			t.Errorf("current_state.sql does not yield %s", c)
		}
	}
}

// sqlCode is SQL without its comments and string literals.
func sqlCode(sql string) string {
	sql = regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(sql, "")
	return regexp.MustCompile(`'(?:[^']|'')*'`).ReplaceAllString(sql, "''")
}

// TestPython parses the Python sources and runs the settings' unit tests
// (databricks/tests) when python3 is on the PATH. PySpark is not needed:
// pipeline.py is only parsed.
func TestPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on the PATH")
	}
	srcs, _ := filepath.Glob(filepath.Join(root, "src", "*", "*.py"))
	tests, _ := filepath.Glob(filepath.Join(root, "tests", "*.py"))
	for _, f := range append(srcs, tests...) {
		out, err := exec.Command(py, "-B", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
	cmd := exec.Command(py, "-B", "-m", "unittest", "discover", "-s", filepath.Join(root, "tests"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python settings tests: %v\n%s", err, out)
	}
}
