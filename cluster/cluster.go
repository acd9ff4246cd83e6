// Package cluster holds the vocabulary shared by the node that runs the Raft
// cluster and the layers that use it (the web API, the CLI): the status
// report, the operations a caller may ask of the cluster, and their errors.
//
// It has no behaviour of its own, so that web and node can agree on types
// without importing each other.
package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// Errors shared by every implementation of Cluster.
var (
	// ErrNoLeader means the cluster has no known leader right now (election
	// in progress or quorum lost); the caller may retry.
	ErrNoLeader = errors.New("cluster has no leader")
	// ErrNotReady means this node is not yet a caught-up member of a cluster.
	ErrNotReady = errors.New("node is not ready")
	// ErrNodeNotFound means the named node is not a member of the cluster.
	ErrNodeNotFound = errors.New("node is not a cluster member")
	// ErrClosed means the node is shutting down.
	ErrClosed = errors.New("node is closed")
	// ErrTooLarge means a proposed command exceeds the size limit.
	ErrTooLarge = errors.New("command too large")
	// ErrOutcomeUnknown means a write was handed to Raft but its outcome
	// cannot be confirmed to the caller: the leader lost its leadership
	// before it learnt it (the write may or may not be committed), or the
	// write committed but the node that took it did not apply it in time.
	// It is never retried on the caller's behalf.
	ErrOutcomeUnknown = errors.New("the write's outcome is unknown")
)

// Member describes one server in the Raft configuration.
type Member struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	// Reachability is "self", "reachable" or "unreachable": from Raft's
	// contact (a leader hears from every member, a follower only from the
	// leader) and from a mutual-TLS probe of the member's cluster port by
	// the reporting node (Reachable), which settles the other followers;
	// "unknown" only when neither could be asked.
	Reachability string `json:"reachability"`
	// LastContact is how long ago the member last answered ("never" when
	// it has not since this node started or took the lead); empty for
	// self and unknown.
	LastContact string `json:"last_contact,omitempty"`
	// Reachable: the member answered a mutual-TLS handshake from the
	// reporting node just now (always true for the reporting node).
	Reachable bool `json:"reachable"`
	// ProbeRTT is how long that handshake took.
	ProbeRTT string `json:"probe_rtt,omitempty"`
	// Version is the member's binary version as it answered the probe;
	// empty when it could not be asked (unreachable, or a binary too old
	// to tell).
	Version string `json:"version,omitempty"`
}

// Status is a point-in-time report of one node's view of the cluster.
type Status struct {
	NodeID       string   `json:"node_id"`
	State        string   `json:"state"`
	LeaderID     string   `json:"leader_id"`
	LeaderAddr   string   `json:"leader_address"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	LastContact  string   `json:"last_contact,omitempty"`
	Ready        bool     `json:"ready"`
	Members      []Member `json:"members"`
}

// Cluster is what the upper layers may ask of the node.
type Cluster interface {
	// Propose replicates one encoded raftfsm command. It returns only after
	// the command is committed by a quorum and applied on this node, so a
	// read on this node afterwards sees it. Writes reaching a follower are
	// forwarded to the leader transparently.
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	// Status reports this node's view of the cluster.
	Status(ctx context.Context) (Status, error)
	// CreateJoinToken mints a single-use join token valid for ttl.
	CreateJoinToken(ctx context.Context, ttl time.Duration) (string, error)
	// RemoveNode removes a member and revokes its certificate.
	RemoveNode(ctx context.Context, nodeID string) error
	// TransferLeadership asks the leader to hand leadership to another voter.
	TransferLeadership(ctx context.Context) error
	// Ready reports whether this node is a member with a known leader and
	// has applied everything committed that it knows of (a write on its
	// way to the state machine is given a moment: /readyz).
	Ready() bool
	// CaughtUp is Ready with no such moment: false while anything this
	// node knows to be committed is not applied yet.
	CaughtUp() bool
	// FSM gives read access to this node's replica of the state.
	FSM() *raftfsm.FSM
}

// StageTiming is how often one part of a write's life happened on a node
// since it started, and how long it took in total (node.CommitStages; the
// metrics export it as waedge_commit_stage_seconds).
type StageTiming struct {
	// Stage names the part: queue, forward, raft_apply, wait_applied,
	// serve_forwarded, log_store or fsm_apply (docs/monitoring.md).
	Stage string
	Count uint64
	Total time.Duration
}
