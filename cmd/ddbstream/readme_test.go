package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// quickStart returns the README's quick start: the section a newcomer
// reads first.
func quickStart(t *testing.T) (section string, lines int) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n## ")
	if start < 0 || !strings.HasPrefix(text[start+1:], "## Quick start\n") {
		t.Fatalf("the README's first section is not the quick start")
	}
	rest := text[start+1:]
	end := strings.Index(rest[1:], "\n## ")
	if end < 0 {
		t.Fatal("the quick start is the whole README")
	}
	section = rest[:end+2]
	return section, strings.Count(section, "\n")
}

// TestQuickStart: the README opens with a quick start of at most 40
// lines whose commands exist: each make target in the Makefile, each
// ddbstream command with the flags it is given.
func TestQuickStart(t *testing.T) {
	section, lines := quickStart(t)
	if lines > 40 {
		t.Errorf("the quick start has %d lines, want at most 40", lines)
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := 0
	for _, m := range regexp.MustCompile(`(?m)^make ([a-z-]+)`).FindAllStringSubmatch(section, -1) {
		targets++
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(makefile) {
			t.Errorf("make %s: no such target in the Makefile", m[1])
		}
	}
	commands := 0
	for _, m := range regexp.MustCompile(`(?m)^bin/ddbstream ([a-z]+)((?: --[a-z-]+(?: [^ -]\S*)?)*)`).FindAllStringSubmatch(section, -1) {
		commands++
		r := runWith(t, context.Background(), newFake(), nil, m[1], "--help")
		if r.code != exitOK {
			t.Errorf("ddbstream %s: not a command (exit %d)", m[1], r.code)
			continue
		}
		for _, flag := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(m[2], -1) {
			if !strings.Contains(r.stdout, "-"+flag[1]+" ") {
				t.Errorf("ddbstream %s has no flag --%s", m[1], flag[1])
			}
		}
	}
	if targets < 4 || commands < 2 {
		t.Errorf("the quick start names %d make targets and %d ddbstream commands: it should run it locally, deploy it and load the table", targets, commands)
	}
	for _, step := range []string{"make local", "make deploy", "DatabricksBundleDeploy", "SELECT"} {
		if !strings.Contains(section, step) {
			t.Errorf("the quick start lacks %q", step)
		}
	}
}
