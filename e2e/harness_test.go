// Package e2e holds black-box tests: they build the waedge binary and drive
// real processes over real TCP, as an operator would. Whatever a process
// writes is searched for the tests' secrets when its test ends
// (logscan_test.go).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/freeport"
	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/internal/syncbuf"
)

// binary is the waedge binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	// The black-box tests build the binary and run clusters of real
	// processes: minutes, not seconds. They run only when asked, so that
	// `go test ./...` stays quick; scripts/test.sh (CI) asks.
	if os.Getenv("WAEDGE_E2E") == "" {
		fmt.Println("e2e: black-box tests not run; set WAEDGE_E2E=1 (scripts/test.sh does)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "waedge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "waedge")
	args := []string{"build", "-o", binary}
	if tags := os.Getenv("WAEDGE_BENCH_TAGS"); tags != "" {
		args = append(args, "-tags", tags) // e.g. waedge_noseal for the sealing A/B benchmark
	}
	if ov := os.Getenv("WAEDGE_E2E_OVERLAY"); ov != "" {
		args = append(args, "-overlay", ov) // a mutant binary (scripts/mutate.sh)
	}
	build := exec.Command("go", append(args, ".")...)
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build waedge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return freeport.Addr(t)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	poll.Until(t, what, timeout, cond)
}

// proc is one running `waedge serve`.
type proc struct {
	t           testing.TB
	name        string
	dataDir     string
	httpAddr    string
	clusterAddr string
	args        []string
	env         []string // extra environment (KEY=value)
	bin         string   // the waedge binary to run; "" is the one built for the package
	cmd         *exec.Cmd
	log         *syncbuf.Buffer
	done        chan struct{}
}

func newProc(t testing.TB, name string, extra ...string) *proc {
	p := &proc{t: t, name: name, dataDir: t.TempDir(), httpAddr: freeAddr(t), clusterAddr: freeAddr(t)}
	level := "debug" // everything a node logs is searched for secrets (logscan_test.go)
	if _, bench := t.(*testing.B); bench {
		level = "info" // benchmarks measure what production runs
	}
	p.args = append([]string{"serve", "--data-dir", p.dataDir, "--http-addr", p.httpAddr,
		"--cluster-addr", p.clusterAddr, "--log-format", "json", "--log-level", level}, extra...)
	if !slices.Contains(extra, "--network") {
		// Each node's embedded sandbox relay needs a port of its own.
		p.args = append(p.args, "--relay-addr", freeAddr(t))
	}
	captureArgs(extra) // the join token
	t.Cleanup(func() {
		p.kill()
		if p.log == nil {
			return // never started
		}
		harvestNodeSecrets(p.dataDir)
		checkLog(t, p.name, p.log.String(), false)
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", p.name, tail(p.log.String(), 60))
		}
	})
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// start launches the process with its (unchanged) command line.
func (p *proc) start() {
	p.t.Helper()
	if p.log == nil {
		p.log = &syncbuf.Buffer{}
	}
	bin := binary
	if p.bin != "" {
		bin = p.bin
	}
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, p.env...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.done)
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a graceful exit. A process that does
// not exit gets SIGQUIT, so the Go runtime writes every goroutine's stack
// to its log (printed with the failure) before it ends.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.kill()
		}
		p.t.Fatalf("%s did not stop on SIGTERM (its goroutines, from SIGQUIT, are at the end of its log)", p.name)
	}
}

// exitCode is the exit status of the process, which has ended (-1: killed
// by a signal).
func (p *proc) exitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) url(path string) string { return "http://" + p.httpAddr + path }

func (p *proc) adminToken() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.token"))
	if err != nil {
		p.t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	leaks.add(kindSecret, token)
	return token
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// ready reports whether /readyz answers 200.
func (p *proc) ready() bool {
	resp, err := httpClient.Get(p.url("/readyz"))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == 200
}

func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	waitFor(p.t, p.name+" ready", timeout, func() bool {
		if !p.alive() {
			p.t.Fatalf("%s exited:\n%s", p.name, tail(p.log.String(), 40))
		}
		return p.ready()
	})
}

