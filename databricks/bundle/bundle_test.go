package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"gopkg.in/yaml.v3"
)

// root is the bundle's folder, databricks/.
const root = ".."

// requiredVariables have no default: they come from the AWS stack. The
// deployment among them, so that a command run without the stack's
// printed environment (its own DATABRICKS_BUNDLE_TMP) stops at once
// instead of deploying with another stack's local state.
var requiredVariables = []string{"deployment", "source", "tables"}

// stackValues stand for what a user passes with --var: the shapes the
// stack's outputs give.
var stackValues = map[string]string{
	"deployment": "ddbstreampipeline",
	"source":     "s3://ddbstreampipeline-bucket/cdc",
	"tables":     "Orders:pk:sk",
}

// topLevel are the mappings a databricks.yml may have
// (https://docs.databricks.com/dev-tools/bundles/settings).
var topLevel = []string{"artifacts", "bundle", "experimental", "include", "permissions", "presets", "python", "resources", "run_as", "scripts", "sync", "targets", "variables", "workspace"}

// bundleOnly are the keys a bundle resource accepts beyond its API create
// request; they are removed before the request is decoded.
var bundleOnly = []string{"permissions", "lifecycle", "grants"}

// resourceTypes are the resource kinds this bundle may define, with the
// API request each one's fields follow.
var resourceTypes = map[string]reflect.Type{
	"pipelines": reflect.TypeFor[pipelines.CreatePipeline](),
	"jobs":      reflect.TypeFor[jobs.CreateJob](),
	"volumes":   reflect.TypeFor[catalog.CreateVolumeRequestContent](),
}

// config is a bundle configuration file, decoded.
type config struct {
	path string
	doc  map[string]any
}

func readYAML(t *testing.T, path string) config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return config{path, doc}
}

// loadBundle reads databricks.yml and every file it includes.
// resourceKeys lists the bundle's resources by kind, for ${resources...}
// references.
func resourceKeys(all []config) map[string][]string {
	names := map[string][]string{}
	for _, c := range all {
		rs, _ := c.doc["resources"].(map[string]any)
		for kind, byName := range rs {
			for name := range byName.(map[string]any) {
				names[kind] = append(names[kind], name)
			}
		}
	}
	return names
}

func loadBundle(t *testing.T) (main config, all []config) {
	t.Helper()
	main = readYAML(t, filepath.Join(root, "databricks.yml"))
	all = []config{main}
	inc, _ := main.doc["include"].([]any)
	if len(inc) == 0 {
		t.Fatal("databricks.yml includes no resource files")
	}
	for _, p := range inc {
		matches, err := filepath.Glob(filepath.Join(root, p.(string)))
		if err != nil || len(matches) == 0 {
			t.Fatalf("include %q matches no file (%v)", p, err)
		}
		for _, m := range matches {
			all = append(all, readYAML(t, m))
		}
	}
	return main, all
}

func variables(t *testing.T, main config) map[string]map[string]any {
	t.Helper()
	vars := map[string]map[string]any{}
	for name, v := range main.doc["variables"].(map[string]any) {
		vars[name] = v.(map[string]any)
	}
	return vars
}

// resolve replaces every ${...} reference in the strings of v: variables
// by their default or a stack value, bundle and workspace references by
// examples, resource references by a placeholder ID. It reports
// references to anything undeclared.
func resolve(v any, vars map[string]map[string]any, resources map[string][]string, used map[string]bool, problems *[]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolve(e, vars, resources, used, problems)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolve(e, vars, resources, used, problems)
		}
		return out
	case string:
		return reference.ReplaceAllStringFunc(x, func(ref string) string {
			path := ref[2 : len(ref)-1]
			parts := strings.Split(path, ".")
			switch {
			case parts[0] == "var" && len(parts) == 2:
				d, ok := vars[parts[1]]
				if !ok {
					*problems = append(*problems, fmt.Sprintf("%s: no such variable", ref))
					return ref
				}
				used[parts[1]] = true
				if s, ok := stackValues[parts[1]]; ok {
					return s
				}
				// A default may itself refer to substitutions.
				return resolve(fmt.Sprint(d["default"]), vars, resources, used, problems).(string)
			case path == "bundle.name":
				return "ddbstream"
			case path == "bundle.target":
				return "prod"
			case path == "workspace.current_user.userName":
				return "someone@example.com"
			case path == "workspace.current_user.short_name":
				return "someone"
			case parts[0] == "resources" && len(parts) == 4 && parts[3] == "id":
				if slices.Contains(resources[parts[1]], parts[2]) {
					return "0123-456789-resource"
				}
			}
			*problems = append(*problems, fmt.Sprintf("%s: not a reference this bundle can resolve", ref))
			return ref
		})
	}
	return v
}

