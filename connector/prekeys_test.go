package connector

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/network"

	"github.com/waedge/waedge/node/nodetest"
)

// TestPreKeysReplenishedBelowAQuarter: the business number's one-time
// prekeys are published in batches of PreKeyBatch; each is used once by a
// new consumer; the pool is topped up with a new batch only once fewer
// than a quarter are left; prekeys on offer are in the replicated Signal
// store, used ones are removed from it.
func TestPreKeysReplenishedBelowAQuarter(t *testing.T) {
	const batch = 8
	u := newUnit(t, Config{PreKeyBatch: batch})
	const business = "15550001000"
	pool := func() int {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		return len(u.fn.regs[business].PreKeys)
	}
	published := map[uint32]bool{}
	notePublished := func() {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		for _, k := range u.fn.regs[business].PreKeys {
			published[k.ID] = true
		}
	}
	if pool() != batch {
		t.Fatalf("first batch: %d prekeys published, want %d", pool(), batch)
	}
	notePublished()
	// From now on, every batch must be in the replicated store before it
	// is published.
	var unpublishedCommit atomic.Int64
	u.fn.mu.Lock()
	u.fn.beforePublish = func(_ string, otks []network.OneTimePreKey) {
		for _, k := range otks {
			if v, _, err := u.n.FSM().SignalRecord("3", fmt.Sprintf("prekeys\x00%08d", k.ID)); err != nil || v == nil {
				unpublishedCommit.Add(1)
			}
		}
	}
	u.fn.mu.Unlock()
	// New consumers, one prekey each: 6 used leaves 2 (= a quarter): no top-up.
	consume := func(i int) {
		t.Helper()
		ph := newTestPhone(t, fmt.Sprintf("4915100001%03d", i))
		id := fmt.Sprintf("pk.%d", i)
		u.deliver(ph.envelope(t, u.fn, business, id, "hi"), id)
		nodetest.WaitFor(t, "message acked", 10*time.Second, func() bool { return u.fn.ackCount(id) == 1 })
	}
	for i := 0; i < batch-2; i++ {
		consume(i)
	}
	// The connector's number sync runs every 20 ms in the unit; give it
	// several rounds to (wrongly) top up.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if pool() != 2 {
			t.Fatalf("pool %d with a quarter left; it must not be topped up yet", pool())
		}
		time.Sleep(10 * time.Millisecond) // sampling interval
	}
	// One more leaves 1 < a quarter: a new batch is committed, then published.
	consume(batch - 2)
	nodetest.WaitFor(t, "pool topped up", 10*time.Second, func() bool { return pool() == 1+batch })
	notePublished()
	if n := unpublishedCommit.Load(); n != 0 {
		t.Fatalf("%d prekeys published before they were committed", n)
	}
	if len(published) != 2*batch {
		t.Fatalf("%d distinct prekey ids published, want %d (no id reused)", len(published), 2*batch)
	}
	// Those still on offer are in the replicated store; those used were
	// removed by the commit of the session they started.
	u.fn.mu.Lock()
	offered := map[uint32]bool{}
	for _, k := range u.fn.regs[business].PreKeys {
		offered[k.ID] = true
	}
	u.fn.mu.Unlock()
	for id := range published {
		v, _, err := u.n.FSM().SignalRecord("3", fmt.Sprintf("prekeys\x00%08d", id))
		if err != nil || (v != nil) != offered[id] {
			t.Fatalf("prekey %d: offered %v, in the replicated store %v (%v)", id, offered[id], v != nil, err)
		}
	}
}
