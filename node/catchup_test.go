package node

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// A follower that restarts behind the cluster is not ready until its state
// machine has applied what the cluster committed meanwhile, even once Raft
// has handed those entries to the state machine and knows the leader.
func TestRestartedFollowerNotReadyBeforeItCatchesUp(t *testing.T) {
	c := newTestCluster(t)
	leader, f := c.leader(), c.follower()
	i := c.index(f)
	c.stop(f)
	for k := 0; k < 20; k++ {
		mustPropose(t, leader, putValue(t, fmt.Sprintf("while-down-%d", k), "v"))
	}
	committed := leader.raft.CommitIndex()

	held := make(chan struct{})
	c.cfgs[i].heldFromStart = held
	n := c.restart(i)
	c.cfgs[i].heldFromStart = nil
	release := heldRelease(t, &n.hold, held)

	// Raft knows the leader and has passed everything committed to the
	// (held) state machine: all that the old readiness looked at.
	waitFor(t, "the restarted follower's Raft to reach the commit", 15*time.Second, func() bool {
		_, id := n.raft.LeaderWithID()
		return id != "" && n.raft.CommitIndex() >= committed && n.raft.AppliedIndex() >= committed
	})
	if _, err := n.FSM().ClusterValue("while-down-19"); err == nil {
		t.Fatal("the held state machine applied the write: the test no longer holds it")
	}
	if n.Ready() {
		t.Fatal("ready while its state machine lags what the cluster committed before it started")
	}
	release()
	waitFor(t, "the follower to catch up and be ready", 15*time.Second, n.Ready)
	if v, err := n.FSM().ClusterValue("while-down-19"); err != nil || string(v) != "v" {
		t.Fatalf("ready without the write committed before it started: %q %v", v, err)
	}
}

// A node closed while its catch-up waits on the leader closes at once, not
// when the wait's deadline ends: the leader's state machine is held, so the
// no-op the restarted follower proposes is never answered.
func TestCloseDuringCatchUpDoesNotWait(t *testing.T) {
	c := newTestClusterWith(t, func(cfg *Config) { cfg.ApplyTimeout = time.Minute })
	leader, f := c.leader(), c.follower()
	i := c.index(f)
	c.stop(f)
	holdApply(t, leader)
	n := c.restart(i)
	waitFor(t, "the restarted follower to know the leader", 15*time.Second, func() bool {
		_, id := n.raft.LeaderWithID()
		return id != ""
	})
	if n.Ready() {
		t.Fatal("ready although the leader never answered its catch-up")
	}
	start := time.Now()
	c.stop(n)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("close took %v while the catch-up waited for the leader", d)
	}
}

// holdApply stalls n's state machine until the returned release is called
// or the test ends (before its cluster closes: cleanups run last first).
func holdApply(t testing.TB, n *Node) (release func()) {
	held := make(chan struct{})
	n.hold.ch.Store(&held)
	return heldRelease(t, &n.hold, held)
}

// heldRelease returns the idempotent release of hold h set to held.
func heldRelease(t testing.TB, h *applyHold, held chan struct{}) func() {
	var once sync.Once
	release := func() { once.Do(func() { h.ch.Store(nil); close(held) }) }
	t.Cleanup(release)
	return release
}
