package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildAt builds the waedge of the source tree src into dir with extra go
// build flags.
func buildAt(t *testing.T, src, dir string, flags ...string) string {
	t.Helper()
	out := filepath.Join(dir, "waedge")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, ".")...)
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, b)
	}
	return out
}

func versionOf(t *testing.T, bin string) string {
	t.Helper()
	b, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, b)
	}
	return strings.TrimSpace(string(b))
}

// TestVersionStamped: -ldflags values win; without them a build in a git
// checkout reports the checkout's commit (VCS data recorded by the Go
// toolchain), never "commit none". The checkout is a fresh clone of this
// one's HEAD: the Go toolchain records no VCS data in a `git worktree`
// (its .git is a file) or with GOFLAGS=-buildvcs=false, hence -buildvcs=true.
func TestVersionStamped(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("not a git checkout: %v", err) // the repository's tests run in one
	}
	clone := cloneAt(t, strings.TrimSpace(string(head)))
	dir := t.TempDir()
	v := versionOf(t, buildAt(t, clone, dir, "-buildvcs=true"))
	if !strings.Contains(v, "commit "+strings.TrimSpace(string(head))[:12]) {
		t.Errorf("VCS build: %q, want the commit %s", v, strings.TrimSpace(string(head))[:12])
	}
	if strings.Contains(v, "dirty") {
		t.Errorf("a clean checkout reported as modified: %q", v)
	}
	v = versionOf(t, buildAt(t, "..", dir, "-ldflags", "-X main.version=9.8.7 -X main.commit=cafe1234"))
	if !strings.HasPrefix(v, "waedge 9.8.7 (commit cafe1234,") {
		t.Errorf("-ldflags build: %q", v)
	}
}
