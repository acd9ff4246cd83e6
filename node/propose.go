package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/raftfsm"
)

// maxBatchBytes bounds the encoded size of one Raft entry built by a batcher.
const maxBatchBytes = 4 << 20

// proposal is one command waiting to be replicated.
type proposal struct {
	ctx  context.Context
	cmd  []byte
	done chan proposalResult
	t0   time.Time
}

type proposalResult struct {
	index uint64
	res   raftfsm.Result
	err   error
}

// applyFunc replicates a batch of commands as one Raft entry and returns the
// entry's index and one result per command.
type applyFunc func(cmds [][]byte) (uint64, []raftfsm.Result, error)

// batcher packs concurrently submitted commands into few Raft entries.
//
// It keeps up to inFlight batches outstanding, but at most one *large*
// one: a batch that finds smallBatch or more proposals already queued
// when it gets its slot waits until no other large batch is in flight,
// and everything that queues meanwhile joins it. So at light load a
// proposal starts at once instead of waiting for the round in flight,
// and under load the batcher makes one large entry per round, as with a
// single slot, rather than several smaller ones that cost more per
// command (DESIGN.md, "Where a write's time goes").
type batcher struct {
	in    chan *proposal
	max   int
	sem   chan struct{}
	large chan struct{}
	// largeWaits counts the large batches that waited for another.
	largeWaits atomic.Uint64
	apply      applyFunc
	clock      *stageClock
	closed     chan struct{}
	wg         sync.WaitGroup
}

// smallBatch is the queue length from which a batch counts as large.
const smallBatch = 8

func newBatcher(max, inFlight int, apply applyFunc, clock *stageClock) *batcher {
	b := &batcher{
		in:     make(chan *proposal, 4*max),
		max:    max,
		sem:    make(chan struct{}, inFlight),
		large:  make(chan struct{}, 1),
		apply:  apply,
		clock:  clock,
		closed: make(chan struct{}),
	}
	b.wg.Add(1)
	go b.run()
	return b
}

func (b *batcher) run() {
	defer b.wg.Done()
	for {
		var first *proposal
		select {
		case first = <-b.in:
		case <-b.closed:
			b.failQueued()
			return
		}
		// Wait for a free slot first: proposals keep queueing meanwhile and
		// join this batch.
		if !b.acquire(b.sem, first) {
			return
		}
		large := len(b.in)+1 >= smallBatch
		if large {
			select {
			case b.large <- struct{}{}:
			default:
				b.largeWaits.Add(1)
				if !b.acquire(b.large, first) {
					<-b.sem
					return
				}
			}
		}
		batch := []*proposal{first}
		size := len(first.cmd)
	drain:
		for len(batch) < b.max && size < maxBatchBytes {
			select {
			case p := <-b.in:
				batch = append(batch, p)
				size += len(p.cmd)
			default:
				break drain
			}
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() {
				if large {
					<-b.large
				}
				<-b.sem
			}()
			b.exec(batch)
		}()
	}
}

// acquire takes a token of sem, or fails first and everything queued when
// the batcher closes first.
func (b *batcher) acquire(sem chan struct{}, first *proposal) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-b.closed:
		first.done <- proposalResult{err: ErrClosed}
		b.failQueued()
		return false
	}
}

