package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the shell block of README.md that follows the marker
// "<!-- README test: NAME": the walkthrough exactly as a reader pastes it.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var block []string
	state := 0 // 0: before the marker, 1: before the fence, 2: inside
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && strings.HasPrefix(line, "<!-- README test: "+name+" "):
			state = 1
		case state == 1 && line == "```sh":
			state = 2
		case state == 2 && line == "```":
			return strings.Join(block, "\n") + "\n"
		case state == 2:
			block = append(block, line)
		}
	}
	t.Fatalf("README.md has no complete block marked %q", name)
	return ""
}

// runWalkthrough runs the README block marked name as written, in an
// empty directory with a clean environment: only `go run .` and
// `go build -o FILE .` stand for the binary under test. It returns the
// directory and the walkthrough's output. The walkthroughs use the
// README's ports (8080…, 8088, 8089, 9000); whatever they leave running in
// the background is stopped when the test ends.
func runWalkthrough(t *testing.T, name string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	script := "set -euo pipefail\n" +
		`go() { case "$1 ${2:-}" in "run .") shift 2; "$WAEDGE_BIN" "$@";; "build -o") cp "$WAEDGE_BIN" "$3";; *) command go "$@";; esac; }` + "\n" +
		readmeBlock(t, name)
	out, err := os.Create(filepath.Join(t.TempDir(), "walkthrough.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WAEDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WAEDGE_BIN="+binary)
	// A file, not a pipe: the walkthrough leaves processes running in the
	// background, holding its output open.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The background processes share the script's process group. The next
	// walkthrough uses the same ports, so the group must be gone, not only
	// signalled, before this test ends.
	t.Cleanup(func() { stopGroup(t, cmd.Process.Pid) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	logOf := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("walkthrough %q failed: %v\n%s", name, err, tail(logOf(), 60))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("walkthrough %q did not finish in 2 minutes\n%s", name, tail(logOf(), 60))
	}
	return dir, logOf()
}

// TestREADMENetworkWalkthrough: a node, a business, webhook-echo
// subscribed as its webhook, a sandbox phone writing, the business
// answering, the phone reading — the walkthrough waits for each event
// itself; then webhook-echo's output holds them all.
func TestREADMENetworkWalkthrough(t *testing.T) {
	dir, log := runWalkthrough(t, "network")
	events, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"hello shop"`, `"status":"sent"`, `"status":"delivered"`, `"status":"read"`} {
		if !strings.Contains(string(events), want) {
			t.Fatalf("webhook-echo printed no %s:\n%s\n%s", want, events, tail(log, 60))
		}
	}
	if !strings.Contains(log, `{"success":true}`) {
		t.Fatalf("the subscription did not answer success:\n%s", tail(log, 60))
	}
}

// TestREADMESendWalkthrough: the first send of a fresh node answers a
// wamid.
func TestREADMESendWalkthrough(t *testing.T) {
	_, log := runWalkthrough(t, "send")
	if strings.Contains(log, `"messages":[{"id":"wamid.`) {
		return
	}
	t.Fatalf("the first send answered no wamid:\n%s", tail(log, 40))
}

// TestREADMEClusterWalkthrough: three nodes on a shared relay, joined as
// written, and `waedge sandbox phone` reaching that relay afterwards.
func TestREADMEClusterWalkthrough(t *testing.T) {
	_, log := runWalkthrough(t, "cluster")
	if n := strings.Count(log, `"suffrage"`) + strings.Count(log, `"Suffrage"`); n < 3 && strings.Count(log, `"id": "node-`) < 3 {
		t.Fatalf("cluster status shows fewer than three members:\n%s", tail(log, 60))
	}
	if !strings.Contains(log, `"phones"`) {
		t.Fatalf("sandbox phone list did not reach the shared relay:\n%s", tail(log, 60))
	}
}

// stopGroup sends SIGTERM to process group pgid and waits until no process
// of it is left; after 20 s it sends SIGQUIT (goroutine dumps into the
// walkthrough's log) and, 2 s later, SIGKILL.
func stopGroup(t *testing.T, pgid int) {
	t.Helper()
	gone := func() bool { return syscall.Kill(-pgid, 0) == syscall.ESRCH }
	waitGone := func(d time.Duration) bool {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if gone() {
				return true
			}
		}
		return gone()
	}
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 20 * time.Second}, {syscall.SIGQUIT, 2 * time.Second}, {syscall.SIGKILL, 10 * time.Second}} {
		_ = syscall.Kill(-pgid, step.sig)
		if waitGone(step.wait) {
			return
		}
		t.Logf("walkthrough processes still running %v after %v", step.wait, step.sig)
	}
	t.Errorf("walkthrough processes survived SIGKILL: the next walkthrough's ports may be taken")
}
