package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/waedge/waedge/httptls"
	"github.com/waedge/waedge/relay"
)

// cluster is what a scenario measures: either `waedge serve` processes
// the bench started (owned), or a running cluster named by --target.
type cluster struct {
	urls  []string // HTTP base URLs, one per node
	token string   // admin token
	// Only for an owned cluster:
	nodes []*proc
	dir   string
	bin   string
	ports *ports
	keep  bool    // leave dir behind (--keep)
	extra []*proc // processes beside the nodes (the relay)
	// fault is set when a node answered a send with a server error other
	// than 503 (a fault, not a refusal or an unknown outcome): close keeps
	// the directory then, so the node logs say why.
	fault atomic.Bool
	// anonKB is the largest RssAnon seen (sampleAnon); stopSampler ends it.
	anonKB      atomic.Int64
	stopSampler chan struct{}
	api         *http.Client
	tls         *tls.Config // trusted roots for https:// targets (nil: system roots)
}

// proc is one `waedge serve` the bench started.
type proc struct {
	name, dataDir, httpAddr, clusterAddr string
	bin                                  string // the waedge binary
	args                                 []string
	env                                  []string
	logPath                              string
	mu                                   sync.Mutex // guards cmd and done (a restart replaces them)
	cmd                                  *exec.Cmd
	done                                 chan struct{}
}

// ports hands out loopback ports that were free when asked, never the
// same one twice (a port closed again can be handed out again by the
// kernel, and two nodes given one port fail to start).
type ports struct{ given map[int]bool }

func (p *ports) next() (string, error) {
	if p.given == nil {
		p.given = map[int]bool{}
	}
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !p.given[port] {
			p.given[port] = true
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
		}
	}
	return "", errors.New("no unused loopback port after 1000 tries")
}

func newAPIClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second}
}

// targetCluster measures a running cluster, trusting caFile's
// certificates for https:// URLs.
func targetCluster(urls []string, token, caFile string) (*cluster, error) {
	cfg, err := httptls.ClientConfig(caFile)
	if err != nil {
		return nil, err
	}
	api := newAPIClient()
	api.Transport = &http.Transport{TLSClientConfig: cfg}
	c := &cluster{token: token, api: api, tls: cfg}
	for _, u := range urls {
		c.urls = append(c.urls, strings.TrimRight(u, "/"))
	}
	return c, nil
}

// newCluster prepares an owned cluster of bin in a temporary directory;
// startNodes then starts its nodes.
func newCluster(bin string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "waedge-bench-")
	if err != nil {
		return nil, err
	}
	return &cluster{dir: dir, bin: bin, ports: &ports{}, api: newAPIClient()}, nil
}

// startNodes starts n `waedge serve` processes on loopback: the first
// bootstraps, the others join with tokens minted through the admin API.
// extra flags go to every node. On error the caller closes c.
func (c *cluster) startNodes(ctx context.Context, n int, extra, env []string, pr *progress) error {
	for i := 1; i <= n; i++ {
		p, err := c.newProc(fmt.Sprintf("node%d", i), extra, env)
		if err != nil {
			return err
		}
		if i > 1 {
			var jt struct {
				JoinToken string `json:"join_token"`
			}
			if err := c.call(ctx, "POST", c.urls[0]+"/admin/v1/cluster/join-tokens", c.token, map[string]int{"ttl_seconds": 3600}, &jt); err != nil {
				return fmt.Errorf("join token: %w", err)
			}
			p.args = append(p.args, "--join", c.nodes[0].clusterAddr, "--join-token", jt.JoinToken)
		}
		if err := p.start(); err != nil {
			return err
		}
		c.nodes = append(c.nodes, p)
		c.urls = append(c.urls, "http://"+p.httpAddr)
		if err := c.waitReady(ctx, i-1, 60*time.Second); err != nil {
			return err
		}
		if i == 1 {
			b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.token"))
			if err != nil {
				return err
			}
			c.token = strings.TrimSpace(string(b))
		}
		pr.note("started %s (%s)", p.name, p.httpAddr)
	}
	c.stopSampler = make(chan struct{})
	go c.sampleAnon(c.stopSampler)
	return poll(ctx, 30*time.Second, "all members", func() (bool, error) {
		var st clusterStatus
		if err := c.call(ctx, "GET", c.urls[0]+"/admin/v1/cluster", c.token, nil, &st); err != nil {
			return false, nil
		}
		return len(st.Members) == n, nil
	})
}