// exec drops proposals whose caller already gave up (they were never
// proposed, so failing them is safe) and replicates the rest.
func (b *batcher) exec(batch []*proposal) {
	live := batch[:0]
	for _, p := range batch {
		b.clock.since(stageQueue, p.t0)
		if err := p.ctx.Err(); err != nil {
			p.done <- proposalResult{err: err}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	cmds := make([][]byte, len(live))
	for i, p := range live {
		cmds[i] = p.cmd
	}
	index, results, err := b.apply(cmds)
	if err == nil && len(results) != len(live) {
		err = fmt.Errorf("apply returned %d results for %d commands", len(results), len(live))
	}
	for i, p := range live {
		if err != nil {
			p.done <- proposalResult{err: err}
			continue
		}
		p.done <- proposalResult{index: index, res: results[i]}
	}
}

func (b *batcher) failQueued() {
	for {
		select {
		case p := <-b.in:
			p.done <- proposalResult{err: ErrClosed}
		default:
			return
		}
	}
}

// submit queues cmd and waits for its result.
func (b *batcher) submit(ctx context.Context, cmd []byte) proposalResult {
	p := &proposal{ctx: ctx, cmd: cmd, done: make(chan proposalResult, 1), t0: time.Now()}
	select {
	case b.in <- p:
	case <-ctx.Done():
		return proposalResult{err: ctx.Err()}
	case <-b.closed:
		return proposalResult{err: ErrClosed}
	}
	// Once queued, the command may be proposed: wait for the outcome even if
	// ctx ends, so a caller is never told "failed" about a committed write.
	return <-p.done
}

func (b *batcher) close() {
	close(b.closed)
	b.wg.Wait()
}

// errRetryable marks failures where the command was certainly not proposed,
// so Propose may route it again (to a new leader).
var errRetryable = errors.New("not proposed")

// applyLocal replicates cmds as one entry from this (leader) node.
func (n *Node) applyLocal(cmds [][]byte) (uint64, []raftfsm.Result, error) {
	defer n.stages.since(stageRaftApply, time.Now())
	f := n.raft.Apply(raftfsm.EncodeEntry(cmds), n.cfg.ApplyTimeout)
	if err := f.Error(); err != nil {
		// Refused before it was enqueued: not proposed, route it again.
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) ||
			errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return 0, nil, fmt.Errorf("%w: %w", errRetryable, err)
		}
		if errors.Is(err, raft.ErrRaftShutdown) {
			return 0, nil, ErrClosed
		}
		// Anything else (leadership lost, aborted by a restore) came after
		// the entry was handed to Raft: it may be committed or not.
		return 0, nil, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	results, ok := f.Response().([]raftfsm.Result)
	if !ok {
		return 0, nil, fmt.Errorf("unexpected apply response %T", f.Response())
	}
	return f.Index(), results, nil
}

// applyForward sends cmds to the leader, which replicates them as one entry.
func (n *Node) applyForward(cmds [][]byte) (uint64, []raftfsm.Result, error) {
	defer n.stages.since(stageForward, time.Now())
	leaderAddr, _ := n.raft.LeaderWithID()
	if leaderAddr == "" {
		return 0, nil, fmt.Errorf("%w: %w", errRetryable, ErrNoLeader)
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	resp, err := n.pool.call(ctx, string(leaderAddr), &rpcRequest{Op: "propose", Cmds: cmds})
	if err != nil {
		return 0, nil, forwardFailure(err)
	}
	if err := rpcError(resp.ErrKind, resp.Err); err != nil {
		if errors.Is(err, errNotLeaderRemote) || errors.Is(err, ErrNoLeader) {
			return 0, nil, fmt.Errorf("%w: %w", errRetryable, err)
		}
		return 0, nil, err
	}
	return resp.Index, fromWire(resp.Results), nil
}

// forwardFailure classifies a forward round trip that failed. A dial
// failure sent nothing: the batch may be routed again. Any other failure
// (the connection lost, reset or timed out once the request may have gone
// out) leaves the outcome unknown — the leader may have committed the
// batch — which the client is told as such (503 "may or may not have taken
// effect"), never as an internal error.
func forwardFailure(err error) error {
	if errors.Is(err, errDial) {
		return fmt.Errorf("%w: %w", errRetryable, err)
	}
	return fmt.Errorf("%w: forward to the leader: %w", ErrOutcomeUnknown, err)
}

// Propose replicates one encoded raftfsm command and returns its result. It
// returns only after the command is committed by a quorum and applied on this
// node. On a follower the command is forwarded to the leader.
func (n *Node) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	if len(cmd) > n.cfg.MaxCommandSize {
		return raftfsm.Result{}, fmt.Errorf("command of %d bytes: %w", len(cmd), ErrTooLarge)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		defer cancel()
	}
	for {
		select {
		case <-n.closed:
			return raftfsm.Result{}, ErrClosed
		default:
		}
		watch := n.leaderWatch()
		leader := n.raft.State() == raft.Leader
		b := n.forwardB
		if leader {
			b = n.leaderB
		}
		r := b.submit(ctx, cmd)
		if r.err == nil {
			if !leader {
				start := time.Now()
				err := n.fsm.WaitApplied(ctx, r.index)
				n.stages.since(stageWaitApplied, start)
				if err != nil {
					// Committed, but this node has not applied it: its
					// caller could not read its own write here, so it is
					// not acknowledged (DESIGN §4). The write stands; to
					// the caller its outcome is unknown.
					return raftfsm.Result{}, fmt.Errorf("%w: committed at index %d, not applied on this node in time: %w", ErrOutcomeUnknown, r.index, err)
				}
			}
			return r.res, nil
		}
		if !errors.Is(r.err, errRetryable) {
			return raftfsm.Result{}, r.err
		}
		// Not proposed: wait for a leader change, then route again.
		select {
		case <-watch:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			if errors.Is(r.err, ErrNoLeader) || errors.Is(r.err, raft.ErrNotLeader) || errors.Is(r.err, errNotLeaderRemote) {
				return raftfsm.Result{}, ErrNoLeader
			}
			return raftfsm.Result{}, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-n.closed:
			return raftfsm.Result{}, ErrClosed
		}
	}
}

// errDial marks an RPC that failed before anything was sent.
var errDial = errors.New("dial failed")
