package node

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// peerContacts records, per peer, when it last answered an AppendEntries
// (heartbeats included) sent by this node. Raft keeps this per follower
// but does not expose it; `cluster status` and the metrics need it to tell
// a reachable voter from a dead one.
type peerContacts struct {
	mu   sync.Mutex
	last map[raft.ServerID]time.Time
	// leaderChanges counts the leader changes this node observed.
	leaderChanges atomic.Uint64
}

func newPeerContacts() *peerContacts {
	return &peerContacts{last: map[raft.ServerID]time.Time{}}
}

func (p *peerContacts) saw(id raft.ServerID) {
	now := time.Now()
	p.mu.Lock()
	p.last[id] = now
	p.mu.Unlock()
}

func (p *peerContacts) snapshot() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.last))
	for id, t := range p.last {
		out[string(id)] = t
	}
	return out
}

// contactTransport is the Raft transport with every answered AppendEntries
// recorded in contacts. Heartbeats always go through AppendEntries (also
// with pipelining on), so a live follower is seen at least every
// heartbeat interval while this node leads.
type contactTransport struct {
	pipelinedTransport
	contacts *peerContacts
}

// AppendEntries sends one AppendEntries and records the answer's arrival.
func (t contactTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.pipelinedTransport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.contacts.saw(id)
	}
	return err
}

// PeerContacts returns when each peer last answered this node's Raft
// AppendEntries (only a leader sends them, so a follower's map holds what
// it saw while it last led).
func (n *Node) PeerContacts() map[string]time.Time { return n.contacts.snapshot() }

// LeaderChanges is how many leader changes this node has observed since it
// started.
func (n *Node) LeaderChanges() uint64 { return n.contacts.leaderChanges.Load() }

// Reachability of a member as this node sees it (cluster.Member).
const (
	reachSelf        = "self"
	reachable        = "reachable"
	reachUnreachable = "unreachable"
	reachUnknown     = "unknown"
)

// unreachableAfter is how long a member may stay silent before status
// reports it unreachable: a live one answers every heartbeat (a tenth of
// the heartbeat timeout), so three heartbeat timeouts is a wide margin for
// a busy machine.
func (n *Node) unreachableAfter() time.Duration {
	return max(3*n.cfg.HeartbeatTimeout, time.Second)
}

// reachability says how this node last heard from member id: a leader
// from its AppendEntries answers, a follower only from the leader.
func (n *Node) reachability(id raft.ServerID, leaderID raft.ServerID, isLeader bool, contacts map[string]time.Time) (string, string) {
	if string(id) == n.id {
		return reachSelf, ""
	}
	var last time.Time
	switch {
	case isLeader:
		last = contacts[string(id)]
	case id == leaderID:
		last = n.raft.LastContact()
	default:
		return reachUnknown, ""
	}
	if last.IsZero() {
		return reachUnreachable, "never"
	}
	since := time.Since(last)
	if since > n.unreachableAfter() {
		return reachUnreachable, since.Round(time.Millisecond).String()
	}
	return reachable, since.Round(time.Millisecond).String()
}
