package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/syncbuf"
)

// TestBlackBoxServeFromConfigFile: `waedge serve --config FILE` with no
// other flag listens where the file says and keeps its state in the
// file's data dir.
func TestBlackBoxServeFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	cfg := filepath.Join(dir, "waedge.toml")
	body := fmt.Sprintf("data-dir = %q\nhttp-addr = %q\ncluster-addr = %q\nrelay-addr = %q\nlog-format = \"json\"\n",
		filepath.Join(dir, "data"), httpAddr, freeAddr(t), freeAddr(t))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &syncbuf.Buffer{}
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", tail(log.String(), 40))
		}
	})
	p := &proc{t: t, httpAddr: httpAddr, dataDir: filepath.Join(dir, "data")}
	waitFor(t, "ready on the file's http-addr", 20*time.Second, p.ready)
	if _, err := os.Stat(filepath.Join(dir, "data", "admin.token")); err != nil {
		t.Fatalf("the file's data dir was not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "waedge-data")); err == nil {
		t.Fatal("the default data dir was created")
	}
}
