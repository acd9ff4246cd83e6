package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/raftfsm"
)

// A restarted follower learns the leader's commit index only from the
// leader's next append, and its state machine, which fsyncs only now and
// then, may come back older than what this node had acknowledged before the
// crash. Until its state machine has applied everything the cluster had
// committed when the node started, it would answer reads (a token check, a
// listing) from an older state, so it is not ready.
//
// catchUpOnStart proposes one no-op through the leader and waits until this
// node's state machine has applied it: everything committed before the no-op
// is then applied here too. A leader needs none of this: its barrier does
// the same (workerSet.caughtUp). A no-op rather than a read of the leader's
// commit index, because the state machine never sees some entries (Raft's
// own no-op and barriers), so waiting for an arbitrary index could wait for
// the next write; and every binary a rolling upgrade meets accepts it.
func (n *Node) catchUpOnStart() {
	defer n.bg.Done()
	noop, err := raftfsm.EncodeCommand(raftfsm.CmdNoop, struct{}{})
	if err != nil {
		panic(err) // a constant command
	}
	for attempt := 0; ; attempt++ {
		select {
		case <-n.closed:
			return
		default:
		}
		watch := n.leaderWatch()
		if n.tryCatchUp(noop) {
			n.caughtUpOnStart.Store(true)
			return
		}
		if attempt > 0 && attempt%50 == 0 {
			n.logger.Info("waiting to catch up with the cluster before serving", slog.Int("attempts", attempt))
		}
		select {
		case <-n.closed:
			return
		case <-watch:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tryCatchUp reports whether this node has applied everything committed
// before now (see catchUpOnStart).
func (n *Node) tryCatchUp(noop []byte) bool {
	addr, id := n.raft.LeaderWithID()
	switch {
	case id == "":
		return false
	case string(id) == n.id:
		return n.raft.State() == raft.Leader && n.workers.caughtUp()
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	// Close waits for this goroutine before it closes the state machine,
	// so neither the call nor the wait may outlive the node's closing.
	go func() {
		select {
		case <-n.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := n.pool.call(ctx, string(addr), &rpcRequest{Op: "propose", Cmds: [][]byte{noop}})
	if err != nil || rpcError(resp.ErrKind, resp.Err) != nil || resp.Index == 0 {
		return false
	}
	return n.fsm.WaitApplied(ctx, resp.Index) == nil
}
