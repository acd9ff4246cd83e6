package console

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/raftfsm"
)

// fsmCluster applies proposals straight to a real FSM.
type fsmCluster struct {
	cluster.Cluster // the rest is not used here
	fsm             *raftfsm.FSM
	mu              sync.Mutex
	index           uint64
}

func (c *fsmCluster) Propose(_ context.Context, cmd []byte) (raftfsm.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	rs := c.fsm.Apply(&raft.Log{Index: c.index, Term: 1, Type: raft.LogCommand, Data: raftfsm.EncodeEntry([][]byte{cmd})})
	return rs.([]raftfsm.Result)[0], nil
}

func (c *fsmCluster) FSM() *raftfsm.FSM { return c.fsm }

// TestWriteSetupLink: the bootstrap writes one setup link, mode 0600,
// logs the file but never the link; the link creates an admin once; with
// a console user, no new link is written.
func TestWriteSetupLink(t *testing.T) {
	f, err := raftfsm.Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	var logs bytes.Buffer
	a := New(Config{Cluster: &fsmCluster{fsm: f}, Logger: slog.New(slog.NewTextHandler(&logs, nil)), PublicURL: "https://wa.example.com/"})
	dir := t.TempDir()
	path, err := a.WriteSetupLink(context.Background(), dir)
	if err != nil || path != filepath.Join(dir, SetupFile) {
		t.Fatalf("write: %q %v", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("setup file: %v %v, want mode 0600", fi, err)
	}
	raw, _ := os.ReadFile(path)
	link := strings.TrimSpace(string(raw))
	secret, ok := strings.CutPrefix(link, "https://wa.example.com/console/#accept=")
	if !ok || len(secret) < 40 {
		t.Fatalf("setup link %q", link)
	}
	if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), path) {
		t.Fatalf("log must name the file and never the link:\n%s", logs.String())
	}
	// Written once: a second start leaves the file alone.
	if p, err := a.WriteSetupLink(context.Background(), dir); err != nil || p != "" {
		t.Fatalf("second write: %q %v", p, err)
	}
	u, err := a.Accept(context.Background(), secret, "root", "twelve chars!")
	if err != nil || u.Role != raftfsm.TokenAdmin {
		t.Fatalf("accept: %+v %v", u, err)
	}
	if _, err := a.Accept(context.Background(), secret, "again", "twelve chars!"); err != ErrLinkInvalid {
		t.Fatalf("link used twice: %v", err)
	}
	// With a console user, a missing file is not rewritten.
	_ = os.Remove(path)
	if p, err := a.WriteSetupLink(context.Background(), dir); err != nil || p != "" {
		t.Fatalf("write with a user: %q %v", p, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("setup link written although the cluster has a console user")
	}
	if _, err := a.Invite(context.Background(), "superuser", "", "t"); err == nil {
		t.Fatal("unknown role accepted")
	}
}
