package node

import (
	"context"
	"errors"
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
	leader, follower := c.leader(), c.follower()
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

// orderedApply is an applyFunc whose calls each wait for their own
// release, recording when each started and finished.
type orderedApply struct {
	mu      sync.Mutex
	sizes   []int
	gates   []chan struct{}
	events  []string // "start N" / "end N", in order
	started chan int
	freed   []bool
	open    bool // set by releaseAll: no call waits any more
}

func (o *orderedApply) apply(cmds [][]byte) (uint64, []raftfsm.Result, error) {
	o.mu.Lock()
	i := len(o.sizes)
	gate := make(chan struct{})
	o.sizes = append(o.sizes, len(cmds))
	o.gates = append(o.gates, gate)
	o.freed = append(o.freed, o.open)
	if o.open {
		close(gate)
	}
	o.events = append(o.events, fmt.Sprintf("start %d", i))
	o.mu.Unlock()
	select {
	case o.started <- i:
	default: // nobody listens any more (releaseAll)
	}
	<-gate
	o.mu.Lock()
	o.events = append(o.events, fmt.Sprintf("end %d", i))
	o.mu.Unlock()
	return 1, make([]raftfsm.Result, len(cmds)), nil
}

func (o *orderedApply) release(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.freed[i] {
		o.freed[i] = true
		close(o.gates[i])
	}
}

// releaseAll lets every call, present and future, return (so a failed
// test can close its batcher).
func (o *orderedApply) releaseAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open = true
	for i, g := range o.gates {
		if !o.freed[i] {
			o.freed[i] = true
			close(g)
		}
	}
}

// TestBatcherOneLargeBatchInFlight: small batches use every slot, but a
// batch that finds smallBatch or more proposals queued waits until the
// large batch in flight is done, even with slots free, and takes
// everything queued meanwhile.
func TestBatcherOneLargeBatchInFlight(t *testing.T) {
	o := &orderedApply{started: make(chan int, 16)}
	var wg sync.WaitGroup
	defer wg.Wait()
	b := newBatcher(1024, 4, o.apply, &stageClock{})
	defer b.close()
	defer o.releaseAll()
	submit := func(n int) {
		for range n {
			wg.Go(func() {
				if r := b.submit(context.Background(), []byte{1}); r.err != nil && !errors.Is(r.err, ErrClosed) {
					t.Errorf("submit: %v", r.err)
				}
			})
		}
	}
	// Four small batches, one at a time: every slot busy.
	for i := range 4 {
		submit(1)
		if got := <-o.started; got != i {
			t.Fatalf("batch %d started as %d", i, got)
		}
	}
	// A queue forms; a slot frees: it goes as one large batch (4).
	submit(2 * smallBatch)
	waitFor(t, "the queue", 5*time.Second, func() bool { return len(b.in) == 2*smallBatch-1 })
	o.release(0)
	if got := <-o.started; got != 4 {
		t.Fatalf("batch %d started, want 4", got)
	}
	// Another queue forms; a slot frees, but large batch 4 is in flight.
	submit(2 * smallBatch)
	waitFor(t, "the second queue", 5*time.Second, func() bool { return len(b.in) == 2*smallBatch-1 })
	o.release(1)
	waitFor(t, "the next large batch to wait for the one in flight", 5*time.Second, func() bool { return b.largeWaits.Load() == 1 })
	if got := len(b.in); got != 2*smallBatch-1 {
		t.Fatalf("%d proposals left in the queue, want %d", got, 2*smallBatch-1)
	}
	o.release(4)
	if got := <-o.started; got != 5 {
		t.Fatalf("batch %d started, want 5", got)
	}
	o.releaseAll()
	wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sizes[4] != 2*smallBatch || o.sizes[5] != 2*smallBatch {
		t.Fatalf("batch sizes %v: want the queues as batches of %d", o.sizes, 2*smallBatch)
	}
	end4, start5 := -1, -1
	for i, e := range o.events {
		switch e {
		case "end 4":
			end4 = i
		case "start 5":
			start5 = i
		}
	}
	if start5 < end4 {
		t.Fatalf("large batch 5 started while large batch 4 was in flight: %v", o.events)
	}
}

// TestForwardedWriteNotAckedBeforeLocalApply: a write forwarded by a
// follower whose state machine has not applied it when the caller's
// deadline passes is not acknowledged — the caller gets ErrOutcomeUnknown
// (it could not read its own write there) — and it stands: once the
// follower applies again, the write is there.
func TestForwardedWriteNotAckedBeforeLocalApply(t *testing.T) {
	c := newTestCluster(t)
	leader, follower := c.leader(), c.follower()
	release := holdApply(t, follower)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	res, err := follower.Propose(ctx, putValue(t, "held", "v"))
	cancel()
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("a write the follower had not applied was answered %+v, %v; want ErrOutcomeUnknown", res, err)
	}
	if v, err := leader.FSM().ClusterValue("held"); err != nil || string(v) != "v" {
		t.Fatalf("the write did not commit: %q %v", v, err)
	}
	release()
	waitFor(t, "the follower applies the write", 10*time.Second, func() bool {
		v, err := follower.FSM().ClusterValue("held")
		return err == nil && string(v) == "v"
	})
}
