package node

import (
	"context"
	"testing"
	"time"
)

// TestStatusShowsStoppedMemberUnreachable: every member of a healthy
// cluster is reported reachable; once a follower stops (as a crash looks
// to its peers), the others report it unreachable within seconds while
// Raft still lists it as a voter.
func TestStatusShowsStoppedMemberUnreachable(t *testing.T) {
	c := newTestCluster(t)
	l := c.leader()
	f := c.follower()
	reach := func(n *Node) map[string]bool {
		st, err := n.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, m := range st.Members {
			out[m.ID] = m.Reachable
		}
		return out
	}
	for id, ok := range reach(l) {
		if !ok {
			t.Fatalf("healthy member %s reported unreachable", id)
		}
	}
	dead := f.ID()
	if err := f.StopWithoutHandover(); err != nil {
		t.Fatal(err)
	}
	c.nodes[c.index(f)] = nil
	start := time.Now()
	waitFor(t, "the stopped member reported unreachable", 5*time.Second, func() bool {
		r := reach(l)
		return !r[dead] && r[l.ID()]
	})
	t.Logf("stopped member reported unreachable after %v", time.Since(start).Round(time.Millisecond))
}
