package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft floor: the bare reference's cluster (bare.go) with a state
// machine that stores nothing. Whatever a state machine does on apply
// only adds to it, so floor ÷ bare is the largest ratio to bare any state
// machine on this Raft library and log store reaches on this machine with
// its clients on the leader.
//
// The spread floor puts the clients where waedge's bench puts its senders
// (sender s on node s mod 3): a follower forwards each write to the
// leader over a small RPC of its own and answers only once it applied the
// entry itself — waedge's read-your-writes rule — so it pays what a
// forwarded waedge write pays in Raft: the forward round trip and the
// follower learning the commit index.

// appliedIndex is a node's last applied log index, and a way to wait for
// it to reach an index.
type appliedIndex struct {
	mu      sync.Mutex
	index   uint64
	changed chan struct{} // closed (and replaced) when index moves
}

func (a *appliedIndex) set(i uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i <= a.index {
		return
	}
	a.index = i
	close(a.changed)
	a.changed = make(chan struct{})
}

// wait returns once the applied index is at least i.
func (a *appliedIndex) wait(ctx context.Context, i uint64) error {
	for {
		a.mu.Lock()
		done, ch := a.index >= i, a.changed
		a.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// floorFSM stores nothing: applying a batch only notes its last index.
type floorFSM struct{ applied *appliedIndex }

// ApplyBatch implements raft.BatchingFSM.
func (f floorFSM) ApplyBatch(logs []*raft.Log) []any {
	if len(logs) > 0 {
		f.applied.set(logs[len(logs)-1].Index)
	}
	return make([]any, len(logs))
}

// Apply implements raft.FSM.
func (f floorFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// Snapshot implements raft.FSM: there is no state.
func (floorFSM) Snapshot() (raft.FSMSnapshot, error) { return bareSnapshot{}, nil }

// Restore implements raft.FSM: there is no state.
func (floorFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

// forwardService is the forward RPC a node of the spread floor serves:
// the leader applies a follower's write and answers with its log index.
type forwardService struct{ r *raft.Raft }

// Apply applies msg on this node (the leader) and sets *index to its log
// index once the leader applied it.
func (s *forwardService) Apply(msg []byte, index *uint64) error {
	f := s.r.Apply(msg, 10*time.Second)
	if err := f.Error(); err != nil {
		return err
	}
	*index = f.Index()
	return nil
}

// serveForward serves r's forward RPC on a loopback port (net/rpc over
// TCP, no TLS, like the bare reference's Raft transport) and returns its
// address and how to stop it.
func serveForward(r *raft.Raft) (string, func() error, error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Forward", &forwardService{r}); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { srv.ServeConn(c) })
		}
	})
	stop := func() error {
		err := ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
		return err
	}
	return ln.Addr().String(), stop, nil
}

// runSpread measures senders clients, sender s on node s mod nodes, each
// writing one message per Raft entry and waiting until its own node
// applied it: on the leader a plain Apply, on a follower the forward RPC
// to the leader (one connection per follower, calls multiplexed on it),
// then the wait for the follower's own apply. Only a floor cluster built
// with forward can run it.
func (b *bareRaft) runSpread(ctx context.Context, senders int, duration time.Duration, c *counter) (Load, error) {
	if len(b.fwdAddrs) != len(b.nodes) || len(b.applied) != len(b.nodes) {
		return Load{}, errors.New("not a spread floor cluster")
	}
	leaderAt := -1
	for i, r := range b.nodes {
		if r.State() == raft.Leader {
			leaderAt = i
		}
	}
	if leaderAt < 0 {
		return Load{}, raft.ErrNotLeader
	}
	clients := make([]*rpc.Client, len(b.nodes))
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				_ = cl.Close()
			}
		}
	}()
	for i := range b.nodes {
		if i == leaderAt {
			continue
		}
		cl, err := rpc.Dial("tcp", b.fwdAddrs[leaderAt])
		if err != nil {
			return Load{}, fmt.Errorf("forward connection of node %d: %w", i, err)
		}
		clients[i] = cl
	}
	leader := b.nodes[leaderAt]
	return closedLoop(ctx, senders, duration, c, func(ctx context.Context, sender int, seq int64) error {
		msg := bareMessage(seq)
		on := sender % len(b.nodes)
		if on == leaderAt {
			return c.note(leader.Apply(msg, 10*time.Second).Error())
		}
		var index uint64
		if err := clients[on].Call("Forward.Apply", msg, &index); err != nil {
			return c.note(err)
		}
		return c.note(b.applied[on].wait(ctx, index))
	}), nil
}
