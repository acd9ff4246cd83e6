package node

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/pki"
	"github.com/waedge/waedge/raftfsm"
)

// join obtains this node's certificate from the cluster named by cfg.Join,
// authenticating the cluster by the token's CA fingerprint and itself by the
// token's secret. Becoming a voter is a second step (requestAdd) taken once
// this node's Raft listens: a voter added before it can answer would stall a
// two-node cluster's commits.
func (n *Node) join(ctx context.Context, tok pki.JoinToken) error {
	key, keyPEM, err := pki.NewNodeKey()
	if err != nil {
		return err
	}
	pub, err := pki.MarshalPublicKey(key.Public())
	if err != nil {
		return err
	}
	req := &joinRequest{
		NodeID: n.id, Addr: n.cfg.AdvertiseAddr, TokenID: tok.ID, Secret: tok.Secret[:], PublicKey: pub,
	}
	cfg := pki.JoinClientTLSConfig(tok.CAFingerprint)
	var lastErr error
	for attempt := 0; ; attempt++ {
		for _, target := range n.cfg.Join {
			resp, err := n.joinOnce(ctx, target, cfg, req)
			if err != nil {
				err = notClusterPort(target, err)
			}
			if err == nil {
				if err := n.acceptMasterKey(resp.MasterKey); err != nil {
					return err
				}
				if err := n.writeTLS(resp.CACert, resp.NodeCert, keyPEM); err != nil {
					return err
				}
				if err := pki.WriteFileAtomic(n.cfg.path(fileJoinPending), []byte(tok.ID+"\n"), 0o600); err != nil {
					return err
				}
				_ = os.Remove(n.cfg.path(fileJoined))
				n.logger.Info("received node certificate", slog.String("via", target))
				return nil
			}
			if errors.Is(err, ErrJoinRefused) || errors.Is(err, pki.ErrFingerprintMismatch) || errors.Is(err, ErrNotClusterPort) {
				n.logger.Error("join failed", slog.String("via", target), slog.Any("err", err))
				return err
			}
			lastErr = err
			n.logger.Warn("join attempt failed; retrying", slog.String("via", target), slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrJoinFailed, lastErr)
		case <-time.After(time.Duration(min(attempt+1, 5)) * 300 * time.Millisecond):
		}
	}
}

func (n *Node) joinOnce(ctx context.Context, target string, cfg *tls.Config, req *joinRequest) (*joinResponse, error) {
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := dialTLS(target, cfg, hdrJoin, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if err := writeFrame(bufio.NewWriter(conn), req); err != nil {
		return nil, err
	}
	var resp rpcResponse
	if err := readFrame(bufio.NewReader(conn), &resp); err != nil {
		return nil, err
	}
	if err := rpcError(resp.ErrKind, resp.Err); err != nil {
		return nil, err
	}
	if resp.Join == nil {
		return nil, fmt.Errorf("%w: empty join response", ErrJoinFailed)
	}
	return resp.Join, nil
}

// maxJoinFrame bounds a join request, the only frame read from a peer
// that has not shown a member certificate (its token is checked after
// decoding). A real one is a few hundred bytes.
const maxJoinFrame = 64 << 10

// joinReadTimeout is how long a joiner may take to send its request.
const joinReadTimeout = 10 * time.Second

// serveJoin answers one join request arriving on the join protocol. A
// request announcing more than maxJoinFrame closes the connection
// unanswered.
func (n *Node) serveJoin(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(joinReadTimeout))
	var req joinRequest
	if err := readFrameMax(bufio.NewReader(conn), &req, maxJoinFrame); err != nil {
		if errors.Is(err, ErrTooLarge) {
			n.mux.warnLimited("join connection closed: request over the size limit",
				slog.String("peer_addr", conn.RemoteAddr().String()), slog.Int("limit", maxJoinFrame))
		}
		return
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := n.handleJoin(ctx, &req)
	_ = writeFrame(bufio.NewWriter(conn), resp)
}

// handleJoin admits the joiner on the leader, or forwards to the leader.
func (n *Node) handleJoin(ctx context.Context, req *joinRequest) *rpcResponse {
	if n.raft.State() != raft.Leader {
		leaderAddr, _ := n.raft.LeaderWithID()
		if leaderAddr == "" {
			return &rpcResponse{ErrKind: errKindNoLeader, Err: "no leader"}
		}
		resp, err := n.pool.call(ctx, string(leaderAddr), &rpcRequest{Op: "join", Join: req})
		if err != nil {
			return &rpcResponse{ErrKind: errKindNoLeader, Err: "leader unreachable"}
		}
		return resp
	}
	jr, err := n.admit(ctx, req)
	if err != nil {
		n.logger.Warn("join refused", slog.String("joiner_node_id", req.NodeID),
			slog.String("joiner_addr", req.Addr), slog.Any("err", err))
		kind := errKindInternal
		switch {
		case errors.Is(err, ErrJoinRefused):
			kind = errKindJoinRefused
		case errors.Is(err, ErrNoLeader), errors.Is(err, raft.ErrNotLeader):
			kind = errKindNoLeader
		}
		return &rpcResponse{ErrKind: kind, Err: err.Error()}
	}
	n.logger.Info("join token accepted; certificate issued", slog.String("joiner_node_id", req.NodeID))
	return &rpcResponse{Join: jr}
}

// admit checks the join token, issues the certificate and adds the voter.
func (n *Node) admit(ctx context.Context, req *joinRequest) (*joinResponse, error) {
	if !nodeIDPattern.MatchString(req.NodeID) {
		return nil, fmt.Errorf("%w: invalid node id", ErrJoinRefused)
	}
	if _, _, err := net.SplitHostPort(req.Addr); err != nil {
		return nil, fmt.Errorf("%w: invalid address", ErrJoinRefused)
	}
	pub, err := pki.ParsePublicKey(req.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid public key", ErrJoinRefused)
	}
	now := time.Now()
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdConsumeJoinToken, raftfsm.ConsumeJoinToken{
		TokenID: req.TokenID, SecretHash: sha256.Sum256(req.Secret), NodeID: req.NodeID, Now: now.UnixMilli(),
	})
	if err != nil {
		return nil, err
	}
	res, err := n.Propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Err == nil:
	case errors.Is(res.Err, raftfsm.ErrTokenUsed):
		// The same node retrying after a lost answer may use its token again;
		// anyone else, or a node removed since, may not.
		info, ierr := n.fsm.JoinTokenInfo(req.TokenID)
		if ierr != nil || info.UsedBy != req.NodeID || n.fsm.IsMemberRemoved(req.NodeID) {
			return nil, fmt.Errorf("%w: join token already used", ErrJoinRefused)
		}
	case errors.Is(res.Err, raftfsm.ErrTokenInvalid):
		return nil, fmt.Errorf("%w: join token unknown, expired or wrong", ErrJoinRefused)
	default:
		return nil, fmt.Errorf("%w: %w", ErrJoinRefused, res.Err)
	}
	ca, err := n.loadCA()
	if err != nil {
		return nil, err
	}
	certPEM, err := ca.IssueNodeCert(req.NodeID, pub, now)
	if err != nil {
		return nil, err
	}
	return &joinResponse{CACert: ca.CertPEM, NodeCert: certPEM, MasterKey: n.kek[:]}, nil
}

