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

// TestREADMENetworkWalkthrough runs the README's network walkthrough as
// written, in an empty directory with a clean environment (only `go run .`
// stands for the binary under test): a node, a business, webhook-echo
// subscribed as its webhook, a sandbox phone writing, the business
// answering, the phone reading. The walkthrough itself waits for each
// event; the test then checks what webhook-echo printed. It uses the
// README's ports (8080, 8089, 9000).
func TestREADMENetworkWalkthrough(t *testing.T) {
	dir := t.TempDir()
	script := "set -euo pipefail\n" +
		`go() { if [ "$1" = run ] && [ "$2" = . ]; then shift 2; "$WAEDGE_BIN" "$@"; else command go "$@"; fi; }` + "\n" +
		readmeBlock(t, "network")
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
	// A file, not a pipe: the walkthrough leaves the node and webhook-echo
	// running in the background, holding its output open.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The background processes share the script's process group.
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	logOf := func() string { b, _ := os.ReadFile(out.Name()); return tail(string(b), 60) }
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("walkthrough failed: %v\n%s", err, logOf())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("walkthrough did not finish in 2 minutes\n%s", logOf())
	}
	events, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"hello shop"`, `"status":"sent"`, `"status":"delivered"`, `"status":"read"`} {
		if !strings.Contains(string(events), want) {
			t.Fatalf("webhook-echo printed no %s:\n%s\n%s", want, events, logOf())
		}
	}
	if !strings.Contains(logOf(), `{"success":true}`) {
		t.Fatalf("the subscription did not answer success:\n%s", logOf())
	}
}
