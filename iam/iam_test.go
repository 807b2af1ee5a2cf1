package iam

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the exported policies")

const sdkService = "github.com/aws/aws-sdk-go-v2/service/"

// codeCalls finds the AWS operations the code linked into a function can
// call: every SDK operation named by an interface method's parameter type
// or built as an input literal, in the module's own packages.
func codeCalls(t *testing.T, function string) []string {
	t.Helper()
	return packageCalls(t, "./functions/"+function)
}

// packageCalls finds the AWS operations the code of pkg and of the
// module's packages it imports can call.
func packageCalls(t *testing.T, pkg string) []string {
	t.Helper()
	ops := map[string]bool{}
	for _, f := range moduleFiles(t, pkg) {
		scanFile(t, f, ops)
	}
	return sortedKeys(ops)
}

// moduleFiles are the non-test Go files of pkg and of the module's
// packages it imports.
func moduleFiles(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.Module}} {{.Dir}}", pkg)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	module := strings.TrimSpace(string(must(exec.Command("go", "list", "-m").Output())))
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		mod, dir, _ := strings.Cut(sc.Text(), " ")
		if mod != module {
			continue
		}
		found, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range found {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	return files
}

// readsVersions reports whether the code of pkg and of the module's
// packages it imports sets VersionId on an S3 request (a composite
// literal's VersionId: or an assignment to .VersionId, in a file that
// imports the S3 SDK): a read of a given version, which needs
// s3:GetObjectVersion.
func readsVersions(t *testing.T, pkg string) bool {
	t.Helper()
	for _, path := range moduleFiles(t, pkg) {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if !importsS3(f) {
			continue
		}
		found := false
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "VersionId" {
					found = true
				}
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "VersionId" {
						found = true
					}
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

func importsS3(f *ast.File) bool {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == sdkService+"s3" {
			return true
		}
	}
	return false
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func scanFile(t *testing.T, path string, ops map[string]bool) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]string{} // local name -> service
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		svc, ok := strings.CutPrefix(p, sdkService)
		if !ok || strings.Contains(svc, "/") {
			continue
		}
		name := svc
		if imp.Name != nil {
			name = imp.Name.Name
		}
		services[name] = svc
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		if svc, ok := services[pkg.Name]; ok {
			if op, ok := strings.CutSuffix(sel.Sel.Name, "Input"); ok && op != "" {
				ops[svc+":"+op] = true
			}
		}
		return true
	})
}

func listedCalls(t *testing.T, function string) []string {
	t.Helper()
	return listedIn(t, filepath.Join("..", "functions", function, "aws-calls.txt"))
}

