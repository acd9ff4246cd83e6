package node

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/pki"
	"github.com/waedge/waedge/raftfsm"
)

// CreateJoinToken mints a single-use join token valid for ttl. Only the hash
// of its secret is replicated.
func (n *Node) CreateJoinToken(ctx context.Context, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	tok, err := pki.NewJoinToken(sha256.Sum256(n.caCert.Raw))
	if err != nil {
		return "", err
	}
	now := time.Now()
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdCreateJoinToken, raftfsm.CreateJoinToken{
		TokenID: tok.ID, SecretHash: tok.SecretHash(), ExpiresAt: now.Add(ttl).UnixMilli(), CreatedAt: now.UnixMilli(),
	})
	if err != nil {
		return "", err
	}
	if _, err := raftfsm.Outcome(n.Propose(ctx, cmd)); err != nil {
		return "", err
	}
	return tok.String(), nil
}

// RemoveNode revokes a member's certificate and removes it from the Raft
// configuration. Forwarded to the leader when called on a follower.
func (n *Node) RemoveNode(ctx context.Context, nodeID string) error {
	if n.raft.State() != raft.Leader {
		return n.forwardAdmin(ctx, &rpcRequest{Op: "remove", Join: &joinRequest{NodeID: nodeID}})
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	found := false
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == nodeID {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrNodeNotFound, nodeID)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdRemoveMember, raftfsm.RemoveMember{NodeID: nodeID, At: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(n.Propose(ctx, cmd)); err != nil {
		return err
	}
	if err := n.raft.RemoveServer(raft.ServerID(nodeID), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("remove server: %w", err)
	}
	return nil
}

// TransferLeadership hands leadership to another voter.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if n.raft.State() != raft.Leader {
		return n.forwardAdmin(ctx, &rpcRequest{Op: "transfer"})
	}
	if err := n.raft.LeadershipTransfer().Error(); err != nil {
		return fmt.Errorf("leadership transfer: %w", err)
	}
	return nil
}

// forwardAdmin sends a leader-only operation to the leader.
func (n *Node) forwardAdmin(ctx context.Context, req *rpcRequest) error {
	leaderAddr, _ := n.raft.LeaderWithID()
	if leaderAddr == "" {
		return ErrNoLeader
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		defer cancel()
	}
	resp, err := n.pool.call(ctx, string(leaderAddr), req)
	if err != nil {
		return err
	}
	return rpcError(resp.ErrKind, resp.Err)
}
