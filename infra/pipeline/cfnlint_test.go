package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// cfnLintFinding is a cfn-lint finding this project accepts: its rule,
// why, and the exact messages it covers.
type cfnLintFinding struct {
	rule, reason string
	message      *regexp.Regexp
}

// cfnLintAccepted lists the findings this project accepts, each with its
// reason. It is empty: anything cfn-lint reports, error, warning or
// informational, fails the test. (The one finding there was, W3005 on the
// DependsOn CDK adds from a function to its role, is removed at the
// source: see newFunction.)
var cfnLintAccepted []cfnLintFinding

// accepted reports whether a parseable cfn-lint line is a listed finding.
func accepted(line string, list []cfnLintFinding) bool {
	// file:line:col:endline:endcol:rule:message
	parts := strings.SplitN(line, ":", 7)
	if len(parts) != 7 {
		return false
	}
	for _, a := range list {
		if parts[5] == a.rule && a.message.MatchString(parts[6]) {
			return true
		}
	}
	return false
}

func TestCfnLintAcceptsOnlyListedFindings(t *testing.T) {
	list := []cfnLintFinding{{rule: "W3005", reason: "example",
		message: regexp.MustCompile(`^'Pipeline(Streamer|Forwarder)Role[0-9A-F]{8}' dependency already enforced by a 'GetAtt' at 'Resources/Pipeline(Streamer|Forwarder)[0-9A-F]{8}/Properties/Role'$`)}}
	tests := []struct {
		line string
		want bool
	}{
		{"default.template.json:336:5:336:36:W3005:'PipelineForwarderRoleF4BCA720' dependency already enforced by a 'GetAtt' at 'Resources/PipelineForwarderA7272A3B/Properties/Role'", true},
		{"default.template.json:336:5:336:36:W3005:'PipelineOutput0A1B2C3D' dependency already enforced by a 'GetAtt' at 'Resources/PipelineForwarderA7272A3B/Properties/Role'", false},
		{"default.template.json:10:5:10:36:E3012:Property Resources/X/Properties/Y should be of type String", false},
		{"not parseable", false},
	}
	for _, tc := range tests {
		if got := accepted(tc.line, list); got != tc.want {
			t.Errorf("accepted(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestCfnLint(t *testing.T) {
	defer failOnPanic(t)
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal("cfn-lint is not installed (pip install cfn-lint==1.51.0, or the machine image's); make test requires it")
		}
		t.Skip("cfn-lint is not installed")
	}
	dir := t.TempDir()
	var files []string
	for name, p := range variants(t) {
		s := synth(t, p, false, "")
		raw, err := json.MarshalIndent(s.json, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".template.json")
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	sort.Strings(files)
	args := []string{"--format", "parseable", "--non-zero-exit-code", "informational"}
	cmd := exec.Command(bin, append(append(args, "--"), files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cfn-lint: %v: %s", err, stderr.String())
	}
	findings, ok := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), dir+string(filepath.Separator))
		switch {
		case line == "":
		case accepted(line, cfnLintAccepted):
			ok++
		default:
			findings++
			t.Errorf("cfn-lint: %s", line)
		}
	}
	if findings+ok == 0 && err != nil {
		t.Errorf("cfn-lint failed without findings: %v: %s", err, stderr.String())
	}
	t.Logf("cfn-lint %d templates: %d findings, %d accepted", len(files), findings, ok)
}