// listedIn reads a list of service:Operation lines; # starts a comment.
func listedIn(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			set[l] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var roles = map[string]func(Resources) []Statement{
	"streamer": Streamer, "forwarder": Forwarder, "exportplanner": ExportPlanner, "exportconverter": ExportConverter,
}

// TestCallListsMatchTheCode: a new SDK call in a function's code must be
// added to its aws-calls.txt, and a listed call must exist in the code.
func TestCallListsMatchTheCode(t *testing.T) {
	for fn := range roles {
		t.Run(fn, func(t *testing.T) {
			code, listed := codeCalls(t, fn), listedCalls(t, fn)
			if !reflect.DeepEqual(code, listed) {
				t.Errorf("functions/%s/aws-calls.txt lists %v; the code calls %v", fn, listed, code)
			}
		})
	}
}

// platformKeyAction says which key a platform KMS action needs: the
// bucket's for S3 encryption, the table's for reading its stream.
func platformKeyAction(fn, action string, r Resources) bool {
	if !strings.HasPrefix(action, "kms:") {
		return true
	}
	if fn == "streamer" && (action == "kms:Decrypt" || action == "kms:DescribeKey") {
		return r.TableKeyARN != ""
	}
	return r.KeyARN != ""
}

// ExpectedActions is what a role must be granted: its code's calls mapped
// to IAM actions, and the platform's calls on its behalf.
func expectedActions(t *testing.T, fn string, r Resources) []string {
	set := map[string]bool{}
	_, readsVersions := VersionReaders[fn]
	for _, call := range listedCalls(t, fn) {
		addCallActions(t, set, call, readsVersions)
	}
	for a := range PlatformActions[fn] {
		if platformKeyAction(fn, a, r) {
			set[a] = true
		}
	}
	return sortedKeys(set)
}

// addCallActions adds what a listed call needs to set: its actions and
// the listing behind its 404s, and the version actions of code that
// reads versions.
func addCallActions(t *testing.T, set map[string]bool, call string, readsVersions bool) {
	t.Helper()
	op, ok := OperationActions[call]
	if !ok {
		t.Fatalf("no IAM actions known for %s: add it to OperationActions", call)
	}
	for _, a := range op.Needs() {
		set[a] = true
	}
	if readsVersions {
		for _, a := range op.Versioned {
			set[a] = true
		}
	}
}

// TestVersionReadersMatchTheCode: a function or subcommand is granted
// s3:GetObjectVersion only if it is in VersionReaders, and it is there
// only if its code reads a version. Replay links the forwarder's code,
// which can, but hands it only the events replay.Event builds, and
// events.S3Object there is given no VersionID.
func TestVersionReadersMatchTheCode(t *testing.T) {
	notReached := map[string]string{"replay": "replay.Event builds its events without a version ID"}
	pkgs := map[string]string{}
	for fn := range roles {
		pkgs[fn] = "./functions/" + fn
	}
	for name, op := range operators {
		pkgs[name] = op.pkg
	}
	for name, pkg := range pkgs {
		_, listed := VersionReaders[name]
		reads := readsVersions(t, pkg)
		if _, ok := notReached[name]; ok {
			reads = false
		}
		if listed != reads {
			t.Errorf("%s: in VersionReaders %v, its code (%s) reads versions %v", name, listed, pkg, reads)
		}
	}
	for name := range VersionReaders {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("VersionReaders names %s, which is no function or subcommand", name)
		}
	}
}

// TestGrantsMatchCalls: every grant has a call, every call a grant.
func TestGrantsMatchCalls(t *testing.T) {
	for fn, statements := range roles {
		for _, keys := range []struct{ bucket, table string }{{"${BucketKeyArn}", ""}, {"", ""}, {"", "${TableKeyArn}"}, {"${BucketKeyArn}", "${TableKeyArn}"}} {
			r := Placeholders()
			r.KeyARN, r.TableKeyARN = keys.bucket, keys.table
			got, want := Actions(statements(r)), expectedActions(t, fn, r)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (keys %+v) is granted %v; its calls need %v", fn, keys, got, want)
			}
		}
	}
}

// CheckLeastPrivilege applies the project's rules to statements.
func CheckLeastPrivilege(t *testing.T, name string, statements []Statement) {
	t.Helper()
	for _, s := range statements {
		for _, a := range s.Actions {
			svc, op, ok := strings.Cut(a, ":")
			if a == "*" || !ok || svc == "" || strings.Contains(op, "*") {
				t.Errorf("%s/%s: action %q is a wildcard", name, s.Sid, a)
			}
		}
		if len(s.Resources) == 0 {
			t.Errorf("%s/%s has no resources", name, s.Sid)
		}
		for _, r := range s.Resources {
			if r == "*" && wildcardAllowed(s) {
				continue
			}
			if r == "*" || strings.HasSuffix(r, ":*:*") || strings.Count(r, "*") > 1 && !layoutWildcards(r) {
				t.Errorf("%s/%s: resource %q is too broad", name, s.Sid, r)
			}
		}
	}
}

// layoutWildcards reports whether an S3 object ARN's wildcards each
// complete one named field of the object key layout (table=*, dt=*,
// hour=*, snapshot-*): each follows '=' or '-', so none stands for a
// whole path segment, let alone several.
func layoutWildcards(arn string) bool {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":s3:::") {
		return false
	}
	for i := strings.IndexByte(arn, '*'); i >= 0; {
		if i == 0 || (arn[i-1] != '=' && arn[i-1] != '-') {
			return false
		}
		next := strings.IndexByte(arn[i+1:], '*')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return true
}

