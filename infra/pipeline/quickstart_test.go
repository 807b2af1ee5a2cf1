package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestQuickStartFitsTheStack: the README's quick start deploys with the
// context it shows and reads outputs by name; the stack that context
// makes has each of them, and prints a deploy command, not what is
// missing.
func TestQuickStartFitsTheStack(t *testing.T) {
	defer failOnPanic(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "## Quick start\n")
	if start < 0 {
		t.Fatal("README has no quick start")
	}
	section := text[start:]
	section = section[:strings.Index(section[1:], "\n## ")+1]
	// The context the quick start deploys with is the test stack's.
	for _, want := range []string{"databricksSecretName=" + testProps(t).DatabricksSecretName, "databricksVolumePath=" + testProps(t).DatabricksVolumePath} {
		if !strings.Contains(section, want) {
			t.Errorf("the quick start does not deploy with %s", want)
		}
	}
	outs, _ := defaultSynth(t).json["Outputs"].(map[string]any)
	names := regexp.MustCompile(`\b(Databricks[A-Za-z0-9]+|TableName)\b`).FindAllString(section, -1)
	if len(names) < 2 {
		t.Fatalf("the quick start names the outputs %v; it should name the bundle's", names)
	}
	for _, name := range names {
		if _, ok := outs[name]; !ok {
			t.Errorf("the quick start reads output %s, which the stack does not have", name)
		}
	}
	deploy, _ := json.Marshal(outs["DatabricksBundleDeploy"])
	if !strings.Contains(string(deploy), "databricks bundle deploy") {
		t.Errorf("DatabricksBundleDeploy is %s, not the deploy command", deploy)
	}
}
