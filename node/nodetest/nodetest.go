// Package nodetest starts real in-process clusters for tests of the
// packages above node (loopback TCP, mutual TLS, temp dirs).
package nodetest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/freeport"
	"github.com/waedge/waedge/node"
)

// WaitFor polls cond until it holds or timeout passes.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return freeport.Addr(t)
}

// Config returns a fast-failover node configuration in a temp dir.
func Config(t testing.TB) node.Config {
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("WAEDGE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return node.Config{
		DataDir: t.TempDir(), ClusterAddr: freeAddr(t), Logger: logger,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond, JoinTimeout: 20 * time.Second,
	}
}

// Start starts one node and closes it at the end of the test.
func Start(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// Cluster starts size nodes: the first bootstraps, the others join.
func Cluster(t testing.TB, size int) []*node.Node {
	t.Helper()
	cfg1 := Config(t)
	n1 := Start(t, cfg1)
	WaitFor(t, "first node ready", 10*time.Second, n1.Ready)
	nodes := []*node.Node{n1}
	for i := 1; i < size; i++ {
		tok, err := n1.CreateJoinToken(context.Background(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config(t)
		cfg.Join, cfg.JoinToken = []string{cfg1.ClusterAddr}, tok
		nodes = append(nodes, Start(t, cfg))
	}
	for _, n := range nodes {
		WaitFor(t, "node ready", 15*time.Second, n.Ready)
	}
	return nodes
}

// Leader waits for and returns the leader among nodes (nil entries skipped).
func Leader(t testing.TB, nodes []*node.Node) *node.Node {
	t.Helper()
	var l *node.Node
	WaitFor(t, "a leader", 10*time.Second, func() bool {
		for _, n := range nodes {
			if n != nil && n.IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// Follower returns the first of nodes that is not leader (nil entries
// skipped), or nil when there is none.
func Follower(nodes []*node.Node, leader *node.Node) *node.Node {
	for _, n := range nodes {
		if n != nil && n != leader {
			return n
		}
	}
	return nil
}
