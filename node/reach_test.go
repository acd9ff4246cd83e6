package node

import (
	"context"
	"fmt"
	"maps"
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

// TestStatusReportsMemberVersions: every member reports its binary
// version through the probe, so any node's status shows each member's
// (here three different ones, as during a rolling upgrade); a member that
// stopped has none.
func TestStatusReportsMemberVersions(t *testing.T) {
	i := 0
	c := newTestClusterWith(t, func(cfg *Config) { i++; cfg.Version = fmt.Sprintf("1.%d.0 (commit c%d)", i, i) })
	want := map[string]string{}
	for k, n := range c.nodes {
		want[n.ID()] = c.cfgs[k].Version
	}
	versions := func(n *Node) map[string]string {
		st, err := n.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, m := range st.Members {
			out[m.ID] = m.Version
		}
		return out
	}
	// The probe learns a member's version on its first contact: poll.
	for _, n := range c.nodes {
		waitFor(t, "node "+n.ID()+" reporting every member's version", 10*time.Second, func() bool {
			return maps.Equal(versions(n), want)
		})
	}
	f := c.follower()
	dead := f.ID()
	if err := f.StopWithoutHandover(); err != nil {
		t.Fatal(err)
	}
	c.nodes[c.index(f)] = nil
	l := c.leader()
	waitFor(t, "the stopped member without a version", 5*time.Second, func() bool {
		v := versions(l)
		return v[dead] == "" && v[l.ID()] == want[l.ID()]
	})
}
