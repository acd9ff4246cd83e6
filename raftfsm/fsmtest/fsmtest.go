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
	calls     int
	keep      bool     // record proposals (KeepProposals)
	proposals [][]byte // when keep
	fail      error
}

// KeepProposals makes d record a copy of every later proposal, for
// Proposals. Off by default: tests that move megabytes through the state
// machine (media) must not keep them.
func (d *Direct) KeepProposals() *Direct {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keep = true
	return d
}

// record counts cmds and keeps copies when asked; d.mu is held.
func (d *Direct) record(cmds ...[]byte) {
	d.calls += len(cmds)
	if d.keep {
		for _, cmd := range cmds {
			d.proposals = append(d.proposals, append([]byte(nil), cmd...))
		}
	}
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
	d.record(cmd)
	if d.fail != nil {
		return raftfsm.Result{}, d.fail
	}
	d.index++
	rs := d.fsm.Apply(&raft.Log{Index: d.index, Term: 1, Type: raft.LogCommand, Data: raftfsm.EncodeEntry([][]byte{cmd})})
	return rs.([]raftfsm.Result)[0], nil
}

// ProposeEntry applies cmds as one log entry (one state-machine
// transaction, as a batch of the node's group commit) and returns each
// command's result; it fails as Propose does when a failure was set.
func (d *Direct) ProposeEntry(cmds [][]byte) ([]raftfsm.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.record(cmds...)
	if d.fail != nil {
		return nil, d.fail
	}
	d.index++
	return d.fsm.Apply(&raft.Log{Index: d.index, Term: 1, Type: raft.LogCommand, Data: raftfsm.EncodeEntry(cmds)}).([]raftfsm.Result), nil
}

// Fail makes every later Propose return err (nil: apply again).
func (d *Direct) Fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = err
}

// Proposals returns a copy of every command proposed since
// KeepProposals, failed ones included.
func (d *Direct) Proposals() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.proposals...)
}

// Calls is how many proposals were made, failed ones included.
func (d *Direct) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
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