var reference = regexp.MustCompile(`\$\{[^}]*\}`)

func TestBundleParsesAndReferencesResolve(t *testing.T) {
	main, all := loadBundle(t)
	for k := range main.doc {
		if !slices.Contains(topLevel, k) {
			t.Errorf("databricks.yml: unknown top-level mapping %q", k)
		}
	}
	if name := main.doc["bundle"].(map[string]any)["name"]; name != "ddbstream" {
		t.Errorf("bundle name %v", name)
	}

	// The Databricks CLI's --var is a comma-separated list flag: a value
	// with a comma or a quote cannot be passed with it.
	for name, v := range stackValues {
		if strings.ContainsAny(v, `,"`) {
			t.Errorf("the stack's value for %s, %q, cannot be passed with --var", name, v)
		}
	}

	vars := variables(t, main)
	for name, v := range vars {
		if d, _ := v["description"].(string); len(d) < 20 {
			t.Errorf("variable %s: no description", name)
		}
		for k := range v {
			if k != "description" && k != "default" {
				t.Errorf("variable %s: unexpected %q", name, k)
			}
		}
		def, hasDefault := v["default"]
		if _, isString := def.(string); hasDefault && !isString {
			t.Errorf("variable %s: default %v is not a string: bundle variables are strings, and YAML would retype it", name, def)
		}
		if hasDefault == slices.Contains(requiredVariables, name) {
			t.Errorf("variable %s: a default is given exactly when the stack does not give the value (required: %v)", name, requiredVariables)
		}
	}

	targets := main.doc["targets"].(map[string]any)
	defaults := 0
	for name, tv := range targets {
		target := tv.(map[string]any)
		for k := range target {
			if !slices.Contains([]string{"mode", "default", "workspace", "variables", "resources", "presets", "permissions", "run_as"}, k) {
				t.Errorf("target %s: unexpected %q", name, k)
			}
		}
		tvars, _ := target["variables"].(map[string]any)
		for v := range tvars {
			if _, ok := vars[v]; !ok {
				t.Errorf("target %s sets undeclared variable %s", name, v)
			}
		}
		if m := target["mode"]; m != "development" && m != "production" {
			t.Errorf("target %s: mode %v", name, m)
		}
		if target["default"] == true {
			defaults++
		}
	}
	if defaults != 1 {
		t.Errorf("%d default targets, want 1", defaults)
	}

	resources := map[string][]string{}
	for _, c := range all {
		rs, _ := c.doc["resources"].(map[string]any)
		for kind, byName := range rs {
			if _, ok := resourceTypes[kind]; !ok {
				t.Errorf("%s: resource kind %q has no request type to check it against", c.path, kind)
				continue
			}
			for name := range byName.(map[string]any) {
				resources[kind] = append(resources[kind], name)
			}
		}
	}
	var problems []string
	used := map[string]bool{}
	for _, c := range all {
		resolve(c.doc, vars, resources, used, &problems)
	}
	for name := range vars {
		if !used[name] {
			problems = append(problems, fmt.Sprintf("variable %s is never used", name))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

func TestBundleFilesExist(t *testing.T) {
	main, all := loadBundle(t)
	pathKeys := []string{"path", "root_path", "notebook_path", "python_file", "include"}
	checked := 0
	for _, c := range all {
		walk(c.doc["resources"], "", func(key string, v any) {
			s, ok := v.(string)
			if !ok || !slices.Contains(pathKeys, key) || strings.Contains(s, "${") || strings.HasPrefix(s, "/") {
				return
			}
			p := filepath.Join(filepath.Dir(c.path), strings.TrimSuffix(s, "/**"))
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: %s %q: %v", c.path, key, s, err)
			}
			checked++
		})
	}
	if checked < 2 {
		t.Errorf("only %d file references checked", checked)
	}
	// Excluded folders must exist, or the exclusion is stale.
	for _, e := range main.doc["sync"].(map[string]any)["exclude"].([]any) {
		dir := strings.TrimSuffix(e.(string), "/**")
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("sync exclude %q: no such folder", e)
		}
	}
}

// walk calls fn for every key and value under v.
func walk(v any, key string, fn func(key string, v any)) {
	fn(key, v)
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(e, k, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, key, fn)
		}
	}
}

