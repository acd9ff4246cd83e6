package retention_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/retention"
)

// BenchmarkExpiryVsSends measures the effect of expiry on concurrent sends
// (issue 5) on a real in-process 3-node cluster (loopback TCP, mutual TLS,
// bbolt with fsync): N outbound messages past their 1-hour retention are
// preloaded through Raft (default 100,000; WAEDGE_BENCH_EXPIRE_N
// overrides), then 32 senders propose fresh CmdAcceptMessage commands
// (round robin over the three nodes, as API requests land on any node)
//
//   - for WAEDGE_BENCH_SEND_SECONDS (default 5) without expiry, then
//   - for exactly as long as the retention worker's run (RunOnce with the
//     leader's clock; default budget, WAEDGE_BENCH_EXPIRE_BUDGET overrides)
//     takes to expire the N messages.
//
// It reports p50/p99/max send latency and sends/s for both phases, and
// the expiry's duration. Run with -benchtime 1x.
//
//	go test ./retention/ -run '^$' -bench BenchmarkExpiryVsSends -benchtime 1x -timeout 30m
func BenchmarkExpiryVsSends(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_N")); err == nil && v > 0 {
		n = v
	}
	window := 5 * time.Second
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_SEND_SECONDS")); err == nil && v > 0 {
		window = time.Duration(v) * time.Second
	}
	budget := 0 // the worker's default (1,000, pausing between commands)
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_BUDGET")); err == nil && v > 0 {
		budget = v
	}
	const senders = 32
	nodes := nodetest.Cluster(b, 3)
	leader := nodetest.Leader(b, nodes)
	if r := propose(b, leader, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B",
		WABAID: "2", PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s",
		TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))}); r.Err != nil {
		b.Fatal(r.Err)
	}
	if r := propose(b, leader, raftfsm.CmdSetRetention, raftfsm.SetRetention{PhoneNumberID: "3", Hours: 1}); r.Err != nil {
		b.Fatal(r.Err)
	}
	content := make([]byte, 250) // a sealed 200-byte text: arbitrary bytes will do
	var seq atomic.Uint64
	accept := func(at time.Time) []byte {
		i := seq.Add(1)
		var key [16]byte
		binary.BigEndian.PutUint64(key[:8], uint64(at.UnixNano()))
		binary.BigEndian.PutUint64(key[8:], i)
		wamid := fmt.Sprintf("wamid.bench-%d", i)
		cmd, err := raftfsm.EncodeCommand(raftfsm.CmdAcceptMessage, raftfsm.AcceptMessage{
			Key: key[:], IDRef: raftfsm.MessageIDRef(wamid), IDSealed: content[:48], PhoneNumberID: "3", BusinessID: "1",
			PeerRef: fmt.Sprintf("ref-%024d", i%10000), PeerSealed: content[:40], Type: "text", Content: content,
			CreatedAt: at.UnixMilli(), // RequireWindow false: no 24-hour window needed
		})
		if err != nil {
			b.Fatal(err)
		}
		return cmd
	}

	for range b.N {
		b.StopTimer()
		// Preload: N messages two hours old (past the 1 h retention), in
		// large concurrent batches through the leader (group commit packs
		// up to MaxBatch commands per Raft entry).
		t0 := time.Now()
		old := t0.Add(-2 * time.Hour)
		before := leader.FSM().MessageCount()
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		for range 1024 {
			wg.Go(func() {
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					cmd := accept(old.Add(time.Duration(i) * time.Microsecond))
					res, err := leader.Propose(context.Background(), cmd)
					if err != nil || res.Err != nil {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			b.Fatalf("preload: %d proposals failed", f)
		}
		if c := leader.FSM().MessageCount(); c != before+n {
			b.Fatalf("preload: %d messages stored, want %d", c, before+n)
		}
		preload := time.Since(t0)
		b.Logf("preloaded %d messages in %v (%.0f msgs/s)", n, preload.Round(time.Millisecond), float64(n)/preload.Seconds())
		// Let the followers catch up before measuring.
		nodetest.WaitFor(b, "followers caught up", 5*time.Minute, func() bool {
			idx, _ := leader.FSM().AppliedIndex()
			for _, nd := range nodes {
				if i, _ := nd.FSM().AppliedIndex(); i < idx {
					return false
				}
			}
			return true
		})
		b.StartTimer()

		// Phase 1: sends alone, for the fixed window.
		stop := make(chan struct{})
		baseFrom := time.Now()
		time.AfterFunc(window, func() { close(stop) })
		samples, failedSends := sendLoad(nodes, senders, accept, stop)
		base := summarize(samples, failedSends, baseFrom, baseFrom.Add(window), nil)

		// Phase 2: sends for exactly the duration of one expiry run.
		w := retention.New(leader, retention.Config{Budget: budget}, nil, time.Now)
		stop = make(chan struct{})
		var run retention.Run
		var runErr error
		var expFrom, expTo time.Time
		go func() {
			defer close(stop)
			time.Sleep(100 * time.Millisecond) // the senders are running
			expFrom = time.Now()
			run, runErr = w.RunOnce(context.Background())
			expTo = time.Now()
		}()
		samples, failedSends = sendLoad(nodes, senders, accept, stop)
		// Only the sends that started while the expiry ran.
		during := summarize(samples, failedSends, expFrom, expTo, nil)
		took := expTo.Sub(expFrom)
		// Through the leader, and through the followers (which answer only
		// once their own replica has applied the send).
		li := slices.Index(nodes, leader)
		viaLeader := summarize(samples, 0, expFrom, expTo, func(i int) bool { return i == li })
		viaFollowers := summarize(samples, 0, expFrom, expTo, func(i int) bool { return i != li })
		if runErr != nil {
			b.Fatal(runErr)
		}
		if run.Deleted < n || run.More {
			b.Fatalf("expiry run %+v, want ≥ %d deleted", run, n)
		}
		b.StopTimer()
		b.Logf("without expiry: %s", base)
		b.Logf("during expiry:  %s", during)
		b.Logf("  via the leader:    %s", viaLeader)
		b.Logf("  via the followers: %s", viaFollowers)
		b.Logf("expiry: %d deleted in %d commands, %v (%.0f msgs/s)", run.Deleted, run.Commands, took.Round(time.Millisecond), float64(n)/took.Seconds())

		b.ReportMetric(base.rate, "base-sends/s")
		b.ReportMetric(base.p50, "base-p50-ms")
		b.ReportMetric(base.p99, "base-p99-ms")
		b.ReportMetric(base.max, "base-max-ms")
		b.ReportMetric(during.rate, "exp-sends/s")
		b.ReportMetric(during.p50, "exp-p50-ms")
		b.ReportMetric(during.p99, "exp-p99-ms")
		b.ReportMetric(during.max, "exp-max-ms")
		b.ReportMetric(viaLeader.p99, "exp-leader-p99-ms")
		b.ReportMetric(viaFollowers.p99, "exp-follower-p99-ms")
		b.ReportMetric(float64(base.failed+during.failed), "failed-sends")
		b.ReportMetric(took.Seconds(), "s/expiry")
		b.ReportMetric(float64(run.Commands), "expire-cmds")
		b.ReportMetric(float64(n)/took.Seconds(), "expired-msgs/s")
		b.ReportMetric(preload.Seconds(), "s/preload")
	}
}

type sendStats struct {
	sends, failed       int
	el                  time.Duration
	rate, p50, p99, max float64 // sends/s, ms
}

func (s sendStats) String() string {
	return fmt.Sprintf("%d sends in %v (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failed",
		s.sends, s.el.Round(time.Millisecond), s.rate, s.p50, s.p99, s.max, s.failed)
}

type sample struct {
	at   time.Time // proposal started
	lat  time.Duration
	node int // index into nodes
}

// sendLoad runs senders goroutines proposing fresh messages (round robin
// over nodes) until stop is closed; it returns every successful send and
// the number of failed ones.
func sendLoad(nodes []*node.Node, senders int, accept func(time.Time) []byte, stop <-chan struct{}) ([]sample, int) {
	var mu sync.Mutex
	var all []sample
	var failed atomic.Int64
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			ni := s % len(nodes)
			nd := nodes[ni]
			var local []sample
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, local...)
					mu.Unlock()
					return
				default:
				}
				cmd := accept(time.Now())
				t := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := nd.Propose(ctx, cmd)
				cancel()
				if err != nil || res.Err != nil {
					failed.Add(1)
					continue
				}
				local = append(local, sample{t, time.Since(t), ni})
			}
		})
	}
	wg.Wait()
	return all, int(failed.Load())
}

// summarize the sends that started in [from, to) through a node for
// which pick holds (nil: all).
func summarize(all []sample, failed int, from, to time.Time, pick func(node int) bool) sendStats {
	var lats []time.Duration
	for _, s := range all {
		if !s.at.Before(from) && s.at.Before(to) && (pick == nil || pick(s.node)) {
			lats = append(lats, s.lat)
		}
	}
	slices.Sort(lats)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	el := to.Sub(from)
	st := sendStats{sends: len(lats), failed: failed, el: el, rate: float64(len(lats)) / el.Seconds()}
	if len(lats) > 0 {
		st.p50 = ms(lats[len(lats)/2])
		st.p99 = ms(lats[min(len(lats)-1, len(lats)*99/100)])
		st.max = ms(lats[len(lats)-1])
	}
	return st
}
