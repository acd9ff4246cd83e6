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
