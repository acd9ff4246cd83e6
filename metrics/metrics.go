// Package metrics exposes a node's health in the Prometheus text format:
// HTTP traffic, Raft, the state machine, webhooks, the network queue,
// messages and expiry, and the Go runtime. Every label value comes from a
// fixed, small set (route templates, status codes, node ids, bucket names,
// message types): never a consumer number, content, a token or a business
// name.
package metrics

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/raftfsm"
)

// Node is what the metrics read from the running node (*node.Node).
type Node interface {
	Raft() *raft.Raft
	FSM() *raftfsm.FSM
	// PeerContacts reports when each peer last answered this node's
	// AppendEntries (meaningful while it leads).
	PeerContacts() map[string]time.Time
	// LeaderChanges counts the leader changes the node observed.
	LeaderChanges() uint64
}

// stageTimer is what a node that times the parts of a write's life
// (*node.Node) offers besides Node.
type stageTimer interface {
	CommitStages() []cluster.StageTiming
}

// BuildInfo labels waedge_build_info.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// Metrics is one process's registry and the instruments other packages
// feed.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpLatency  *prometheus.HistogramVec

	webhookAttempts *prometheus.CounterVec
	webhookFailures prometheus.Counter
	expiryRuns      prometheus.Counter
	expiryCommands  *prometheus.CounterVec
	expiryDeleted   prometheus.Counter

	// series caches the HTTP instruments by label values, so a request
	// costs a map lookup instead of the route regexp and two label hashes.
	seriesMu sync.RWMutex
	series   map[httpSeries]httpInstruments
}

type httpSeries struct {
	method, route string
	status        int
}

type httpInstruments struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// maxHTTPSeries bounds the cache (routes and statuses are few; anything
// beyond is looked up every time).
const maxHTTPSeries = 4096

// New builds the registry. node may be nil (no Raft or state machine
// metrics, for tests of the HTTP side). cacheFor bounds how often the state
// machine is walked for its sizes and counters (default 5 s): a scrape in
// between gets the cached values.
func New(node Node, build BuildInfo, cacheFor time.Duration) *Metrics {
	if cacheFor <= 0 {
		cacheFor = 5 * time.Second
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waedge_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "waedge_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		webhookAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waedge_webhook_attempts_total",
			Help: "Webhook delivery attempts recorded by this node while leading, by outcome (delivered, retry, dropped).",
		}, []string{"outcome"}),
		webhookFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waedge_webhook_failures_total",
			Help: "Webhook delivery attempts that did not deliver (retried or dropped), recorded by this node while leading.",
		}),
		expiryRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waedge_expiry_runs_total",
			Help: "Expiry runs this node completed as leader (a run is expire commands until nothing is left).",
		}),
		expiryCommands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waedge_expiry_commands_total",
			Help: "Expire commands this node proposed as leader, by result (ok, error).",
		}, []string{"result"}),
		expiryDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waedge_expiry_deleted_total",
			Help: "Records deleted by the expire commands this node proposed.",
		}),
	}
	reg.MustRegister(m.httpRequests, m.httpLatency, m.webhookAttempts, m.webhookFailures,
		m.expiryRuns, m.expiryCommands, m.expiryDeleted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "waedge_build_info",
		Help:        "Always 1; the labels name the running binary.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "go_version": build.GoVersion},
	})
	info.Set(1)
	reg.MustRegister(info)
	if node != nil {
		reg.MustRegister(newNodeCollector(node, cacheFor))
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the underlying registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

var routeParam = regexp.MustCompile(`<[^>]*>`)

// ObserveHTTP counts one answered request. route is the matched route
// template (e.g. "/:node<regex(…)>/messages"); its parameter constraints
// are dropped from the label ("/:node/messages"). method and route may
// point into buffers the caller reuses: they are copied where they are
// kept (a new series), so the common case, a known series, copies nothing.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	key := httpSeries{method: method, route: route, status: status}
	m.seriesMu.RLock()
	in, ok := m.series[key]
	m.seriesMu.RUnlock()
	if !ok {
		key.method, key.route = strings.Clone(method), strings.Clone(route)
		method = key.method
		label := routeParam.ReplaceAllString(key.route, "")
		in = httpInstruments{requests: m.httpRequests.WithLabelValues(method, label, strconv.Itoa(status)),
			latency: m.httpLatency.WithLabelValues(method, label)}
		m.seriesMu.Lock()
		if m.series == nil {
			m.series = map[httpSeries]httpInstruments{}
		}
		if len(m.series) < maxHTTPSeries {
			m.series[key] = in
		}
		m.seriesMu.Unlock()
	}
	in.requests.Inc()
	in.latency.Observe(d.Seconds())
}

