package e2e

import (
	"context"
	"encoding/json"
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
	other := anotherThan(nodes, leader)
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

// BenchmarkSendMessages is `waedge bench accept --senders 64,512` (package
// bench: template sends accepted by a 3-process cluster with the network
// off, senders spread over the nodes) run with the binary this package
// built, so WAEDGE_BENCH_TAGS (e.g. waedge_noseal) applies to it. Each
// level runs WAEDGE_BENCH_SECONDS. Run with -benchtime=1x.
func BenchmarkSendMessages(b *testing.B) {
	out, errOut, err := cli(b, "bench", "accept", "--senders", "64,512", "--duration", benchSeconds().String(), "--json")
	if err != nil {
		b.Fatalf("waedge bench: %v\n%s", err, errOut)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Senders      int     `json:"senders"`
			AcceptedPerS float64 `json:"accepted_per_s"`
			P50          float64 `json:"p50_ms"`
			P99ms        float64 `json:"p99_ms"`
			Errors       float64 `json:"errors"`
			PeakRSSMB    float64 `json:"peak_rss_mb"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			b.Fatalf("bench output %q: %v", line, err)
		}
		b.Run(fmt.Sprintf("senders=%d", r.Senders), func(b *testing.B) {
			b.ReportMetric(r.AcceptedPerS, "msgs/s")
			b.ReportMetric(r.P50, "p50-ms")
			b.ReportMetric(r.P99ms, "p99-ms")
			b.ReportMetric(r.Errors, "failed")
			b.ReportMetric(r.PeakRSSMB, "peak-rss-MB")
		})
	}
}
