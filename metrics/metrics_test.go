package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/waedge/waedge/metrics"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
)

// stubProposer answers every proposal with res.
type stubProposer struct{ res raftfsm.Result }

func (s stubProposer) Propose(context.Context, []byte) (raftfsm.Result, error) { return s.res, nil }
func (s stubProposer) FSM() *raftfsm.FSM                                       { return nil }

func propose(t *testing.T, p metrics.Proposer, typ raftfsm.CommandType, payload any) {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Propose(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
}

// TestCountingProposer: webhook attempts are counted by outcome (only
// non-deliveries as failures) and an expiry run when the state machine
// reports nothing more to do.
func TestCountingProposer(t *testing.T) {
	m := metrics.New(nil, metrics.BuildInfo{}, 0)
	ok := m.Counting(stubProposer{})
	for _, a := range []raftfsm.WebhookAttempt{{Delivered: true, Status: "200"}, {Delivered: true, Status: "204"}, {Status: "503", NextAt: 1}, {GiveUp: true, Status: "timeout"}} {
		propose(t, ok, raftfsm.CmdWebhookAttempt, a)
	}
	v, _ := raftfsm.EncodeCommand(0, raftfsm.ExpireResult{Deleted: 7, More: true})
	more := m.Counting(stubProposer{res: raftfsm.Result{Value: v[3:]}})
	propose(t, more, raftfsm.CmdExpire, raftfsm.Expire{Budget: 1})
	v, _ = raftfsm.EncodeCommand(0, raftfsm.ExpireResult{Deleted: 3})
	done := m.Counting(stubProposer{res: raftfsm.Result{Value: v[3:]}})
	propose(t, done, raftfsm.CmdExpire, raftfsm.Expire{Budget: 1})

	reg := m.Registry()
	for name, want := range map[string]float64{
		"waedge_webhook_attempts_total": 4, "waedge_webhook_failures_total": 2,
		"waedge_expiry_runs_total": 1, "waedge_expiry_commands_total": 2, "waedge_expiry_deleted_total": 10,
	} {
		got := gatherValue(t, reg, name)
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// gather returns every family of reg by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// gatherValue sums every series of one counter or gauge family.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	sum := 0.0
	if f := gather(t, reg)[name]; f != nil {
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// series returns the value of name's series whose labels include want.
func series(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := gather(t, reg)[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue(), true
	}
	return 0, false
}

// TestPeerContact: on a real three-node cluster the leader reports every
// peer's last contact, and a peer that stops answering falls behind while
// the live one stays fresh.
func TestPeerContact(t *testing.T) {
	nodes := nodetest.Cluster(t, 3)
	leader := nodetest.Leader(t, nodes)
	m := metrics.New(leader, metrics.BuildInfo{}, 0)
	reg := m.Registry()
	var peers []string
	for _, n := range nodes {
		if n != leader {
			peers = append(peers, n.ID())
		}
	}
	fresh := func(id string) bool {
		v, ok := series(t, reg, "waedge_raft_peer_last_contact_seconds", map[string]string{"peer": id})
		return ok && v >= 0 && v < 1
	}
	nodetest.WaitFor(t, "both peers in contact", 10*time.Second, func() bool { return fresh(peers[0]) && fresh(peers[1]) })
	if v, _ := series(t, reg, "waedge_raft_state", map[string]string{"state": "leader"}); v != 1 {
		t.Fatalf("waedge_raft_state{state=leader} = %v on the leader", v)
	}
	// Every node's metrics: leadership may move on a loaded machine, and
	// only the leader reports its peers.
	regs := map[*node.Node]*prometheus.Registry{}
	var dead *node.Node
	for _, n := range nodes {
		regs[n] = metrics.New(n, metrics.BuildInfo{}, 0).Registry()
		if n.ID() == peers[0] {
			dead = n
		}
	}
	if err := dead.StopWithoutHandover(); err != nil {
		t.Fatal(err)
	}
	nodetest.WaitFor(t, "the stopped peer to fall behind on the leader", 10*time.Second, func() bool {
		for n, r := range regs {
			if n == dead || !n.IsLeader() {
				continue
			}
			v, ok := series(t, r, "waedge_raft_peer_last_contact_seconds", map[string]string{"peer": peers[0]})
			return ok && v > 2
		}
		return false
	})
	if leader.IsLeader() && !fresh(peers[1]) {
		t.Fatalf("the live peer %s is reported out of contact", peers[1])
	}
	if gatherValue(t, reg, "waedge_fsm_bytes") <= 0 || gatherValue(t, reg, "waedge_raft_commit_index") <= 0 {
		t.Fatal("state machine size or commit index missing")
	}
}

var metricName = regexp.MustCompile(`\b(?:waedge|go|process)_[a-z0-9_]+`)

// TestDashboardNamesExist: every metric the Grafana dashboard queries is
// one this package exports (histograms by their _bucket/_sum/_count
// series), so a renamed metric cannot leave a dashboard panel empty.
func TestDashboardNamesExist(t *testing.T) {
	b, err := os.ReadFile("../packaging/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct{ List []struct{ Query any } }
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	nodes := nodetest.Cluster(t, 1)
	m := metrics.New(nodes[0], metrics.BuildInfo{Version: "v", Commit: "c", GoVersion: "go"}, 0)
	// One of each instrument, so every family is gathered.
	m.ObserveHTTP("GET", "/healthz", 200, time.Millisecond)
	propose(t, m.Counting(stubProposer{}), raftfsm.CmdWebhookAttempt, raftfsm.WebhookAttempt{Status: "500"})
	v, _ := raftfsm.EncodeCommand(0, raftfsm.ExpireResult{})
	propose(t, m.Counting(stubProposer{res: raftfsm.Result{Value: v[3:]}}), raftfsm.CmdExpire, raftfsm.Expire{})
	propose(t, m.Counting(stubProposer{res: raftfsm.Result{Err: raftfsm.ErrNotFound}}), raftfsm.CmdExpire, raftfsm.Expire{})
	known := map[string]bool{}
	for name, f := range gather(t, m.Registry()) {
		known[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[name+s] = true
			}
		}
	}
	// Message counters exist once the statistics hold a row; their name
	// comes from the collector's description.
	for _, name := range metrics.DescribedNames(m) {
		known[name] = true
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok {
			exprs = append(exprs, s)
		}
	}
	seen := 0
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			seen++
			if !known[name] {
				t.Errorf("dashboard queries %s, which waedge does not export (in %q)", name, e)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("only %d metric references found in the dashboard", seen)
	}
	for _, want := range []string{"waedge_http_requests_total", "waedge_raft_apply_lag", "waedge_webhook_outbox_depth",
		"waedge_network_queue_depth", "waedge_signal_sessions", "waedge_messages_total", "waedge_expiry_runs_total"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// TestCommitStages: writes forwarded by a follower show up in the
// follower's forward and wait_applied stages and in the leader's
// raft_apply, serve_forwarded, log_store and fsm_apply stages, as
// summaries whose count and sum grow.
func TestCommitStages(t *testing.T) {
	nodes := nodetest.Cluster(t, 3)
	follower := nodetest.Follower(nodes, nodetest.Leader(t, nodes))
	const writes = 5
	for i := range writes {
		cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutClusterValue, raftfsm.PutClusterValue{Key: fmt.Sprintf("k%d", i), Value: []byte("v")})
		if err != nil {
			t.Fatal(err)
		}
		// A leader change on a loaded machine may leave a write's outcome
		// unknown; writing the same value again is harmless.
		nodetest.WaitFor(t, "a write through the follower", 20*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := follower.Propose(ctx, cmd)
			return err == nil && res.Err == nil
		})
	}
	stageOf := func(n *node.Node, name string) (uint64, float64) {
		f := gather(t, metrics.New(n, metrics.BuildInfo{}, 0).Registry())["waedge_commit_stage_seconds"]
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" && l.GetValue() == name {
					return m.GetSummary().GetSampleCount(), m.GetSummary().GetSampleSum()
				}
			}
		}
		t.Fatalf("no waedge_commit_stage_seconds{stage=%q}", name)
		return 0, 0
	}
	check := func(stage string, atLeast uint64, on ...*node.Node) {
		var count uint64
		var sum float64
		for _, n := range on {
			c, s := stageOf(n, stage)
			count += c
			sum += s
		}
		if count < atLeast || sum <= 0 {
			t.Errorf("stage %s: %d events taking %vs in all, want at least %d", stage, count, sum, atLeast)
		}
	}
	// Every write queued in the follower's batcher; while it followed, it
	// forwarded them and waited for each to apply (leadership may move on
	// a loaded machine, so at least one).
	check("queue", writes, follower)
	check("forward", 1, follower)
	check("wait_applied", 1, follower)
	// Whoever led replicated them.
	check("raft_apply", writes, nodes...)
	check("serve_forwarded", 1, nodes...)
	// Every member wrote its log and applied its state machine.
	for _, n := range nodes {
		check("log_store", 1, n)
		check("fsm_apply", 1, n)
	}
}

// TestObserveHTTPCopiesWhatItKeeps: the web layer passes strings that
// point into request buffers reused by the next request; a series keeps
// its labels even when those bytes are overwritten afterwards.
func TestObserveHTTPCopiesWhatItKeeps(t *testing.T) {
	m := metrics.New(nil, metrics.BuildInfo{}, 0)
	buf := []byte("POST /:node<regex(^[0-9]{1,32}$)>/messages")
	method, route := unsafe.String(&buf[0], 4), unsafe.String(&buf[5], len(buf)-5)
	m.ObserveHTTP(method, route, 200, time.Millisecond)
	copy(buf, "GETX /admin/v1/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")
	m.ObserveHTTP("POST", "/:node<regex(^[0-9]{1,32}$)>/messages", 200, time.Millisecond)
	v, ok := series(t, m.Registry(), "waedge_http_requests_total", map[string]string{"method": "POST", "route": "/:node/messages", "status": "200"})
	if !ok || v != 2 {
		t.Fatalf("POST /:node/messages 200 = %v (found %v), want 2 in one series", v, ok)
	}
}
