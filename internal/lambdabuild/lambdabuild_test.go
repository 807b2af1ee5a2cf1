package lambdabuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShell(t *testing.T) {
	const want = "-tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w -buildid='"
	if got := Shell(); got != want {
		t.Errorf("Shell() = %q, want %q", got, want)
	}
}

// TestBuildsAgree: the Makefile and the reproducibility script, which
// cannot import this package, build with exactly its flags and
// environment.
func TestBuildsAgree(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		file, expect string
	}{
		{"Makefile", "LAMBDA_GOFLAGS := " + Shell() + "\n"},
		{"Makefile", "LAMBDA_GOENV   := " + strings.Join(Env, " ") + "\n"},
		{"scripts/check-reproducible.sh", "flags=(" + Shell() + ")\n"},
		{"scripts/check-reproducible.sh", "export " + strings.Join(Env, " ") + "\n"},
	}
	for _, tc := range tests {
		if got := read(tc.file); !strings.Contains(got, tc.expect) {
			t.Errorf("%s does not contain %q", tc.file, tc.expect)
		}
	}
}