func (c *cluster) newProc(name string, extra, env []string) (*proc, error) {
	p := &proc{name: name, bin: c.bin, dataDir: filepath.Join(c.dir, name), env: env, logPath: filepath.Join(c.dir, name+".log")}
	var err error
	if p.httpAddr, err = c.ports.next(); err != nil {
		return nil, err
	}
	if p.clusterAddr, err = c.ports.next(); err != nil {
		return nil, err
	}
	relay, err := c.ports.next()
	if err != nil {
		return nil, err
	}
	p.args = append([]string{"serve", "--data-dir", p.dataDir, "--http-addr", p.httpAddr,
		"--cluster-addr", p.clusterAddr, "--relay-addr", relay, "--log-format", "json"}, extra...)
	return p, nil
}

// startRelay starts a `waedge relay` (the sandbox network the nodes and
// hosted phones share) and returns its address and the bearer token of
// its hosted-phone API (the relay writes it to relay.token in its data
// dir at first start).
func (c *cluster) startRelay(ctx context.Context) (addr, token string, err error) {
	addr, err = c.ports.next()
	if err != nil {
		return "", "", err
	}
	p := &proc{name: "relay", bin: c.bin, dataDir: filepath.Join(c.dir, "relay"), logPath: filepath.Join(c.dir, "relay.log")}
	p.args = []string{"relay", "--addr", addr, "--data-dir", p.dataDir}
	if relayNoSync(c.bin) {
		// The relay and its hosted phones stand in for WhatsApp's network
		// and the consumers' devices: their fsyncs on the machine under
		// test would be measured as waedge's.
		p.args = append(p.args, "--no-sync")
	}
	if err := p.start(); err != nil {
		return "", "", err
	}
	c.extra = append(c.extra, p)
	err = poll(ctx, 30*time.Second, "the relay", func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("relay exited:\n%s", p.logTail(30))
		}
		resp, err := c.api.Get("http://" + addr + "/healthz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	if err != nil {
		return "", "", err
	}
	b, err := os.ReadFile(filepath.Join(p.dataDir, relay.TokenFileName))
	if err != nil {
		return "", "", fmt.Errorf("relay token: %w", err)
	}
	return addr, strings.TrimSpace(string(b)), nil
}

// relayNoSync reports whether bin's relay has --no-sync (binaries before
// it, measured with --binary, do not).
func relayNoSync(bin string) bool {
	out, _ := exec.Command(bin, "relay", "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-no-sync"))
}

// start launches the process with its command line; its log is appended
// to logPath (a restart keeps the earlier log).
func (p *proc) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	// A clean environment: the caller's WAEDGE_* variables (a data dir, a
	// master key) must not leak into the bench's nodes.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, p.env...)
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		_ = f.Close()
		close(done)
	}()
	return nil
}