// TestResourcesDecodeStrictly decodes every pipeline and job, variables
// resolved, into the Databricks Go SDK's create request: an unknown or
// misspelt field, a value of the wrong type, an enum value the API does
// not have or a missing required field fails. The SDK's own UnmarshalJSON
// ignores unknown fields, so the strictness is checked against the
// request type by reflection first.
func TestResourcesDecodeStrictly(t *testing.T) {
	main, all := loadBundle(t)
	vars := variables(t, main)
	names := resourceKeys(all)
	decoded := 0
	for _, c := range all {
		rs, _ := c.doc["resources"].(map[string]any)
		for kind, byName := range rs {
			typ := resourceTypes[kind]
			for name, def := range byName.(map[string]any) {
				var problems []string
				res := resolve(def, vars, names, map[string]bool{}, &problems).(map[string]any)
				for _, k := range bundleOnly {
					delete(res, k)
				}
				problems = append(problems, strictCheck(res, typ, kind+"."+name)...)
				for _, p := range problems {
					t.Errorf("%s: %s", c.path, p)
				}
				b, err := json.Marshal(res)
				if err != nil {
					t.Fatal(err)
				}
				req := reflect.New(typ).Interface()
				if err := json.Unmarshal(b, req); err != nil {
					t.Errorf("%s: %s.%s does not decode into %s: %v", c.path, kind, name, typ, err)
				}
				decoded++
			}
		}
	}
	if len(names["pipelines"]) != 1 || len(names["jobs"]) != 2 || len(names["volumes"]) != 1 || decoded != 4 {
		t.Errorf("resources %v, decoded %d: want one pipeline, two jobs and a volume", names, decoded)
	}
}

func TestStrictCheckRefuses(t *testing.T) {
	typ := reflect.TypeFor[jobs.CreateJob]()
	cases := map[string]map[string]any{
		"unknown field":      {"name": "x", "scheduel": map[string]any{}},
		"nested unknown":     {"tasks": []any{map[string]any{"task_key": "a", "pipeline_task": map[string]any{"pipeline_id": "p", "fullrefresh": true}}}},
		"missing required":   {"tasks": []any{map[string]any{"pipeline_task": map[string]any{"pipeline_id": "p"}}}},
		"wrong type":         {"max_concurrent_runs": "one"},
		"bad enum":           {"schedule": map[string]any{"quartz_cron_expression": "x", "timezone_id": "UTC", "pause_status": "STOPPED"}},
		"object for string":  {"name": map[string]any{}},
		"fraction for int":   {"max_concurrent_runs": 1.5},
		"list for an object": {"queue": []any{}},
	}
	for name, v := range cases {
		if p := strictCheck(v, typ, "job"); len(p) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if p := strictCheck(map[string]any{"name": "x", "max_concurrent_runs": 1, "queue": map[string]any{"enabled": true}}, typ, "job"); len(p) != 0 {
		t.Errorf("a valid job refused: %v", p)
	}
}

// strictCheck reports every key of v that typ has no field for, every
// value of the wrong kind, every enum value outside the type's Values,
// and every required field (tagged without omitempty) that is missing.
func strictCheck(v any, typ reflect.Type, path string) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var problems []string
	bad := func(format string, args ...any) []string {
		return append(problems, path+": "+fmt.Sprintf(format, args...))
	}
	switch typ.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want an object, have %T", v)
		}
		fields := jsonFields(typ)
		for k, e := range obj {
			f, ok := fields[k]
			if !ok {
				problems = bad("unknown field %q (not in %s)", k, typ)
				continue
			}
			problems = append(problems, strictCheck(e, f.typ, path+"."+k)...)
		}
		for name, f := range fields {
			if _, ok := obj[name]; f.required && !ok {
				problems = bad("required field %q missing", name)
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("want an object, have %T", v)
		}
		for k, e := range obj {
			problems = append(problems, strictCheck(e, typ.Elem(), path+"."+k)...)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return bad("want a list, have %T", v)
		}
		for i, e := range list {
			problems = append(problems, strictCheck(e, typ.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return bad("want a string, have %T", v)
		}
		if setter, ok := reflect.New(typ).Interface().(interface{ Set(string) error }); ok {
			if err := setter.Set(s); err != nil {
				return bad("%v", err)
			}
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return bad("want true or false, have %T", v)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		switch n := v.(type) {
		case int:
		case float64:
			if n != float64(int64(n)) {
				return bad("want a whole number, have %v", n)
			}
		default:
			return bad("want a number, have %T", v)
		}
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case int, float64:
		default:
			return bad("want a number, have %T", v)
		}
	case reflect.Interface:
	default:
		return bad("no check for kind %s", typ.Kind())
	}
	return problems
}

type jsonField struct {
	typ      reflect.Type
	required bool
}

// jsonFields lists a struct's JSON fields by name, with those of embedded
// structs, as encoding/json (and the SDK's marshal package) see them.
func jsonFields(typ reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = jsonField{f.Type, !slices.Contains(strings.Split(opts, ","), "omitempty")}
	}
	return out
}
