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
// vouches only for the leader.
func TestStatusReachability(t *testing.T) {
	c := newTestCluster(t)
	leader := leaderOf(c.nodes...)
	var followers []*Node
	for _, n := range c.nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	waitFor(t, "every member reachable from the leader", 10*time.Second, func() bool {
		v := memberView(t, leader)
		return v[leader.ID()].Reachability == reachSelf &&
			v[followers[0].ID()].Reachability == reachable && v[followers[1].ID()].Reachability == reachable
	})
	fv := memberView(t, followers[0])
	if fv[leader.ID()].Reachability != reachable || fv[followers[1].ID()].Reachability != reachUnknown {
		t.Fatalf("a follower's view: %+v", fv)
	}

	dead := followers[1]
	if err := dead.StopWithoutHandover(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stopped member shown unreachable", 10*time.Second, func() bool {
		if !leader.IsLeader() {
			return false
		}
		return memberView(t, leader)[dead.ID()].Reachability == reachUnreachable
	})
	v := memberView(t, leader)
	if m := v[dead.ID()]; m.LastContact == "" || m.Suffrage != "Voter" {
		t.Errorf("unreachable member: %+v (want its last contact and suffrage)", m)
	}
	if v[followers[0].ID()].Reachability != reachable {
		t.Errorf("the live follower: %+v", v[followers[0].ID()])
	}
}
