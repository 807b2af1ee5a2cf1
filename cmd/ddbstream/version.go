package main

import (
	"runtime/debug"
	"strings"
)

// versionLine says which build of the tool is running, so that a report
// or a bug can name it: the module version the go command stamped
// (a tag, a pseudo-version, or "(devel)"), and the commit it was built
// from, marked "modified" when the work tree had uncommitted changes.
// The go command stamps the vcs.* settings when it builds inside a
// repository (-buildvcs, on by default); a test binary or a build with
// -buildvcs=false has none, and the line then names the version alone.
// https://pkg.go.dev/runtime/debug#BuildInfo
func versionLine(info *debug.BuildInfo, ok bool) string {
	version := "(devel)"
	if ok && info != nil && info.Main.Version != "" {
		version = info.Main.Version
	}
	line := "ddbstream " + version
	if !ok || info == nil {
		return line
	}
	var revision string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var parts []string
	if revision != "" {
		parts = append(parts, "revision "+revision)
	}
	if modified {
		parts = append(parts, "modified")
	}
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	return line
}
