package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion is the version and commit of this binary: the -ldflags
// values when the build set them (packages, releases), else what the Go
// toolchain recorded from the git checkout it was built in (module
// version, vcs.revision, and "+dirty" for uncommitted changes).
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, rev
	}
	if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if rev == "none" {
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified && rev != "none" {
			rev += "+dirty"
		}
	}
	return ver, rev
}

// memberVersion is this binary's version as cluster members report it to
// each other: "<version> (<commit>)".
func memberVersion() string {
	ver, rev := buildVersion()
	return ver + " (" + rev + ")"
}

// versionLine is what `waedge version` prints.
func versionLine() string {
	ver, rev := buildVersion()
	return fmt.Sprintf("waedge %s (commit %s, %s)", ver, rev, runtime.Version())
}