// Proposer is what the webhook dispatcher and the expiry worker propose
// through (the node).
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Counting wraps p so that the webhook attempts and expire commands
// proposed through it are counted. Wrap the proposer of the leader-only
// workers with it; other commands pass through untouched.
func (m *Metrics) Counting(p Proposer) Proposer { return countingProposer{Proposer: p, m: m} }

type countingProposer struct {
	Proposer
	m *Metrics
}

func (c countingProposer) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	res, err := c.Proposer.Propose(ctx, cmd)
	t, payload, derr := raftfsm.DecodeCommand(cmd)
	if derr != nil {
		return res, err
	}
	switch t {
	case raftfsm.CmdWebhookAttempt:
		var a raftfsm.WebhookAttempt
		if err != nil || res.Err != nil || raftfsm.DecodePayload(payload, &a) != nil {
			break
		}
		outcome := "retry"
		switch {
		case a.Delivered:
			outcome = "delivered"
		case a.GiveUp:
			outcome = "dropped"
		}
		c.m.webhookAttempts.WithLabelValues(outcome).Inc()
		if outcome != "delivered" {
			c.m.webhookFailures.Inc()
		}
	case raftfsm.CmdExpire:
		if err != nil || res.Err != nil {
			c.m.expiryCommands.WithLabelValues("error").Inc()
			break
		}
		c.m.expiryCommands.WithLabelValues("ok").Inc()
		if r, derr := raftfsm.DecodeExpireResult(res.Value); derr == nil {
			c.m.expiryDeleted.Add(float64(r.Deleted))
			if !r.More {
				c.m.expiryRuns.Inc()
			}
		}
	}
	return res, err
}

// nodeCollector reads Raft on every scrape and the state machine at most
// once per cacheFor.
type nodeCollector struct {
	node     Node
	cacheFor time.Duration

	state, term, commit, applied, lag, leaderChanges, lastContact *prometheus.Desc
	peerContact, fsmBytes, bucketKeys, outbox, netQueue, sessions *prometheus.Desc
	messages, scrapeErrors                                        *prometheus.Desc
	stages                                                        *prometheus.Desc

	mu       sync.Mutex
	cachedAt time.Time
	gauges   raftfsm.Gauges
	msgs     map[[3]string]int64
	errs     float64
}