// current returns the running (or last) process and its done channel;
// the memory sampler reads them while failover restarts nodes.
func (p *proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

func (p *proc) alive() bool {
	_, done := p.current()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// pid returns the process id of a running process.
func (p *proc) pid() (int, bool) {
	cmd, _ := p.current()
	if cmd == nil || cmd.Process == nil || !p.alive() {
		return 0, false
	}
	return cmd.Process.Pid, true
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	cmd, done := p.current()
	if !p.alive() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// logTail returns the last lines of the node's log, for error reports.
func (p *proc) logTail(lines int) string {
	b, _ := os.ReadFile(p.logPath)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// waitReady waits until node i answers /readyz with 200.
func (c *cluster) waitReady(ctx context.Context, i int, timeout time.Duration) error {
	p := c.nodes[i]
	return poll(ctx, timeout, p.name+" ready", func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("%s exited:\n%s", p.name, p.logTail(30))
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(rctx, "GET", c.urls[i]+"/readyz", nil)
		resp, err := c.api.Do(req)
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
}

// close kills the bench's processes and deletes their directories.
func (c *cluster) close() {
	if c.stopSampler != nil {
		close(c.stopSampler)
		c.stopSampler = nil
	}
	for _, p := range append(c.nodes, c.extra...) {
		p.kill()
	}
	switch {
	case c.dir == "" || c.keep:
	case c.fault.Load():
		fmt.Fprintf(os.Stderr, "a node answered a send with a server error: keeping %s (node logs)\n", c.dir)
	default:
		_ = os.RemoveAll(c.dir)
	}
}

// noteStatus records a send's HTTP status: a server error other than 503
// marks the cluster's run as faulty (see fault).
func (c *cluster) noteStatus(code int) {
	if code >= 500 && code != 503 {
		c.fault.Store(true)
	}
}

// owned reports whether the bench started the cluster (and may kill it).
func (c *cluster) owned() bool { return len(c.nodes) > 0 }

// peakRSSMB is the largest VmHWM (peak resident set) of the bench's
// processes, in MiB; nil for a cluster the bench did not start.
func (c *cluster) peakRSSMB() any {
	if !c.owned() {
		return nil
	}
	peak := 0.0
	for _, p := range c.nodes {
		if pid, ok := p.pid(); ok {
			peak = max(peak, procStatusMB(pid, "VmHWM:"))
		}
	}
	return peak
}

// addMemory adds the memory figures of the bench's nodes to r:
// peak_rss_mb (VmHWM, which also counts the pages of bbolt's
// memory-mapped files that were read, so it grows with the database) and
// peak_anon_mb (the largest RssAnon — heap and stacks — seen by a sampler
// every 250 ms since the nodes started). Both null for --target.
func (c *cluster) addMemory(r *Result) {
	r.add("peak_rss_mb", c.peakRSSMB())
	if !c.owned() {
		r.add("peak_anon_mb", nil)
		return
	}
	r.add("peak_anon_mb", float64(c.anonKB.Load())/1024)
}

// sampleAnon records the largest RssAnon of the nodes until stop closes.
func (c *cluster) sampleAnon(stop <-chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		for _, p := range c.nodes {
			if pid, ok := p.pid(); ok {
				kb := int64(procStatusMB(pid, "RssAnon:") * 1024)
				for {
					old := c.anonKB.Load()
					if kb <= old || c.anonKB.CompareAndSwap(old, kb) {
						break
					}
				}
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// procStatusMB reads a "Vm…: N kB" line of /proc/PID/status in MiB.
func procStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			if f := strings.Fields(line); len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// elections counts the elections the nodes' logs record (Raft's
// "entering candidate state"): a mark taken before a load level and
// compared after it tells whether the load caused leader changes.
func (c *cluster) elections() int {
	n := 0
	for _, p := range c.nodes {
		b, _ := os.ReadFile(p.logPath)
		n += bytes.Count(b, []byte("entering candidate state"))
	}
	return n
}

// clusterStatus is the part of GET /admin/v1/cluster the bench reads.
type clusterStatus struct {
	NodeID   string `json:"node_id"`
	State    string `json:"state"`
	LeaderID string `json:"leader_id"`
	Members  []struct {
		ID string `json:"id"`
	} `json:"members"`
}

// leader returns the index of the node that reports itself leader.
func (c *cluster) leader(ctx context.Context, timeout time.Duration) (int, error) {
	idx := -1
	err := poll(ctx, timeout, "a leader", func() (bool, error) {
		for i, u := range c.urls {
			if c.owned() && !c.nodes[i].alive() {
				continue
			}
			var st clusterStatus
			if err := c.call(ctx, "GET", u+"/admin/v1/cluster", c.token, nil, &st); err == nil && st.State == "Leader" {
				idx = i
				return true, nil
			}
		}
		return false, nil
	})
	return idx, err
}

// call performs an authenticated JSON request and decodes a 2xx answer
// into out; any other status is an error carrying the body.
func (c *cluster) call(ctx context.Context, method, url, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, url, b, err)
		}
	}
	return nil
}

// poll calls cond every 20 ms until it holds, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