func TestLayoutWildcards(t *testing.T) {
	tests := []struct {
		arn  string
		want bool
	}{
		{"arn:aws:s3:::b/cdc/table=*/dt=*/hour=*/snapshot-*", true},
		{"arn:aws:s3:::b/cdc/table=t/dt=*/hour=*/snapshot-*-deletes.jsonl.gz", true},
		{"arn:aws:s3:::b/cdc/*/x/*", false},
		{"arn:aws:s3:::b/*=*", false},
		{"arn:aws:dynamodb:r:a:table/t=*/x-*", false},
	}
	for _, tc := range tests {
		if got := layoutWildcards(tc.arn); got != tc.want {
			t.Errorf("layoutWildcards(%q) = %v, want %v", tc.arn, got, tc.want)
		}
	}
}

// wildcardAllowed: a statement may name "*" only if every one of its
// actions is a listed exception.
func wildcardAllowed(s Statement) bool {
	for _, a := range s.Actions {
		if _, ok := WildcardResources[a]; !ok {
			return false
		}
	}
	return len(s.Actions) > 0
}

func TestWildcardOnlyForListedExceptions(t *testing.T) {
	tests := []struct {
		name string
		s    Statement
		want bool
	}{
		{"ListStreams alone", Statement{Actions: []string{"dynamodb:ListStreams"}}, true},
		{"ListStreams with a read", Statement{Actions: []string{"dynamodb:ListStreams", "dynamodb:GetRecords"}}, false},
		{"other action", Statement{Actions: []string{"s3:GetObject"}}, false},
		{"no action", Statement{}, false},
	}
	for _, tc := range tests {
		if got := wildcardAllowed(tc.s); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// The streamer's ListStreams is the one "*" resource in every role.
	r := Placeholders()
	r.TableKeyARN = "${TableKeyArn}"
	for name, statements := range map[string][]Statement{"streamer": Streamer(r), "forwarder": Forwarder(r)} {
		for _, s := range statements {
			for _, res := range s.Resources {
				if res == "*" && (name != "streamer" || s.Sid != "ListStreams") {
					t.Errorf("%s/%s grants on every resource", name, s.Sid)
				}
			}
		}
	}
}

func TestLeastPrivilege(t *testing.T) {
	r := Placeholders()
	r.TableKeyARN = "${TableKeyArn}"
	uc := UnityCatalogAccess{RoleARN: "${UcRoleArn}", AccountARN: "arn:${Partition}:iam::${Account}:root", PrincipalARN: DefaultUnityCatalogPrincipal, ExternalID: "${StorageCredentialExternalId}"}
	CheckLeastPrivilege(t, "streamer", Streamer(r))
	CheckLeastPrivilege(t, "forwarder", Forwarder(r))
	CheckLeastPrivilege(t, "exportplanner", ExportPlanner(r))
	CheckLeastPrivilege(t, "exportconverter", ExportConverter(r))
	CheckLeastPrivilege(t, "unity-catalog", UnityCatalog(r, uc))
	if got := r.ObjectsARN(); got != "arn:${Partition}:s3:::${BucketName}/cdc/*" {
		t.Errorf("objects ARN %s", got)
	}
	for _, a := range Actions(UnityCatalog(r, uc)) {
		if strings.HasPrefix(a, "s3:Put") || strings.HasPrefix(a, "s3:Delete") {
			t.Errorf("the Unity Catalog role may write: %s", a)
		}
	}
}

func TestExportIsReviewable(t *testing.T) {
	uc := &UnityCatalogAccess{RoleARN: "${UcRoleArn}", AccountARN: "arn:${Partition}:iam::${Account}:root", PrincipalARN: DefaultUnityCatalogPrincipal, ExternalID: "${StorageCredentialExternalId}"}
	got, err := ExportJSON(Placeholders(), uc)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/policies.json", got)
}

// checkGolden compares got with a reviewable golden file; -update
// rewrites it.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("%s changed; review and run go test ./iam -update:\n%s", golden, got)
	}
}

