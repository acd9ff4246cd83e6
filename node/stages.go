package node

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/cluster"
)

// The parts of a write's life a node times (DESIGN.md, "Where a write's
// time goes"). Each is a count and a total, cheap enough to stay on: two
// atomic adds and a clock read per event.
const (
	stageQueue       = iota // a proposal waiting in its batcher for a slot
	stageForward            // follower: one forwarded batch, request to answer
	stageRaftApply          // leader: raft.Apply of one entry until its result
	stageWaitApplied        // follower: the leader's answer until this node applied the entry
	stageServeRPC           // leader: handling one forwarded batch
	stageLogStore           // one write of entries to the Raft log (fsync included)
	stageFSMApply           // one ApplyBatch of the state machine
	numStages
)

var stageNames = [numStages]string{"queue", "forward", "raft_apply", "wait_applied", "serve_forwarded", "log_store", "fsm_apply"}

type stageClock struct {
	count [numStages]atomic.Uint64
	nanos [numStages]atomic.Uint64
}

// since records one event of stage s that started at start.
func (c *stageClock) since(s int, start time.Time) {
	c.count[s].Add(1)
	c.nanos[s].Add(uint64(max(time.Since(start), 0)))
}

// CommitStages reports, for each part of a write's life this node timed
// since it started, how often it happened and the time it took in total:
// the mean of a part between two readings is Δtotal ÷ Δcount.
func (n *Node) CommitStages() []cluster.StageTiming {
	out := make([]cluster.StageTiming, numStages)
	for i := range numStages {
		out[i] = cluster.StageTiming{Stage: stageNames[i], Count: n.stages.count[i].Load(),
			Total: time.Duration(n.stages.nanos[i].Load())}
	}
	return out
}

// timedLogStore times every write to the Raft log.
type timedLogStore struct {
	raft.LogStore
	clock *stageClock
}

// StoreLog implements raft.LogStore.
func (s timedLogStore) StoreLog(l *raft.Log) error {
	defer s.clock.since(stageLogStore, time.Now())
	return s.LogStore.StoreLog(l)
}

// StoreLogs implements raft.LogStore.
func (s timedLogStore) StoreLogs(logs []*raft.Log) error {
	defer s.clock.since(stageLogStore, time.Now())
	return s.LogStore.StoreLogs(logs)
}

// stagedFSM times every ApplyBatch of the state machine.
type stagedFSM struct {
	timedFSM
	clock *stageClock
	hold  *applyHold
}

// applyHold stalls this node's state machine while a test holds it (the
// follower that has not applied a committed write yet). Unheld, it costs
// one atomic load per batch.
type applyHold struct{ ch atomic.Pointer[chan struct{}] }

// wait returns once no hold is set or the one set is released.
func (h *applyHold) wait() {
	if c := h.ch.Load(); c != nil {
		<-*c
	}
}

// ApplyBatch implements raft.BatchingFSM.
func (f stagedFSM) ApplyBatch(logs []*raft.Log) []any {
	f.hold.wait()
	defer f.clock.since(stageFSMApply, time.Now())
	return f.timedFSM.ApplyBatch(logs)
}

// Apply implements raft.FSM.
func (f stagedFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }
