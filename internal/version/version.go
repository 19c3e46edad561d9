// Package version says which build of stile this is: the release set by
// the build (-ldflags "-X github.com/stile-dev/stile/internal/version.Version=v1.2.3"),
// else "dev", with the commit and Go version the build recorded.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is the release, set at build time; "dev" otherwise.
var Version = "dev"

// Commit returns the VCS revision the binary was built from (12 hex digits,
// "+dirty" when the tree had changes), or "unknown".
func Commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// String is "stile VERSION (commit COMMIT, GOVERSION)".
func String() string {
	return "stile " + Version + " (commit " + Commit() + ", " + runtime.Version() + ")"
}

// Short is "VERSION" with its commit: what agents and the web footer show.
func Short() string { return Version + "+" + Commit() }
