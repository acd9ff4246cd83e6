package node

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/raftfsm"
)

// expiry connects CmdExpire, applied on every replica, to what each node
// must do locally: forget destroyed data keys from in-memory keyrings, and
// compact its own Raft log so that the entries which carried the expired
// ciphertext and references are gone from the log (raft.Snapshot is
// per-node; the FSM is durable, so a snapshot only syncs it).
type expiry struct {
	n *Node

	mu        sync.Mutex
	listeners []func([]uint32)
	dirty     bool // something was deleted since the last compaction

	compactCh chan struct{}
	// compacted counts finished expiry compactions (tests).
	compacted uint64

	// inBatch is set by onExpire while timedFSM applies a batch (both run
	// on Raft's apply goroutine); lastApplyNs is how long the latest batch
	// holding a CmdExpire took (LastExpireApply).
	inBatch     atomic.Bool
	lastApplyNs atomic.Int64
}

// timedFSM is the state machine as Raft sees it: raftfsm.FSM, with the
// duration of every batch that applied a CmdExpire noted for
// LastExpireApply. The clock is read here, around Apply and outside
// package raftfsm, and goes only to the retention worker's sizing, never
// into the replicated state (invariant 2).
type timedFSM struct {
	*raftfsm.FSM
	e *expiry
}

// ApplyBatch implements raft.BatchingFSM.
func (t timedFSM) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	t.e.inBatch.Store(false)
	out := t.FSM.ApplyBatch(logs)
	if t.e.inBatch.Load() {
		t.e.lastApplyNs.Store(int64(max(time.Since(start), 1)))
	}
	return out
}

// Apply implements raft.FSM.
func (t timedFSM) Apply(l *raft.Log) any { return t.ApplyBatch([]*raft.Log{l})[0] }

// LastExpireApply is how long this node took to apply (and commit) the
// latest batch of Raft entries that held a CmdExpire — the longest a send
// in that batch or queued behind it waited for expiry; 0 before the
// first. On the leader, it is known when Propose of the command returns:
// the retention worker sizes its next command by it.
func (n *Node) LastExpireApply() time.Duration {
	return time.Duration(n.expiry.lastApplyNs.Load())
}

func newExpiry(n *Node) *expiry {
	return &expiry{n: n, compactCh: make(chan struct{}, 1)}
}

// OnDataKeysDestroyed registers fn to be called, on this node, with the
// ids of data keys that an applied expiry destroyed (seal.Sealer.Forget).
func (n *Node) OnDataKeysDestroyed(fn func(ids []uint32)) {
	n.expiry.mu.Lock()
	n.expiry.listeners = append(n.expiry.listeners, fn)
	n.expiry.mu.Unlock()
}

// ExpiryCompactions is how many log compactions expiry has triggered on
// this node.
func (n *Node) ExpiryCompactions() uint64 {
	n.expiry.mu.Lock()
	defer n.expiry.mu.Unlock()
	return n.expiry.compacted
}

// onExpire runs on Raft's apply goroutine after each applied CmdExpire.
func (e *expiry) onExpire(r raftfsm.ExpireResult) {
	e.inBatch.Store(true)
	e.mu.Lock()
	ls := e.listeners
	if r.Deleted > 0 || len(r.DestroyedKeys) > 0 {
		e.dirty = true
	}
	compact := e.dirty && !r.More
	if compact {
		e.dirty = false
	}
	e.mu.Unlock()
	if len(r.DestroyedKeys) > 0 {
		for _, fn := range ls {
			fn(r.DestroyedKeys)
		}
	}
	if compact {
		select {
		case e.compactCh <- struct{}{}:
		default: // one is pending already; it will cover this one
		}
	}
}

// run compacts the Raft log after each expiry run that deleted something:
// a snapshot with no trailing entries kept, so that the log tail no longer
// holds the commands that carried now-expired ciphertext and references.
// (Their bytes stay in raft.db's free pages until reused: ciphertext under
// destroyed keys and keyed references only, see retention/DESIGN.md.)
func (e *expiry) run() {
	defer e.n.bg.Done()
	for {
		select {
		case <-e.n.closed:
			return
		case <-e.compactCh:
		}
		if err := e.compact(); err != nil {
			e.n.logger.Warn("log compaction after expiry failed", slog.Any("err", err))
			continue
		}
		e.mu.Lock()
		e.compacted++
		e.mu.Unlock()
		e.n.logger.Info("raft log compacted after expiry")
	}
}

func (e *expiry) compact() error {
	r := e.n.raft
	rc := r.ReloadableConfig()
	keep := rc.TrailingLogs
	rc.TrailingLogs = 0
	if err := r.ReloadConfig(rc); err != nil {
		return err
	}
	defer func() {
		rc.TrailingLogs = keep
		if err := r.ReloadConfig(rc); err != nil {
			e.n.logger.Error("restoring trailing logs after compaction failed", slog.Any("err", err))
		}
	}()
	err := r.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}
