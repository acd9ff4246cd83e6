package node

import (
	"errors"

	"github.com/waedge/waedge/cluster"
)

// Errors returned by the node. The cluster-level ones are the same values as
// package cluster's, so errors.Is works in every layer.
var (
	// ErrNoLeader: no leader is known (election in progress or no quorum).
	ErrNoLeader = cluster.ErrNoLeader
	// ErrClosed: the node is shutting down.
	ErrClosed = cluster.ErrClosed
	// ErrNodeNotFound: the named node is not a member.
	ErrNodeNotFound = cluster.ErrNodeNotFound
	// ErrTooLarge: a proposed command exceeds MaxCommandSize.
	ErrTooLarge = cluster.ErrTooLarge
	// ErrOutcomeUnknown: the write's outcome cannot be confirmed (leadership
	// lost before it was known, or committed but not applied here in time).
	ErrOutcomeUnknown = cluster.ErrOutcomeUnknown
)

// Errors of joining a cluster.
var (
	// ErrJoinRefused: the cluster refused the join token (unknown, expired,
	// already used, or the node was removed).
	ErrJoinRefused = errors.New("join refused by cluster")
	// ErrJoinFailed: no join target could be reached or none answered.
	ErrJoinFailed = errors.New("could not join cluster")
	// ErrNotAuthorized: a peer presented no certificate or a revoked one.
	ErrNotAuthorized = errors.New("peer not authorized")
	// ErrBadConfig: the node configuration is invalid.
	ErrBadConfig = errors.New("invalid node configuration")
)
