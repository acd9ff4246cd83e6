package node

import (
	"fmt"
	"testing"
	"time"
)

// A gap between the commit and applied indexes is a write in flight until
// the index committed when it was first seen has waited applyLagGrace.
func TestApplyLagCountsOnlyAGapThatOutlastsTheGrace(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	var l applyLag
	if l.behind(10, 10, t0) {
		t.Fatal("behind with nothing in flight")
	}
	if l.behind(10, 12, t0) {
		t.Fatal("behind at the first sight of a gap")
	}
	if l.behind(10, 14, t0.Add(applyLagGrace-time.Millisecond)) {
		t.Fatal("behind before the grace ended")
	}
	if !l.behind(11, 14, t0.Add(applyLagGrace)) {
		t.Fatal("not behind: index 12, committed a grace ago, is still not applied")
	}
	// Applying past the noted index notes the current gap afresh: steady
	// writes that keep being applied never count as behind.
	if l.behind(12, 20, t0.Add(3*applyLagGrace)) {
		t.Fatal("behind although the noted index was applied")
	}
	if !l.behind(19, 25, t0.Add(4*applyLagGrace)) {
		t.Fatal("not behind: index 20 was noted a grace ago and is still not applied")
	}
	if l.behind(25, 25, t0.Add(5*applyLagGrace)) {
		t.Fatal("behind once everything committed is applied")
	}
	if l.behind(25, 30, t0.Add(10*applyLagGrace)) {
		t.Fatal("an old gap, closed since, counted against a new one")
	}
}

// A follower whose state machine stops applying stays ready while the gap
// could be a write in flight, is not ready once the gap outlasts the grace,
// and is ready again when it has caught up. Before, any gap made Ready false,
// so /readyz blinked under every write (a start-up check in e2e failed on it).
// CaughtUp keeps the strict reading for the unknown-token answer.
func TestFollowerBehindTheCommitIndexIsNotReadyAfterTheGrace(t *testing.T) {
	c := newTestCluster(t)
	leader, f := c.leader(), c.follower()
	waitFor(t, "the follower to be ready", 15*time.Second, f.Ready)
	release := holdApply(t, f)
	// Raft hands committed entries to the state machine through a buffered
	// channel; with the state machine held, enough single-entry commits fill
	// it and the applied index stops behind the commit index. A gap seen
	// while the applied index still moves is only a write in flight.
	k, still, last := 0, 0, f.raft.AppliedIndex()
	waitFor(t, "the held follower's applied index to stop behind its commit index", 60*time.Second, func() bool {
		mustPropose(t, leader, putValue(t, fmt.Sprintf("lag-%d", k), "v"))
		k++
		if a := f.raft.AppliedIndex(); a != last {
			last, still = a, 0
			return false
		}
		still++
		return still >= 32 && last < f.raft.CommitIndex()
	})
	seen := time.Now()
	if !f.Ready() {
		t.Fatal("not ready at the first sight of a gap that may be a write in flight")
	}
	if f.CaughtUp() {
		t.Fatal("caught up with a committed entry not applied: an unknown token in it would be refused as wrong")
	}
	waitFor(t, "the follower to stop being ready", 15*time.Second, func() bool { return !f.Ready() })
	if d := time.Since(seen); d < applyLagGrace {
		t.Fatalf("not ready %v after the gap was seen, before the grace of %v", d, applyLagGrace)
	}
	release()
	waitFor(t, "the follower to catch up and be ready again", 15*time.Second, f.Ready)
	waitFor(t, "the follower to be caught up", 15*time.Second, f.CaughtUp)
}
