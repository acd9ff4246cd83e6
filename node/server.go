package node

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// serveRPC answers requests from an authenticated member on one connection,
// one at a time, until it closes.
func (n *Node) serveRPC(conn net.Conn, peerID string) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	var frame frameCodec
	for {
		var req rpcRequest
		if err := frame.read(r, &req, maxFrame); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
		start := time.Now()
		resp := n.dispatchRPC(ctx, peerID, &req)
		if req.Op == "propose" {
			n.stages.since(stageServeRPC, start)
		}
		cancel()
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := frame.write(w, resp); err != nil {
			return
		}
		_ = conn.SetWriteDeadline(time.Time{})
	}
}

func (n *Node) dispatchRPC(ctx context.Context, peerID string, req *rpcRequest) *rpcResponse {
	switch req.Op {
	case "propose":
		if n.raft.State() != raft.Leader {
			return &rpcResponse{ErrKind: errKindNotLeader, Err: "not the leader"}
		}
		for _, c := range req.Cmds {
			if len(c) > n.cfg.MaxCommandSize {
				return &rpcResponse{ErrKind: errKindTooLarge, Err: "command too large"}
			}
		}
		index, results, err := n.applyLocal(req.Cmds)
		if err != nil {
			if errors.Is(err, errRetryable) {
				return &rpcResponse{ErrKind: errKindNotLeader, Err: "not the leader"}
			}
			if errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrClosed) {
				return &rpcResponse{ErrKind: errKindUnknown, Err: "leadership lost or shutting down before the outcome was known"}
			}
			return &rpcResponse{ErrKind: errKindInternal, Err: "apply failed"}
		}
		return &rpcResponse{Index: index, Results: toWire(results)}
	case "join":
		if req.Join == nil {
			return &rpcResponse{ErrKind: errKindJoinRefused, Err: "empty join request"}
		}
		return n.handleJoin(ctx, req.Join)
	case "add":
		return n.handleAdd(ctx, peerID, req.Join, false)
	case "add-forwarded":
		return n.handleAdd(ctx, peerID, req.Join, true)
	case "remove":
		if req.Join == nil {
			return &rpcResponse{ErrKind: errKindInternal, Err: "empty remove request"}
		}
		if err := n.RemoveNode(ctx, req.Join.NodeID); err != nil {
			return errorResponse(err)
		}
		return &rpcResponse{}
	case "version":
		return &rpcResponse{Version: n.version()}
	case "transfer":
		if err := n.TransferLeadership(ctx); err != nil {
			return errorResponse(err)
		}
		return &rpcResponse{}
	default:
		n.logger.Warn("unknown cluster RPC", slog.String("op", req.Op), slog.String("peer_node_id", peerID))
		return &rpcResponse{ErrKind: errKindInternal, Err: "unknown operation"}
	}
}

func errorResponse(err error) *rpcResponse {
	switch {
	case errors.Is(err, ErrNoLeader):
		return &rpcResponse{ErrKind: errKindNoLeader, Err: err.Error()}
	case errors.Is(err, ErrNodeNotFound):
		return &rpcResponse{ErrKind: errKindNodeNotFound, Err: err.Error()}
	default:
		return &rpcResponse{ErrKind: errKindInternal, Err: err.Error()}
	}
}
