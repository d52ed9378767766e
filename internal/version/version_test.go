package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name  string
		bi    *debug.BuildInfo
		stamp string
		want  Info
		str   string
	}{
		{"no build info", nil, "", Info{Version: "devel", Go: runtime.Version()}, "devel (commit unknown, " + runtime.Version() + ")"},
		{"go run in a checkout without vcs", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "",
			Info{Version: "devel", Go: "go1.26.0"}, "devel (commit unknown, go1.26.0)"},
		{"go install @v1.2.3", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}}, "",
			Info{Version: "v1.2.3", Go: "go1.26.0"}, "v1.2.3 (commit unknown, go1.26.0)"},
		{"build in a dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261205134101-0123456789ab+dirty"}, Settings: vcs}, "",
			Info{Version: "v0.0.0-20261205134101-0123456789ab+dirty", Commit: "0123456789abcdef0123", Modified: true, Go: "go1.26.0"},
			"v0.0.0-20261205134101-0123456789ab+dirty (commit 0123456789ab, modified, go1.26.0)"},
		{"release build stamped", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:1]}, " v9.9.9\n",
			Info{Version: "v9.9.9", Commit: "0123456789abcdef0123", Go: "go1.26.0"}, "v9.9.9 (commit 0123456789ab, go1.26.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.bi, tt.stamp)
			if got != tt.want {
				t.Errorf("fromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}
