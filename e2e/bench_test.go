package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchSeconds is how long each load level runs (WAEDGE_BENCH_SECONDS).
func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 5 * time.Second
}

// rssMB reads a process's resident set size.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// loadResult is what one load level measured.
type loadResult struct {
	lats     []time.Duration
	failures int64
	elapsed  time.Duration
	peakRSS  float64
}

// runLoad sends requests from `writers` goroutines for benchSeconds, each
// request built by newReq(i, n) for the n-th request overall, spread over
// the nodes, and samples the nodes' resident memory meanwhile.
func runLoad(nodes []*proc, writers int, newReq func(p *proc, n int64) *http.Request) loadResult {
	tr := &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		seq      atomic.Int64
		mu       sync.Mutex
		res      loadResult
		failures atomic.Int64
	)
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, p := range nodes {
					res.peakRSS = max(res.peakRSS, rssMB(p.cmd.Process.Pid))
				}
			}
		}
	}()
	deadline := time.Now().Add(benchSeconds())
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var local []time.Duration
			for i := w; time.Now().Before(deadline); i++ {
				req := newReq(nodes[i%len(nodes)], seq.Add(1))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = drain(resp)
				if resp.StatusCode != 200 {
					failures.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			res.lats = append(res.lats, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(stop)
	<-sampled
	res.failures = failures.Load()
	return res
}

// report publishes a load level's figures.
func (r loadResult) report(b *testing.B, unit string) {
	b.ReportMetric(float64(len(r.lats))/r.elapsed.Seconds(), unit)
	b.ReportMetric(float64(percentile(r.lats, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(r.lats, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.failures), "failed")
	b.ReportMetric(r.peakRSS, "peak-rss-MB")
}

func jsonPost(url, token, body string) *http.Request {
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// BenchmarkClusterWrites measures replicated writes (tenant creation through
// the admin API: HTTP, auth, forwarding to the leader, Raft commit on a
// quorum, bbolt apply) on a 3-process cluster, spreading requests over all
// three nodes. Run with -benchtime=1x; each level runs WAEDGE_BENCH_SECONDS.
func BenchmarkClusterWrites(b *testing.B) {
	nodes, token := startCluster(b)
	for _, writers := range []int{1, 8, 64, 512} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			runLoad(nodes, writers, func(p *proc, n int64) *http.Request {
				return jsonPost(p.url("/admin/v1/tenants"), token, fmt.Sprintf(`{"name":"bench %d","phone":"+1%010d"}`, n, n))
			}).report(b, "writes/s")
		})
	}
}

// BenchmarkClusterOps measures the operational numbers of issue 2: binary
// size, start-up time to ready, idle memory, and time from kill -9 of the
// leader to the first successful write.
func BenchmarkClusterOps(b *testing.B) {
	fi, err := os.Stat(binary)
	if err != nil {
		b.Fatal(err)
	}
	p := newProc(b, "solo")
	t0 := time.Now()
	p.start()
	p.waitReady(20 * time.Second)
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "startup-to-ready-ms")
	b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	p.kill()

	nodes, token := startCluster(b)
	// Idle for a moment so the RSS reflects a settled node.
	settle := time.Now().Add(2 * time.Second)
	waitFor(b, "settle", 5*time.Second, func() bool { return time.Now().After(settle) })
	idle := 0.0
	for _, n := range nodes {
		idle = max(idle, rssMB(n.cmd.Process.Pid))
	}
	b.ReportMetric(idle, "idle-rss-MB")

	leader := leaderProc(b, nodes, token)
	var other *proc
	for _, n := range nodes {
		if n != leader {
			other = n
			break
		}
	}
	leader.kill()
	killed := time.Now()
	var n atomic.Int64
	waitFor(b, "a write after the kill", 15*time.Second, func() bool {
		i := n.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		code, err := doJSON(ctx, "POST", other.url("/admin/v1/tenants"), token,
			map[string]string{"name": "after kill", "phone": fmt.Sprintf("+1666%07d", i)}, nil)
		return err == nil && code == 200
	})
	b.ReportMetric(float64(time.Since(killed).Milliseconds()), "kill-to-write-ms")
}

func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	var buf [4096]byte
	var n int64
	for {
		k, err := resp.Body.Read(buf[:])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

// BenchmarkSendMessages measures POST /{phone-number-id}/messages accepted
// through a 3-process cluster (template messages, which need no open
// customer-service window), 64 and 512 concurrent senders spread over the
// nodes. Run with -benchtime=1x. The consumers are not on the network, so
// the leader's connector marks each accepted message failed (131026) —
// one more replicated command per message; WAEDGE_BENCH_NETWORK=off
// measures acceptance alone (nodes run with --network off).
func BenchmarkSendMessages(b *testing.B) {
	var flags []string
	if os.Getenv("WAEDGE_BENCH_NETWORK") == "off" {
		flags = append(flags, "--network", "off")
	}
	nodes, token := startCluster(b, flags...)
	var created tenantCreated
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	code, err := doJSON(ctx, "POST", nodes[0].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Bench", "phone": "+15550009999"}, &created)
	cancel()
	if err != nil || code != 200 {
		b.Fatalf("create tenant: %d %v", code, err)
	}
	createTemplate(b, nodes[0], created.AccessToken, created.WABAID, "hello", "Hello!")
	// Lift the platform's 80 msg/s default for the measurement.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	code, err = doJSON(ctx, "POST", nodes[0].url("/admin/v1/phones/"+created.PhoneNumberID+"/limits"), token,
		map[string]int{"throughput_mps": 100000, "pair_per_minute": 100000}, nil)
	cancel()
	if err != nil || code != 200 {
		b.Fatalf("set limits: %d %v", code, err)
	}
	// Templates to a million distinct consumers: lift the messaging-limit
	// tier (default TIER_1K) too.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	code, err = doJSON(ctx, "POST", nodes[0].url("/admin/v1/phones/"+created.PhoneNumberID+"/tier"), token,
		map[string]string{"tier": "TIER_UNLIMITED"}, nil)
	cancel()
	if err != nil || code != 200 {
		b.Fatalf("set tier: %d %v", code, err)
	}
	waitConverged(b, nodes, token)
	for _, writers := range []int{64, 512} {
		b.Run(fmt.Sprintf("senders=%d", writers), func(b *testing.B) {
			runLoad(nodes, writers, func(p *proc, n int64) *http.Request {
				body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"1555%07d","type":"template","template":{"name":"hello","language":{"code":"en"}}}`, n%1000000)
				return jsonPost(p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken, body)
			}).report(b, "msgs/s")
		})
	}
}
