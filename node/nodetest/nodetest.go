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
	"github.com/waedge/waedge/internal/poll"
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

// PatientConfig is Config with Raft timeouts long enough that a CPU-starved
// test machine (CI at load 20–40 on two cores, race detector on) does not
// lose its leader in the middle of a test: for tests about something other
// than failover, which Config's fast timeouts would otherwise interrupt with
// "leader changed" answers. A proposal without a deadline of its own gets a
// minute instead of 10 s: there, one 1 MiB media chunk can take longer to
// commit.
func PatientConfig(t testing.TB) node.Config {
	cfg := Config(t)
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 2*time.Second, 2*time.Second, time.Second
	cfg.ApplyTimeout = time.Minute
	return cfg
}

// Cluster starts size nodes with Config: the first bootstraps, the others
// join.
func Cluster(t testing.TB, size int) []*node.Node {
	t.Helper()
	return cluster(t, size, Config)
}

// PatientCluster starts size nodes with PatientConfig: the first
// bootstraps, the others join.
func PatientCluster(t testing.TB, size int) []*node.Node {
	t.Helper()
	return cluster(t, size, PatientConfig)
}

func cluster(t testing.TB, size int, config func(testing.TB) node.Config) []*node.Node {
	t.Helper()
	cfg1 := config(t)
	n1 := Start(t, cfg1)
	WaitFor(t, "first node ready", 30*time.Second, n1.Ready)
	nodes := []*node.Node{n1}
	for i := 1; i < size; i++ {
		// A join may cost the young cluster its leader on a loaded machine;
		// the token's write then has an unknown outcome, and a new token is
		// as good (an unused one expires).
		var tok string
		var err error
		if !poll.Wait(30*time.Second, func() bool {
			tok, err = n1.CreateJoinToken(context.Background(), time.Hour)
			return err == nil
		}) {
			t.Fatalf("join token: %v", err)
		}
		cfg := config(t)
		cfg.Join, cfg.JoinToken = []string{cfg1.ClusterAddr}, tok
		nodes = append(nodes, Start(t, cfg))
	}
	for _, n := range nodes {
		WaitFor(t, "node ready", 30*time.Second, n.Ready)
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
