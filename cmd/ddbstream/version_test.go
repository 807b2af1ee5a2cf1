package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	const rev = "20ef2045c1a0f1d7d0b6f1b2a9c4e8d3b7a6f5e4"
	tests := []struct {
		name   string
		info   *debug.BuildInfo
		ok     bool
		expect string
	}{
		{"no build information", nil, false, "ddbstream (devel)"},
		{"no version, no settings", &debug.BuildInfo{}, true, "ddbstream (devel)"},
		{"a source build without VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "ddbstream (devel)"},
		{"a tagged build", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			true, "ddbstream v1.4.0 (revision " + rev + ")"},
		{"a changed tree", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261101000000-20ef2045c1a0+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			true, "ddbstream v0.0.0-20261101000000-20ef2045c1a0+dirty (revision " + rev + ", modified)"},
		{"modified without a revision", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}},
			true, "ddbstream (devel) (modified)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.info, tc.ok); got != tc.expect {
				t.Errorf("got %q, expect %q", got, tc.expect)
			}
		})
	}
}
