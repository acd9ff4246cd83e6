package node

import (
	"sync/atomic"
	"time"
)

// applyLagGrace is how long a committed entry may wait for this node's state
// machine before the node stops calling itself ready. Every write opens a gap
// between Raft's commit index and its applied index for the time the entry
// takes to reach the state machine (microseconds to a few milliseconds under
// load); a node that is behind stays behind for longer than that.
const applyLagGrace = 2 * time.Second

// applyLag tells a node that trails its commit index — one whose state
// machine has not reached, after applyLagGrace, an index that was committed
// back then — from one that merely has a write in flight. Ready used to treat
// any gap as lagging, so /readyz blinked whenever it was asked during a write.
// (CaughtUp still treats any gap as lagging: see Node.CaughtUp.)
type applyLag struct {
	mark atomic.Pointer[lagMark]
}

// lagMark is a commit index seen while the applied index trailed it, and
// when it was seen.
type lagMark struct {
	index uint64
	at    time.Time
}

// behind reports whether the applied index still trails a commit index that
// was observed at least applyLagGrace before now. The first look at a gap
// only notes it; a later look that finds the noted index applied notes the
// current gap instead, so a node that keeps up under steady writes never
// counts as behind.
func (l *applyLag) behind(applied, commit uint64, now time.Time) bool {
	if applied >= commit {
		l.mark.Store(nil)
		return false
	}
	m := l.mark.Load()
	if m == nil || applied >= m.index {
		l.mark.Store(&lagMark{index: commit, at: now})
		return false
	}
	return now.Sub(m.at) >= applyLagGrace
}
