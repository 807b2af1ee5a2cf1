package lambdabuild

import "strings"

// Flags are the go build flags of every function: no RPC shim
// (lambda.norpc, for provided.al2023), no file system paths, no VCS stamp,
// no symbol table and no build ID, so that the same source gives the same
// bytes on any machine.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// Env is the build environment for Lambda's arm64 runtime: static, for
// Linux on Graviton.
var Env = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}

// HostEnv builds for this machine instead, for the local pipeline, which
// runs the bootstrap binaries here.
var HostEnv = []string{"CGO_ENABLED=0"}

// Shell renders Flags as a shell would read them, quoting the one value
// with spaces: the form the Makefile and scripts use.
func Shell() string {
	out := make([]string, len(Flags))
	for i, f := range Flags {
		if k, v, ok := strings.Cut(f, "="); ok && strings.Contains(v, " ") {
			f = k + "='" + v + "'"
		}
		out[i] = f
	}
	return strings.Join(out, " ")
}
