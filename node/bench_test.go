package node

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// BenchmarkPropose measures the node's write path without HTTP: concurrent
// proposals of small commands on an in-process 3-node cluster (real TCP,
// mutual TLS, fsync on), half through the leader and half forwarded by a
// follower. Run with -benchtime=1x; each level runs 3 seconds.
// WAEDGE_BENCH_INFLIGHT and WAEDGE_BENCH_RPCS set Config.MaxInFlight and
// Config.MaxRPCsInFlight, to compare the batcher's and Raft's pipelining.
func BenchmarkPropose(b *testing.B) {
	c := newBenchCluster(b)
	for _, writers := range []int{1, 8, 64, 512} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			deadline := time.Now().Add(3 * time.Second)
			var mu sync.Mutex
			var lats []time.Duration
			var failed atomic.Int64
			before := c[0].Raft().LastIndex()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					n := c[w%2] // leader or a follower
					var local []time.Duration
					for i := 0; time.Now().Before(deadline); i++ {
						cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdPutClusterValue,
							raftfsm.PutClusterValue{Key: fmt.Sprintf("bench-%d-%d", w, i), Value: make([]byte, 100)})
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						res, err := n.Propose(ctx, cmd)
						cancel()
						if err != nil || res.Err != nil {
							failed.Add(1)
							continue
						}
						local = append(local, time.Since(t0))
					}
					mu.Lock()
					lats = append(lats, local...)
					mu.Unlock()
				}(w)
			}
			wg.Wait()
			el := time.Since(start)
			sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
			pct := func(p float64) float64 {
				if len(lats) == 0 {
					return 0
				}
				return float64(lats[min(len(lats)-1, int(float64(len(lats))*p))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(lats))/el.Seconds(), "writes/s")
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(failed.Load()), "failed")
			entries := c[0].Raft().LastIndex() - before
			if entries > 0 {
				b.ReportMetric(float64(len(lats))/float64(entries), "cmds/entry")
			}
		})
	}
}

// newBenchCluster returns [leader, follower, follower].
func newBenchCluster(b *testing.B) []*Node {
	tune := func(c *Config) {
		if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_INFLIGHT")); err == nil {
			c.MaxInFlight = v
		}
		if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_RPCS")); err == nil {
			c.MaxRPCsInFlight = v
		}
	}
	cfg1 := testConfig(b, b.TempDir())
	tune(&cfg1)
	cfg1.HeartbeatTimeout, cfg1.ElectionTimeout, cfg1.LeaderLeaseTimeout = 0, 0, 0
	n1 := startNode(b, cfg1)
	waitFor(b, "leader", 10*time.Second, n1.Ready)
	nodes := []*Node{n1}
	for i := 0; i < 2; i++ {
		tok, err := n1.CreateJoinToken(context.Background(), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		cfg := testConfig(b, b.TempDir())
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 0, 0, 0
		cfg.Join, cfg.JoinToken = []string{cfg1.ClusterAddr}, tok
		tune(&cfg)
		nodes = append(nodes, startNode(b, cfg))
	}
	for _, n := range nodes {
		waitFor(b, "ready", 15*time.Second, n.Ready)
	}
	if !n1.IsLeader() {
		b.Fatal("node 1 is not the leader")
	}
	return []*Node{n1, nodes[1], nodes[2]}
}