// cli runs a waedge client command and returns stdout.
func cli(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	captureArgs(args)
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// doJSON performs an authenticated JSON request.
func doJSON(ctx context.Context, method, url, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		captureJSON(b) // texts, numbers and tokens a node must never log
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		leaks.add(kindSecret, token)
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 == 2 {
		captureJSON(b)
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, nil
}

// clusterStatus is the subset of GET /admin/v1/cluster the tests read.
type clusterStatus struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	AppliedIndex uint64 `json:"applied_index"`
	Members      []struct {
		ID string `json:"id"`
	} `json:"members"`
}

func (p *proc) status(token string) (clusterStatus, error) {
	var st clusterStatus
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := doJSON(ctx, "GET", p.url("/admin/v1/cluster"), token, nil, &st)
	if err == nil && code != 200 {
		err = fmt.Errorf("status %d", code)
	}
	return st, err
}

// startCluster starts node 1, then joins two more through the CLI.
func startCluster(t testing.TB, all ...string) ([]*proc, string) {
	t.Helper()
	return startClusterWith(t, nil, all...)
}

// startClusterWith starts three nodes with extra environment and flags.
func startClusterWith(t testing.TB, env []string, flags ...string) ([]*proc, string) {
	t.Helper()
	return startClusterOf(t, "", env, flags...)
}

// startClusterOf starts three nodes of the waedge binary bin ("": the
// package's) with extra environment and flags.
func startClusterOf(t testing.TB, bin string, env []string, flags ...string) ([]*proc, string) {
	t.Helper()
	extra := append([]string(nil), flags...)
	if a := os.Getenv("WAEDGE_BENCH_PPROF"); a != "" {
		extra = append(extra, "--pprof-addr", a) // profile node 1 (the first leader)
	}
	n1 := newProc(t, "node1", extra...)
	n1.env, n1.bin = env, bin
	n1.start()
	n1.waitReady(20 * time.Second)
	token := n1.adminToken()
	tokenFile := filepath.Join(n1.dataDir, "admin.token")
	nodes := []*proc{n1}
	for i := 2; i <= 3; i++ {
		out, errOut, err := cli(t, "cluster", "join-token", "--server", n1.url(""), "--token-file", tokenFile)
		if err != nil {
			t.Fatalf("join-token: %v\n%s", err, errOut)
		}
		var jt struct {
			JoinToken string `json:"join_token"`
		}
		if err := json.Unmarshal([]byte(out), &jt); err != nil || jt.JoinToken == "" {
			t.Fatalf("join-token output %q: %v", out, err)
		}
		p := newProc(t, "node"+strconv.Itoa(i), append([]string{"--join", n1.clusterAddr, "--join-token", jt.JoinToken}, flags...)...)
		p.env, p.bin = env, bin
		p.start()
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		p.waitReady(30 * time.Second)
	}
	waitFor(t, "three members", 10*time.Second, func() bool {
		st, err := n1.status(token)
		return err == nil && len(st.Members) == 3
	})
	return nodes, token
}

func leaderProc(t testing.TB, nodes []*proc, token string) *proc {
	t.Helper()
	var leader *proc
	waitFor(t, "a leader", 15*time.Second, func() bool {
		for _, p := range nodes {
			if !p.alive() {
				continue
			}
			if st, err := p.status(token); err == nil && st.State == "Leader" {
				leader = p
				return true
			}
		}
		return false
	})
	return leader
}

// templateSender creates a business through p with the admin token, lifts
// its number's messaging-limit tier (distinct consumers a day) and creates
// its template `template` ("Hello", UTILITY, en).
func templateSender(t testing.TB, p *proc, admin, name, phone, template string) tenantCreated {
	t.Helper()
	var ten tenantCreated
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := doJSON(ctx, "POST", p.url("/admin/v1/tenants"), admin, map[string]string{"name": name, "phone": phone}, &ten)
	if err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	code, err = doJSON(ctx, "POST", p.url("/admin/v1/phones/"+ten.PhoneNumberID+"/tier"), admin, map[string]string{"tier": "TIER_UNLIMITED"}, nil)
	if err != nil || code != 200 {
		t.Fatalf("set tier: %d %v", code, err)
	}
	createTemplate(t, p, ten.AccessToken, ten.WABAID, template, "Hello")
	return ten
}

// createTemplate defines an approved template through the Graph API.
func createTemplate(t testing.TB, p *proc, token, wabaID, name, bodyText string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := doJSON(ctx, "POST", p.url("/v21.0/"+wabaID+"/message_templates"), token, map[string]any{
		"name": name, "language": "en", "category": "UTILITY",
		"components": []any{map[string]string{"type": "BODY", "text": bodyText}}}, nil)
	if err != nil || code != 200 {
		t.Fatalf("create template %s: %d %v", name, code, err)
	}
}
