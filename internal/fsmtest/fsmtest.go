// Package fsmtest is a test helper: a one-replica "cluster" that applies
// every proposal to a real state machine at once, without Raft, for the
// unit tests of packages that propose commands.
package fsmtest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/raftfsm"
)

// Direct applies each proposal to its FSM as one entry and counts them.
type Direct struct {
	fsm   *raftfsm.FSM
	mu    sync.Mutex
	index uint64
	calls int
}

// Open returns a Direct over a new FSM in t's temporary directory, closed
// when t ends.
func Open(t testing.TB) *Direct {
	t.Helper()
	f, err := raftfsm.Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return &Direct{fsm: f}
}

// FSM returns the state machine.
func (d *Direct) FSM() *raftfsm.FSM { return d.fsm }

// Propose applies cmd at the next index and returns its result.
func (d *Direct) Propose(_ context.Context, cmd []byte) (raftfsm.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.index++
	d.calls++
	rs := d.fsm.Apply(&raft.Log{Index: d.index, Term: 1, Type: raft.LogCommand, Data: raftfsm.EncodeEntry([][]byte{cmd})})
	return rs.([]raftfsm.Result)[0], nil
}

// Calls is how many proposals were made.
func (d *Direct) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// MustPropose encodes and applies one command and fails t unless it was
// applied without a domain error.
func (d *Direct) MustPropose(t testing.TB, typ raftfsm.CommandType, payload any) {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raftfsm.Outcome(d.Propose(context.Background(), cmd)); err != nil {
		t.Fatal(err)
	}
}