func newNodeCollector(n Node, cacheFor time.Duration) *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &nodeCollector{
		node: n, cacheFor: cacheFor,
		state:         d("waedge_raft_state", "1 for this node's current Raft state (leader, follower, candidate, shutdown), 0 for the others.", "state"),
		term:          d("waedge_raft_term", "This node's current Raft term."),
		commit:        d("waedge_raft_commit_index", "The highest log index this node knows is committed."),
		applied:       d("waedge_raft_applied_index", "The highest log index applied to this node's state machine."),
		lag:           d("waedge_raft_apply_lag", "Committed log entries not yet applied on this node (commit index minus applied index)."),
		leaderChanges: d("waedge_raft_leader_changes_total", "Leader changes this node observed since it started."),
		lastContact:   d("waedge_raft_leader_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader)."),
		peerContact:   d("waedge_raft_peer_last_contact_seconds", "On the leader: seconds since each peer last answered an AppendEntries or heartbeat (-1: never since this node started).", "peer"),
		fsmBytes:      d("waedge_fsm_bytes", "Size of this node's state machine database."),
		bucketKeys:    d("waedge_fsm_bucket_keys", "Keys in each top-level bucket of the state machine.", "bucket"),
		outbox:        d("waedge_webhook_outbox_depth", "Webhook events queued and not yet delivered or dropped."),
		netQueue:      d("waedge_network_queue_depth", "Outbound messages accepted and not yet accepted by the network (to encrypt, or encrypted and unsent)."),
		sessions:      d("waedge_signal_sessions", "Signal sessions held (one per business number and consumer)."),
		messages:      d("waedge_messages_total", "Messages counted by the replicated statistics (cluster-wide, the same on every node), by type, direction and status.", "type", "direction", "status"),
		scrapeErrors:  d("waedge_metrics_fsm_read_errors_total", "State machine reads for the metrics that failed."),
		stages:        d("waedge_commit_stage_seconds", "Time this node spent in each part of a write's life since it started, and how often (the mean between two scrapes is Δsum ÷ Δcount): queue, forward, raft_apply, wait_applied, serve_forwarded, log_store, fsm_apply.", "stage"),
	}
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.term, c.commit, c.applied, c.lag, c.leaderChanges, c.lastContact,
		c.peerContact, c.fsmBytes, c.bucketKeys, c.outbox, c.netQueue, c.sessions, c.messages, c.scrapeErrors, c.stages} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	r := c.node.Raft()
	state := r.State()
	for _, s := range []raft.RaftState{raft.Leader, raft.Follower, raft.Candidate, raft.Shutdown} {
		v := 0.0
		if s == state {
			v = 1
		}
		gauge(c.state, v, stateLabel(s))
	}
	commit, applied := r.CommitIndex(), r.AppliedIndex()
	gauge(c.term, float64(r.CurrentTerm()))
	gauge(c.commit, float64(commit))
	gauge(c.applied, float64(applied))
	lag := 0.0
	if commit > applied {
		lag = float64(commit - applied)
	}
	gauge(c.lag, lag)
	ch <- prometheus.MustNewConstMetric(c.leaderChanges, prometheus.CounterValue, float64(c.node.LeaderChanges()))
	if st, ok := c.node.(stageTimer); ok {
		for _, s := range st.CommitStages() {
			ch <- prometheus.MustNewConstSummary(c.stages, s.Count, s.Total.Seconds(), nil, s.Stage)
		}
	}
	since := 0.0
	if lc := r.LastContact(); state != raft.Leader && !lc.IsZero() {
		since = time.Since(lc).Seconds()
	}
	gauge(c.lastContact, since)
	if state == raft.Leader {
		contacts := c.node.PeerContacts()
		if f := r.GetConfiguration(); f.Error() == nil {
			_, self := r.LeaderWithID()
			for _, s := range f.Configuration().Servers {
				if s.ID == self {
					continue
				}
				// -1: the peer never answered since this node started.
				v := -1.0
				if t, ok := contacts[string(s.ID)]; ok {
					v = time.Since(t).Seconds()
				}
				gauge(c.peerContact, v, string(s.ID))
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.cachedAt) >= c.cacheFor {
		c.refresh()
	}
	gauge(c.fsmBytes, float64(c.gauges.Bytes))
	for name, n := range c.gauges.Keys {
		gauge(c.bucketKeys, float64(n), name)
	}
	gauge(c.outbox, float64(c.gauges.OutboxDepth))
	gauge(c.netQueue, float64(c.gauges.NetworkQueue))
	gauge(c.sessions, float64(c.gauges.Sessions))
	for k, n := range c.msgs {
		ch <- prometheus.MustNewConstMetric(c.messages, prometheus.CounterValue, float64(n), k[0], k[1], k[2])
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.CounterValue, c.errs)
}

// refresh re-reads the state machine's sizes and message counters.
func (c *nodeCollector) refresh() {
	fsm := c.node.FSM()
	g, err := fsm.Gauges()
	if err != nil {
		c.errs++
		return
	}
	rows, err := fsm.Stats(nil, "", "")
	if err != nil {
		c.errs++
		return
	}
	msgs := map[[3]string]int64{}
	for _, r := range rows {
		msgs[[3]string{labelValue(r.Type), labelValue(r.Direction), labelValue(r.Status)}] += r.Count
	}
	c.gauges, c.msgs, c.cachedAt = g, msgs, time.Now()
}

func stateLabel(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

var safeLabel = regexp.MustCompile(`^[a-z_]{1,32}$`)

// labelValue passes the short lower-case words the statistics use (message
// types, directions, statuses) and folds anything else into "other", so a
// value that came from outside can never carry data into a label.
func labelValue(v string) string {
	if safeLabel.MatchString(v) {
		return v
	}
	return "other"
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// DescribedNames lists the names of the metrics m's collectors describe,
// including those that have no series yet (tests and docs).
func DescribedNames(m *Metrics) []string {
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		m.reg.Describe(ch)
		close(ch)
	}()
	var out []string
	for d := range ch {
		if s := descName.FindStringSubmatch(d.String()); s != nil {
			out = append(out, s[1])
		}
	}
	return out
}
