package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// gatedApply is an applyFunc that holds every call until released and
// records how many run at once and what each was given.
type gatedApply struct {
	release          chan struct{}
	running, maxSeen atomic.Int32
	mu               sync.Mutex
	batches          [][][]byte
}

func (g *gatedApply) apply(cmds [][]byte) (uint64, []raftfsm.Result, error) {
	now := g.running.Add(1)
	for {
		m := g.maxSeen.Load()
		if now <= m || g.maxSeen.CompareAndSwap(m, now) {
			break
		}
	}
	g.mu.Lock()
	g.batches = append(g.batches, cmds)
	g.mu.Unlock()
	<-g.release
	g.running.Add(-1)
	return 1, make([]raftfsm.Result, len(cmds)), nil
}

func (g *gatedApply) calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.batches)
}

// TestBatcherInFlight: a batcher with inFlight slots starts a new batch
// at once while fewer than inFlight are outstanding, never more than
// inFlight at a time, and what arrives while every slot is busy forms the
// next batch (group commit still works with several slots).
func TestBatcherInFlight(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprint(inFlight), func(t *testing.T) {
			g := &gatedApply{release: make(chan struct{})}
			b := newBatcher(1024, inFlight, g.apply, &stageClock{})
			defer b.close()
			ctx := context.Background()
			var wg sync.WaitGroup
			submit := func(i int) {
				wg.Go(func() {
					if r := b.submit(ctx, []byte{byte(i)}); r.err != nil {
						t.Errorf("submit %d: %v", i, r.err)
					}
				})
			}
			// One proposal at a time: each takes a free slot of its own.
			for i := range inFlight {
				submit(i)
				waitFor(t, fmt.Sprintf("batch %d started", i+1), 5*time.Second, func() bool { return g.calls() == i+1 })
			}
			// Every slot is busy: these queue and must form one batch.
			const queued = 10
			for i := range queued {
				submit(inFlight + i)
			}
			// The batcher holds the first of them while it waits for a slot.
			waitFor(t, "all queued", 5*time.Second, func() bool { return len(b.in) == queued-1 })
			if got := g.calls(); got != inFlight {
				t.Fatalf("%d batches started with %d slots", got, inFlight)
			}
			close(g.release)
			wg.Wait()
			if got := g.maxSeen.Load(); got != int32(inFlight) {
				t.Fatalf("%d batches ran at once, want %d", got, inFlight)
			}
			if got := g.calls(); got != inFlight+1 {
				t.Fatalf("%d batches for %d proposals, want %d (the queued ones in one)", got, inFlight+queued, inFlight+1)
			}
			if last := g.batches[inFlight]; len(last) != queued {
				t.Fatalf("the queued proposals formed a batch of %d, want %d", len(last), queued)
			}
		})
	}
}

// TestForwardedWriteAckedAfterCommitAndLocalApply: with several batches in
// flight per node (and Raft's pipelining), a write acknowledged on a
// follower is already applied by the leader (so a quorum committed it)
// and by the follower itself (so the caller reads its own write there),
// for every one of many concurrent writes.
func TestForwardedWriteAckedAfterCommitAndLocalApply(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.MaxInFlight = 4 })
	leader := c.leader()
	var follower *Node
	for _, n := range c.live() {
		if n != leader {
			follower = n
			break
		}
	}
	const writers, each = 16, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("fw-%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := follower.Propose(ctx, putValue(t, key, "v"))
				cancel()
				if err != nil || res.Err != nil {
					t.Errorf("propose %s: %v %v", key, err, res.Err)
					return
				}
				if v, err := follower.FSM().ClusterValue(key); err != nil || string(v) != "v" {
					t.Errorf("%s acknowledged on the follower before it applied it there: %q %v", key, v, err)
					return
				}
				if leader.IsLeader() {
					if v, err := leader.FSM().ClusterValue(key); err != nil || string(v) != "v" {
						t.Errorf("%s acknowledged before the leader applied (committed) it: %q %v", key, v, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
