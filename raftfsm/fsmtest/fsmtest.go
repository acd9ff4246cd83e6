// Package fsmtest gives tests of other packages a one-node "cluster": a
// real state machine (a bbolt file in the test's temporary directory) to
// which every proposal is applied at once, as a single-voter Raft would
// after commit. It replaces the hand-written fakes each package used to
// carry; tests that need real replication use node/nodetest instead.
package fsmtest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/raftfsm"
)

// Direct applies proposals straight to a real FSM. It is safe for
// concurrent use; proposals are applied one at a time, in call order.
type Direct struct {
	fsm *raftfsm.FSM

	mu        sync.Mutex
	index     uint64
	proposals [][]byte
	fail      error
}

// Open opens a fresh FSM in t's temporary directory, closed when t ends.
func Open(t testing.TB) *Direct {
	t.Helper()
	f, err := raftfsm.Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return New(f)
}

// New wraps an FSM the caller opened (and closes).
func New(f *raftfsm.FSM) *Direct { return &Direct{fsm: f} }

// FSM returns the state machine, for reads.
func (d *Direct) FSM() *raftfsm.FSM { return d.fsm }

// Propose records cmd and applies it as the next log entry, unless a
// failure was set with Fail: then it returns that error and applies
// nothing, as a cluster that lost quorum would.
func (d *Direct) Propose(_ context.Context, cmd []byte) (raftfsm.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.proposals = append(d.proposals, append([]byte(nil), cmd...))
	if d.fail != nil {
		return raftfsm.Result{}, d.fail
	}
	d.index++
	rs := d.fsm.Apply(&raft.Log{Index: d.index, Term: 1, Type: raft.LogCommand, Data: raftfsm.EncodeEntry([][]byte{cmd})})
	return rs.([]raftfsm.Result)[0], nil
}

// Fail makes every later Propose return err (nil: apply again).
func (d *Direct) Fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = err
}

// Proposals returns a copy of every command proposed so far, failed ones
// included.
func (d *Direct) Proposals() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.proposals...)
}

// Calls is how many proposals were made, failed ones included.
func (d *Direct) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.proposals)
}

// MustPropose encodes and applies one command and fails t unless it was
// applied without a domain error.
func (d *Direct) MustPropose(t testing.TB, typ raftfsm.CommandType, payload any) []byte {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	v, err := raftfsm.Outcome(d.Propose(context.Background(), cmd))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
