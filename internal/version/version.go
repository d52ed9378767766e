// Package version says which streambench a binary is: its module version,
// the VCS commit it was built from and the Go version, read from the build
// information the go command records. It is the one owner of the version:
// `streambench version`, `streambench --version` and the report's
// environment all read it.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamp, when set at link time, is the version a release build declares; it
// overrides the module version the build information holds:
//
//	go build -ldflags "-X github.com/streambench/streambench/internal/version.Stamp=v1.2.3" ./cmd/streambench
var Stamp string

// Info is what a binary knows of its own build.
type Info struct {
	// Version is the module version: Stamp when set, else the version the
	// go command recorded (a tag for `go install …@vX`, a pseudo-version
	// for a build in a git checkout), else "devel".
	Version string
	// Commit is the VCS revision the binary was built from; empty when the
	// build recorded none (a module built from the module cache, or
	// -buildvcs=false).
	Commit string
	// Modified tells the working tree had uncommitted changes.
	Modified bool
	// Go is the version of the Go toolchain that built the binary.
	Go string
}

// Read returns this binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, Stamp)
}

// fromBuildInfo derives Info from bi (nil when the binary has none) and a
// link-time stamp.
func fromBuildInfo(bi *debug.BuildInfo, stamp string) Info {
	info := Info{Version: "devel", Go: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if stamp = strings.TrimSpace(stamp); stamp != "" {
		info.Version = stamp
	}
	return info
}

// String is the version as the CLI prints it, one line:
// "v1.2.3 (commit 0123456789ab, go1.26.0)".
func (i Info) String() string {
	commit := "commit unknown"
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		commit = "commit " + c
		if i.Modified {
			commit += ", modified"
		}
	}
	return fmt.Sprintf("%s (%s, %s)", i.Version, commit, i.Go)
}