// TestUnityCatalogTrustValidAtCreation: IAM rejects a trust policy whose
// principal does not exist yet, so no statement may name the role itself
// as a principal; the role may still assume itself, with the external ID.
func TestUnityCatalogTrustValidAtCreation(t *testing.T) {
	uc := UnityCatalogAccess{RoleARN: "arn:aws:iam::123456789012:role/uc", AccountARN: "arn:aws:iam::123456789012:root",
		PrincipalARN: DefaultUnityCatalogPrincipal, ExternalID: "ext-1"}
	doc := UnityCatalogTrust(uc)
	selfAssume := false
	for _, st := range doc.Statement {
		raw, _ := json.Marshal(st.Principal)
		if strings.Contains(string(raw), uc.RoleARN) {
			t.Errorf("statement %s names the role being created as a principal: %s", st.Sid, raw)
		}
		if got := st.Condition["StringEquals"]["sts:ExternalId"]; got != uc.ExternalID {
			t.Errorf("statement %s: external ID condition %v, want %q", st.Sid, got, uc.ExternalID)
		}
		if st.Principal["AWS"] == uc.AccountARN && st.Condition["ArnLike"]["aws:PrincipalArn"] == uc.RoleARN {
			selfAssume = true
		}
	}
	if !selfAssume {
		t.Error("no statement lets the role assume itself")
	}
}

// operators maps each ddbstream subcommand to the package holding its
// AWS calls and its policy. The command itself adds DescribeStacks, for
// --stack.
var operators = map[string]struct {
	pkg    string
	policy func(Resources, Operator) []Statement
}{
	"backfill":  {"./internal/backfill", OperatorBackfill},
	"reconcile": {"./internal/reconcile", OperatorReconcile},
	"redrive":   {"./internal/redrive", OperatorRedrive},
	"replay":    {"./internal/replay", OperatorReplay},
	"errors":    {"./internal/replay/errorlist", OperatorErrors},
	"doctor":    {"./internal/doctor", OperatorDoctor},
}

// TestOperatorCallsMatchTheCode: cmd/ddbstream/aws-calls-<subcommand>.txt
// lists exactly what the subcommand's code calls, and the operator
// policies grant exactly what those calls need.
func TestOperatorCallsMatchTheCode(t *testing.T) {
	stacks := packageCalls(t, "./cmd/ddbstream")
	if !slicesContains(stacks, "cloudformation:DescribeStacks") {
		t.Fatalf("cmd/ddbstream calls %v; expected cloudformation:DescribeStacks for --stack", stacks)
	}
	for name, op := range operators {
		t.Run(name, func(t *testing.T) {
			code := append(packageCalls(t, op.pkg), "cloudformation:DescribeStacks")
			sort.Strings(code)
			code = slices.Compact(code) // doctor calls DescribeStacks itself
			listed := listedIn(t, filepath.Join("..", "cmd", "ddbstream", "aws-calls-"+name+".txt"))
			if !reflect.DeepEqual(code, listed) {
				t.Errorf("cmd/ddbstream/aws-calls-%s.txt lists %v; the code calls %v", name, listed, code)
			}
			for _, keys := range []struct{ bucket, table bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
				r := Placeholders()
				if !keys.bucket {
					r.KeyARN = ""
				}
				if !keys.table {
					r.TableKeyARN = ""
				}
				set := map[string]bool{}
				_, readsVersions := VersionReaders[name]
				for _, call := range listed {
					addCallActions(t, set, call, readsVersions)
				}
				for a := range OperatorPlatformActions[name] {
					if !strings.HasPrefix(a, "kms:") || keys.bucket {
						set[a] = true
					}
				}
				for a := range OperatorTableKeyActions[name] {
					if keys.table {
						set[a] = true
					}
				}
				statements := op.policy(r, Operator{StackName: "${StackName}"})
				if got, want := Actions(statements), sortedKeys(set); !reflect.DeepEqual(got, want) {
					t.Errorf("keys %+v: granted %v; the calls need %v", keys, got, want)
				}
				CheckLeastPrivilege(t, "ddbstream-"+name, statements)
			}
		})
	}
}

func slicesContains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestOperatorPoliciesAreReviewable(t *testing.T) {
	got, err := OperatorJSON(Placeholders(), Operator{StackName: "${StackName}"})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/operator-policies.json", got)
}