// requestAdd asks the cluster (over mutual TLS, with the certificate just
// received) to add this node as a voter, then records the join as done.
func (n *Node) requestAdd(ctx context.Context, tokenID string) error {
	req := &rpcRequest{Op: "add", Join: &joinRequest{NodeID: n.id, Addr: n.cfg.AdvertiseAddr}}
	var lastErr error
	for attempt := 0; ; attempt++ {
		for _, target := range n.cfg.Join {
			actx, cancel := context.WithTimeout(ctx, 15*time.Second)
			resp, err := n.pool.call(actx, target, req)
			cancel()
			if err == nil {
				err = rpcError(resp.ErrKind, resp.Err)
			}
			if err == nil {
				if err := pki.WriteFileAtomic(n.cfg.path(fileJoined), []byte(tokenID+"\n"), 0o600); err != nil {
					return err
				}
				_ = os.Remove(n.cfg.path(fileJoinPending))
				n.logger.Info("joined cluster", slog.String("via", target))
				return nil
			}
			if errors.Is(err, ErrJoinRefused) {
				return err
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrJoinFailed, lastErr)
		case <-time.After(time.Duration(min(attempt+1, 5)) * 300 * time.Millisecond):
		}
	}
}

// handleAdd adds the authenticated peer as a voter (leader only). A
// follower checks the joiner's certificate itself and forwards the request
// as "add-forwarded", which the leader accepts from any member.
func (n *Node) handleAdd(ctx context.Context, peerID string, req *joinRequest, forwarded bool) *rpcResponse {
	if req == nil || (!forwarded && req.NodeID != peerID) {
		return &rpcResponse{ErrKind: errKindJoinRefused, Err: "node id does not match certificate"}
	}
	if n.raft.State() != raft.Leader {
		leaderAddr, _ := n.raft.LeaderWithID()
		if leaderAddr == "" {
			return &rpcResponse{ErrKind: errKindNoLeader, Err: "no leader"}
		}
		resp, err := n.pool.call(ctx, string(leaderAddr), &rpcRequest{Op: "add-forwarded", Join: req})
		if err != nil {
			return &rpcResponse{ErrKind: errKindNoLeader, Err: "leader unreachable"}
		}
		return resp
	}
	if _, _, err := net.SplitHostPort(req.Addr); err != nil {
		return &rpcResponse{ErrKind: errKindJoinRefused, Err: "invalid address"}
	}
	if err := n.addVoter(req.NodeID, req.Addr); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return &rpcResponse{ErrKind: errKindNoLeader, Err: err.Error()}
		}
		return &rpcResponse{ErrKind: errKindInternal, Err: err.Error()}
	}
	n.logger.Info("voter added", slog.String("joiner_node_id", req.NodeID), slog.String("joiner_addr", req.Addr))
	return &rpcResponse{}
}

// loadCA reads the replicated cluster CA.
func (n *Node) loadCA() (*pki.CA, error) {
	certPEM, err := n.fsm.ClusterValue(valueCACert)
	if err != nil {
		return nil, fmt.Errorf("read cluster CA: %w", err)
	}
	keyPEM, err := n.fsm.ClusterValue(valueCAKey)
	if err != nil {
		return nil, fmt.Errorf("read cluster CA key: %w", err)
	}
	return pki.ParseCA(certPEM, keyPEM)
}

// addVoter adds id at address, idempotently: the same id and address is a
// no-op, the same id or the same address replaces the old entry.
func (n *Node) addVoter(id, address string) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	for _, s := range f.Configuration().Servers {
		sameID, sameAddr := string(s.ID) == id, string(s.Address) == address
		if sameID && sameAddr {
			return nil
		}
		if sameID || sameAddr {
			if err := n.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
				return fmt.Errorf("remove stale member %s: %w", s.ID, err)
			}
		}
	}
	if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(address), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("add voter: %w", err)
	}
	return nil
}
