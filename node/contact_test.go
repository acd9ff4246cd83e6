package node

import (
	"context"
	"testing"
	"time"

	"github.com/waedge/waedge/cluster"
)

func memberView(t *testing.T, n *Node) map[string]cluster.Member {
	t.Helper()
	st, err := n.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cluster.Member{}
	for _, m := range st.Members {
		out[m.ID] = m
	}
	return out
}

// TestStatusReachability: the leader's status reports every member it
// hears from as reachable; a member that stops answering (as after kill
// -9) turns unreachable, it is never shown as a healthy voter. A follower
// hears only from the leader through Raft; the mutual-TLS probe settles
// the other followers, so it too tells a live member from a dead one.
func TestStatusReachability(t *testing.T) {
	c := newTestCluster(t)
	// others returns the nodes of live other than n.
	others := func(n *Node, live []*Node) []*Node {
		var out []*Node
		for _, m := range live {
			if m != n {
				out = append(out, m)
			}
		}
		return out
	}
	// Elections may happen on a loaded machine: each check takes the
	// leader of the moment.
	waitFor(t, "the leader sees every member, a follower sees the leader", 20*time.Second, func() bool {
		leader := leaderOf(c.nodes...)
		if leader == nil {
			return false
		}
		fs := others(leader, c.nodes)
		v, fv := memberView(t, leader), memberView(t, fs[0])
		return v[leader.ID()].Reachability == reachSelf &&
			v[fs[0].ID()].Reachability == reachable && v[fs[1].ID()].Reachability == reachable &&
			fv[leader.ID()].Reachability == reachable && fv[fs[1].ID()].Reachability == reachable &&
			fv[fs[0].ID()].Reachability == reachSelf
	})

	dead := others(leaderOf(c.nodes...), c.nodes)[0]
	if err := dead.StopWithoutHandover(); err != nil {
		t.Fatal(err)
	}
	live := others(dead, c.nodes)
	var v map[string]cluster.Member
	waitFor(t, "the stopped member shown unreachable by the leader", 20*time.Second, func() bool {
		leader := leaderOf(live...)
		if leader == nil {
			return false
		}
		v = memberView(t, leader)
		fv := memberView(t, others(leader, live)[0])
		return v[dead.ID()].Reachability == reachUnreachable && v[others(leader, live)[0].ID()].Reachability == reachable &&
			fv[dead.ID()].Reachability == reachUnreachable && !fv[dead.ID()].Reachable
	})
	if m := v[dead.ID()]; m.LastContact == "" || m.Suffrage != "Voter" {
		t.Errorf("unreachable member: %+v (want its last contact and suffrage)", m)
	}
}
