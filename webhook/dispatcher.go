// Package webhook delivers the replicated webhook outbox to businesses:
// at least once, signed, with exponential back-off for up to 7 days, a
// concurrency limit per endpoint, and no effect on message acceptance (the
// outbox is written by the same Raft commands that accept messages; this
// worker only reads it and reports attempts).
package webhook

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/raftfsm"
)

// Proposer replicates a command (the node).
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Config tunes the dispatcher; zero values take the defaults.
type Config struct {
	// Egress is the policy the POSTs are dialed under (default: every
	// internal range refused, nothing allowed). Redirects are never
	// followed: a 3xx answer is a failed attempt.
	Egress *egress.Policy
	// Now is the clock (tests inject one).
	Now func() time.Time
	// BaseBackoff is the delay after the first failure (default 1 s); it
	// doubles per attempt up to MaxBackoff (default 1 h).
	BaseBackoff, MaxBackoff time.Duration
	// GiveUpAfter drops an event this long after it was queued (default 7 days).
	GiveUpAfter time.Duration
	// PerEndpoint bounds concurrent HTTP deliveries to one callback URL
	// (default 32). A delivery frees its slot when the receiver answers;
	// recording the outcome through Raft happens after, so commits of many
	// attempts overlap and share Raft rounds.
	PerEndpoint int
	// MaxPending bounds the events taken from the outbox and not yet
	// settled (being delivered or having their outcome committed), over
	// all endpoints (default 4096).
	MaxPending int
	// Poll is how often the outbox is scanned (default 20 ms).
	Poll time.Duration
	// Scan bounds how many queued events one scan looks at (default 512).
	Scan int
	// Timeout bounds one delivery attempt, from dialing to the end of the
	// answer (default 10 s); a receiver that holds longer counts as a
	// failed attempt ("timeout") and is retried.
	Timeout time.Duration
	// Open opens a sealed event body (required; seal.Sealer.Open). Bodies
	// are sealed by the proposer with aad raftfsm.WebhookAAD(WABA id),
	// because they carry message content and consumer numbers.
	Open func(aad, sealed []byte) ([]byte, error)
}

// Dispatcher is the leader-only webhook worker.
type Dispatcher struct {
	p      Proposer
	cfg    Config
	client *http.Client // callbacks over TLS or with credentials
	post   *poster      // plain-HTTP callbacks (post.go)
	logger *slog.Logger

	mu       sync.Mutex
	inflight map[string]bool // outbox keys claimed: queued, being delivered or recorded
	// eps holds, per callback URL, the events claimed for it and not yet
	// started, and its slot workers (at most PerEndpoint).
	eps map[string]*endpoint
	// scanGen counts scans; settled maps a key whose outcome was just
	// committed to the scanGen current at that moment. A scan whose read
	// transaction may predate that commit (its generation is not newer)
	// skips the key, so it never acts on the event's old NextAt.
	scanGen uint64
	settled map[string]uint64
	// resume is where the next outbox walk starts (nil: the head). Only
	// scan touches it.
	resume []byte
	// resumeBusy: resume is where the previous scan stopped because every
	// endpoint was at its limit (only scan touches it). Such a resume is
	// kept (the claimed events behind it are not walked again by every
	// scan) until a walk from the head is due: headEvery after the last
	// (headWalk, unix ms), or at once when this leader released a held
	// event behind it or dropped a claim (headDue, under mu).
	resumeBusy bool
	headWalk   int64
	headDue    bool
	// walked counts the keys scans have passed (skipped or decoded).
	walked int
	// memo: events a scan may pass without decoding (memo.go).
	memo memo
	// wake asks for a scan now: an endpoint slot was freed, so waiting for
	// the next poll would leave it idle.
	wake chan struct{}
	// outcomes feeds the recorder (record): the outcomes of a round are
	// replicated by one command.
	outcomes chan outcome
}

// outcome is one attempt waiting to be replicated. When its command has
// committed (or failed to), the recorder releases its claim on the event
// (claimed) and closes done (if any).
type outcome struct {
	a       raftfsm.WebhookAttempt
	group   string // the event's group (its message), for the memo
	claimed bool
	done    chan struct{}
}

// endpoint is one callback URL's work: events claimed by scans, waiting
// for one of its slot workers, which take them in queue order.
type endpoint struct {
	queue   []job
	workers int
}

// job is one claimed event to deliver.
type job struct {
	e   raftfsm.OutboxEvent
	app *raftfsm.App
	// fields are the webhook fields the app subscribed to at app level
	// (nil: no app-level subscription, every field is delivered).
	fields []string
}

// maxRound bounds the outcomes one CmdWebhookAttemptsV3 carries.
const maxRound = 1024

// New returns a dispatcher; run it with Run as a leader-only worker.
func New(p Proposer, cfg Config, logger *slog.Logger) *Dispatcher {
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 32
	}
	if cfg.Egress == nil {
		cfg.Egress = egress.New(egress.Config{})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 7 * 24 * time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.Scan <= 0 {
		cfg.Scan = 512
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Keep a connection per open delivery: a transport keeps two idle
	// connections per host by default, so at the endpoint limit almost
	// every POST would dial (and TLS-handshake) anew.
	// No client-wide timeout: each attempt's context carries Config.Timeout,
	// and a client timeout would cost every request a second timer and a
	// goroutine of its own.
	client := cfg.Egress.Client(egress.ClientConfig{IdleConnsPerHost: cfg.PerEndpoint})
	return &Dispatcher{p: p, cfg: cfg, client: client, post: newPoster(cfg.Egress.DialContext, cfg.PerEndpoint), logger: logger, inflight: map[string]bool{}, eps: map[string]*endpoint{}, settled: map[string]uint64{},
		memo: newMemo(), wake: make(chan struct{}, 1), outcomes: make(chan outcome, maxRound)}
}

// Backoff is the delay before attempt n+1 after n failed attempts.
func (d *Dispatcher) Backoff(n int) time.Duration {
	b := d.cfg.BaseBackoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.cfg.MaxBackoff)
}

// wakeGap is the shortest pause between a freed slot and the scan that
// refills it.
const wakeGap = 2 * time.Millisecond

// Run delivers until ctx ends (leadership lost or shutdown).
func (d *Dispatcher) Run(ctx context.Context) error {
	// A new term learns the outbox afresh: what another leader did
	// meanwhile is not in this memory.
	reset := func() {
		d.mu.Lock()
		d.memo = newMemo()
		d.resume = nil
		d.inflight = map[string]bool{}
		d.eps = map[string]*endpoint{}
		d.mu.Unlock()
	}
	reset()
	var wg sync.WaitGroup
	defer d.post.closeIdle()
	defer reset() // claims left by this term (queued, or outcomes not recorded)
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.recorder(ctx)
	}()
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		busy, err := d.scan(ctx, &wg)
		if err != nil {
			d.logger.Warn("webhook outbox scan failed", slog.Any("err", err))
		}
		// With every endpoint at its limit, nothing a poll finds can be
		// delivered: wait for a freed slot (wake), or a slow poll for
		// what a scan cannot foresee (a new subscription or callback).
		tick := t.C
		if busy {
			tick = time.After(busyPoll)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-d.wake:
			// Refill freed slots soon, but batch the wake-ups: a scan walks
			// past every event in flight.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wakeGap):
			}
		}
	}
}

// busyPoll is the poll while every endpoint is at its limit.
const busyPoll = 250 * time.Millisecond

// headEvery is how long a busy scan's resume may keep walks from the
// outbox's head: what comes due behind it unannounced (a back-off that
// ended) waits at most this much longer.
const headEvery = 100 * time.Millisecond

// scan claims due events for endpoints with room; busy reports that it
// stopped because every endpoint was at its limit.
func (d *Dispatcher) scan(ctx context.Context, wg *sync.WaitGroup) (busy bool, err error) {
	subs, err := d.p.FSM().Subscriptions()
	if err != nil {
		return false, err
	}
	appHooks, err := d.p.FSM().AppWebhooks()
	if err != nil {
		return false, err
	}
	phoneHooks, err := d.p.FSM().PhoneWebhooks()
	if err != nil {
		return false, err
	}
	now := d.cfg.Now().UnixMilli()
	type claim struct {
		e   raftfsm.OutboxEvent
		sub raftfsm.Subscription
		url string // the callback, with Meta's precedence (raftfsm.CallbackFor)
		// fields are the webhook fields the app subscribed to at app level
		// (nil: no app-level subscription, every field is delivered).
		fields []string
	}
	// Each subscription's app (its signing secret) is read once per scan.
	apps := map[string]*raftfsm.App{}
	var claims []claim
	claimed := map[string]int{} // claims per URL by this scan
	var unsubscribed [][]byte
	full := map[string]bool{} // endpoints at their concurrency limit
	scanned := 0
	d.mu.Lock()
	d.scanGen++
	gen := d.scanGen
	for k, g := range d.settled {
		if g < gen {
			delete(d.settled, k) // committed before this scan's read began
		}
	}
	d.memo.startScan(gen, now)
	if d.resumeBusy && (d.headDue || now-d.headWalk >= headEvery.Milliseconds()) {
		d.resume = nil
	}
	if d.resume == nil {
		d.headWalk, d.headDue = now, false
	}
	d.resumeBusy = false
	d.mu.Unlock()
	// Events already being delivered are skipped without being decoded, and
	// the walk stops once every endpoint is busy: a backlog costs nothing.
	// The walk resumes where the previous one stopped, so a backlog
	// waiting out its back-off (more events than one scan looks at) never
	// hides the events queued behind it.
	// Events known to be backing off or held are passed by key too
	// (memo.go), so they do not use up the scan's bound: the walk reaches
	// the due events behind any number of them. It passes at most walkCap
	// keys, then stops where the next scan resumes.
	var last, stopAt []byte
	walked := 0
	defer func() {
		d.mu.Lock()
		d.walked += min(walked, walkCap)
		d.mu.Unlock()
	}()
	err = d.p.FSM().OutboxEachFrom(d.resume, func(k []byte) bool {
		walked++
		if walked > walkCap {
			return false // decoded only to stop the walk there
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		_, recent := d.settled[string(k)]
		return d.inflight[string(k)] || recent || d.memo.skip(string(k), now)
	}, func(e raftfsm.OutboxEvent) bool {
		if walked > walkCap {
			stopAt = e.Key
			return false
		}
		scanned++
		last = e.Key
		if e.NextAt > now || e.Held {
			// Held: an older event of the same message is still queued;
			// the state machine releases this one when that one leaves.
			d.mu.Lock()
			if e.Held {
				d.memo.hold(string(e.Key), e.Group, now)
			} else {
				d.memo.wait(string(e.Key), e.NextAt)
			}
			d.mu.Unlock()
			return scanned < d.cfg.Scan
		}
		sub, ok := subs[e.WABAID]
		if !ok {
			unsubscribed = append(unsubscribed, e.Key) // nothing to deliver to
			return scanned < d.cfg.Scan
		}
		url := raftfsm.CallbackFor(sub, e.PhoneNumberID, appHooks, phoneHooks)
		// An endpoint takes as many events as it has slots beyond those
		// its workers are delivering, so a worker that finishes goes on
		// with the next at once instead of waiting for a scan.
		d.mu.Lock()
		ep := d.eps[url]
		queued := claimed[url]
		if ep != nil {
			queued += len(ep.queue)
		}
		free := queued < d.queueCap() && len(d.inflight) < d.cfg.MaxPending
		if free {
			d.inflight[string(e.Key)] = true
			claimed[url]++
		}
		d.mu.Unlock()
		if free {
			var fields []string
			if h, ok := appHooks[sub.AppID]; ok {
				fields = h.Fields
			}
			claims = append(claims, claim{e, sub, url, fields})
		} else {
			full[url] = true
		}
		if len(full) >= len(subs) && len(phoneHooks) == 0 {
			busy = true
			return false
		}
		return scanned < d.cfg.Scan
	})
	// Next scan: after the last event looked at when this one stopped at
	// its bound, at the event it could not claim when every endpoint was
	// busy (the claimed ones before it would only be walked past again),
	// from the head when it saw the whole queue.
	d.resume = nil
	switch {
	case err == nil && stopAt != nil:
		d.resume = append([]byte(nil), stopAt...)
	case err == nil && busy && last != nil:
		d.resume = append([]byte(nil), last...)
		d.resumeBusy = true
	case err == nil && scanned >= d.cfg.Scan && last != nil:
		d.resume = append(append([]byte(nil), last...), 0)
	}
	for _, c := range claims {
		app, ok := apps[c.sub.AppID]
		if !ok {
			if a, err := d.p.FSM().App(c.sub.AppID); err == nil {
				app = &a
			}
			apps[c.sub.AppID] = app
		}
		d.mu.Lock()
		ep := d.eps[c.url]
		if ep == nil {
			ep = &endpoint{}
			d.eps[c.url] = ep
		}
		ep.queue = append(ep.queue, job{c.e, app, c.fields})
		start := ep.workers < d.cfg.PerEndpoint && ep.workers < len(ep.queue)
		if start {
			ep.workers++
		}
		d.mu.Unlock()
		if start {
			wg.Add(1)
			go func(url string) {
				defer wg.Done()
				d.work(ctx, url)
			}(c.url)
		}
	}
	var dropped []chan struct{}
	for _, k := range unsubscribed {
		done := make(chan struct{})
		d.submit(ctx, outcome{a: raftfsm.WebhookAttempt{Key: k, GiveUp: true, Status: "unsubscribed", At: now}, done: done})
		dropped = append(dropped, done)
	}
	for _, done := range dropped {
		wait(ctx, done)
	}
	return busy, err
}

// work is one slot of url: it delivers the endpoint's queued events one
// after another and ends when the queue is empty (or ctx ends). Each
// outcome goes to the recorder, which releases the event once it is
// committed; the slot moves on at once, so commits of many deliveries
// overlap and share Raft rounds. Per-message order needs nothing here:
// only one event of a message is deliverable at a time (OutboxEvent.Held).
func (d *Dispatcher) work(ctx context.Context, url string) {
	for {
		d.mu.Lock()
		ep := d.eps[url]
		if ctx.Err() != nil || ep == nil || len(ep.queue) == 0 {
			if ep != nil {
				ep.workers--
				if ep.workers == 0 && len(ep.queue) == 0 {
					delete(d.eps, url)
				}
			}
			d.mu.Unlock()
			d.poke()
			return
		}
		j := ep.queue[0]
		ep.queue[0] = job{}
		ep.queue = ep.queue[1:]
		low := len(ep.queue) <= d.queueCap()/2
		d.mu.Unlock()
		if low {
			d.poke() // refill the queue before the slots run dry
		}
		a, ok := d.attempt(ctx, j.e, url, j.app, j.fields)
		if !ok {
			// Nothing to record: the event may be picked again (it may be
			// behind a busy scan's resume: the next walk starts at the head).
			d.mu.Lock()
			delete(d.inflight, string(j.e.Key))
			d.settled[string(j.e.Key)] = d.scanGen
			d.headDue = true
			d.mu.Unlock()
			continue
		}
		d.submit(ctx, outcome{a: a, group: j.e.Group, claimed: true})
	}
}

// queueDepth is how many events an endpoint's queue holds per slot. One
// per slot (as before) let 32 slots empty a queue of 32 in one round trip
// of the receiver, so they waited for the next scan (at least wakeGap
// later) every time; with four per slot a scan refills the queue while
// the slots still have work for several round trips.
const queueDepth = 4

// queueCap bounds an endpoint's queue of claimed events not yet started.
func (d *Dispatcher) queueCap() int { return d.cfg.PerEndpoint * queueDepth }

// poke asks for a scan soon.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default: // a scan is already due
	}
}

// attempt makes one delivery, signed with app's secret, and returns its
// outcome for the caller to replicate; ok is false when there is nothing
// to record (leadership lost mid-attempt, or the app is missing).
//
// fields, when not empty, are the fields the app subscribed to
// (POST /{app-id}/subscriptions): an event of another field is dropped
// (status not_subscribed), as Meta sends an app only the fields it
// subscribed to. Without an app-level subscription every field goes.
func (d *Dispatcher) attempt(ctx context.Context, e raftfsm.OutboxEvent, url string, app *raftfsm.App, fields []string) (a raftfsm.WebhookAttempt, ok bool) {
	if app == nil {
		d.logger.Warn("webhook app missing", slog.String("waba_id", e.WABAID))
		return a, false
	}
	body, err := d.open(e)
	if err != nil {
		// Its data key is gone (past retention) or the body is damaged: it
		// can never be delivered.
		d.logger.Warn("webhook event cannot be opened; dropped",
			slog.String("waba_id", e.WABAID), slog.String("event", hex.EncodeToString(e.Key)), slog.Any("err", err))
		return raftfsm.WebhookAttempt{Key: e.Key, GiveUp: true, Status: "unreadable", At: d.cfg.Now().UnixMilli()}, true
	}
	if len(fields) > 0 && !slices.Contains(fields, eventField(body)) {
		return raftfsm.WebhookAttempt{Key: e.Key, GiveUp: true, Status: "not_subscribed", At: d.cfg.Now().UnixMilli()}, true
	}
	status := "error"
	if url == "" {
		// Subscribed, but no level has a callback yet: kept and retried,
		// so setting one later delivers it.
		status = "no_callback"
	}
	timeout := d.cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if url != "" {
		var code int
		code, err = d.send(ctx, timeout, url, cloudapi.Sign(app.Secret, body), body)
		switch {
		case err == nil:
			status = "200"
			if code != 200 {
				status = strconv.Itoa(code)
			}
		case errors.Is(err, errRequest):
			// status stays "error": the request could not be made
		case ctx.Err() != nil:
			return a, false // leadership lost mid-attempt: the next leader retries
		case errors.Is(err, os.ErrDeadlineExceeded):
			status = "timeout"
		default:
			status = "unreachable" // refused, reset, no route, TLS failure…
		}
	}
	now := d.cfg.Now()
	a = raftfsm.WebhookAttempt{Key: e.Key, Status: status, At: now.UnixMilli()}
	switch {
	case status == "200":
		a.Delivered = true
	case now.Sub(time.UnixMilli(e.CreatedAt)) >= d.cfg.GiveUpAfter:
		a.GiveUp = true
		d.logger.Warn("webhook event dropped after retrying for the maximum time",
			slog.String("waba_id", e.WABAID), slog.String("event", hex.EncodeToString(e.Key)), slog.Int("attempts", e.Attempts+1))
	default:
		// Rounded up to the next millisecond: the scan compares whole
		// milliseconds, and a retry must never come before its back-off.
		a.NextAt = now.Add(d.Backoff(e.Attempts+1) + time.Millisecond - 1).UnixMilli()
	}
	return a, true
}

// send POSTs body, signed with sig, to url within timeout and returns the
// answer's status code: plain HTTP through the poster, anything else
// through the net/http client. An attempt that ran out of time fails with
// os.ErrDeadlineExceeded; ctx is the leader's term.
func (d *Dispatcher) send(ctx context.Context, timeout time.Duration, url, sig string, body []byte) (int, error) {
	if t := d.post.target(url); t != nil {
		// No context of its own: the deadline goes on the connection, and
		// the connection watches the term.
		return d.post.post(ctx, time.Now().Add(timeout), t, sig, body)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := d.sendHTTP(actx, url, sig, body)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		err = errors.Join(os.ErrDeadlineExceeded, err)
	}
	return code, err
}

// sendHTTP is send through the net/http client, bounded by ctx.
func (d *Dispatcher) sendHTTP(ctx context.Context, url, sig string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errRequest, err)
	}
	// The header map built whole, its names already canonical (Set
	// canonicalizes and grows the map, per request).
	req.Header = http.Header{"Content-Type": {"application/json"},
		"X-Hub-Signature-256": {sig}, "User-Agent": {"waedge-webhooks/1"}}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// errRequest: the request could not be made (a callback URL net/http
// does not take).
var errRequest = errors.New("webhook: cannot make the request")

// eventField is the webhook field of an event body
// (entry[0].changes[0].field; "" when the body has none).
func eventField(body []byte) string {
	var n struct {
		Entry []struct {
			Changes []struct {
				Field string `json:"field"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &n) != nil || len(n.Entry) == 0 || len(n.Entry[0].Changes) == 0 {
		return ""
	}
	return n.Entry[0].Changes[0].Field
}

// defaultTimeout bounds a delivery attempt when Config.Timeout is zero.
const defaultTimeout = 10 * time.Second

// open unseals an event body.
func (d *Dispatcher) open(e raftfsm.OutboxEvent) ([]byte, error) {
	if d.cfg.Open == nil {
		return nil, ErrNoOpener
	}
	return d.cfg.Open(raftfsm.WebhookAAD(e.WABAID), e.Body)
}

// ErrNoOpener: the dispatcher was configured without Config.Open.
var ErrNoOpener = errors.New("webhook: no opener configured for sealed bodies")

// submit hands an outcome to the recorder (see outcome).
func (d *Dispatcher) submit(ctx context.Context, o outcome) {
	select {
	case d.outcomes <- o:
	case <-ctx.Done():
		if o.done != nil {
			close(o.done)
		}
	}
}

func wait(ctx context.Context, done chan struct{}) {
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// recorder replicates outcomes, one CmdWebhookAttemptsV3 per round: it
// takes every outcome that arrived while the previous round was being
// committed (group commit), so the cost of Raft and of Apply's command
// overhead is shared by all the deliveries that finished meanwhile.
func (d *Dispatcher) recorder(ctx context.Context) {
	for {
		var round []outcome
		select {
		case <-ctx.Done():
			return
		case o := <-d.outcomes:
			round = append(round, o)
		}
	drain:
		for len(round) < maxRound {
			select {
			case o := <-d.outcomes:
				round = append(round, o)
			default:
				break drain
			}
		}
		attempts := make([]raftfsm.WebhookAttempt, len(round))
		for i, o := range round {
			attempts[i] = o.a
		}
		d.propose(ctx, raftfsm.EncodeWebhookAttempts(raftfsm.WebhookAttempts{Attempts: attempts}))
		// Only now may a scan pick these events again: their outcomes are
		// committed (or failed to be, and they are retried as queued).
		d.mu.Lock()
		for _, o := range round {
			if !o.claimed {
				continue
			}
			k := string(o.a.Key)
			delete(d.inflight, k)
			d.settled[k] = d.scanGen
			if o.a.Delivered || o.a.GiveUp {
				if d.memo.releaseGroup(o.group, d.scanGen) {
					d.headDue = true // a held event is due now, maybe behind a busy scan's resume
				}
			} else {
				d.memo.wait(k, o.a.NextAt)
			}
		}
		d.mu.Unlock()
		d.poke()
		for _, o := range round {
			if o.done != nil {
				close(o.done)
			}
		}
	}
}

// propose proposes an encoded command, logging a failure.
func (d *Dispatcher) propose(ctx context.Context, cmd []byte) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.p.Propose(pctx, cmd); err != nil && ctx.Err() == nil {
		d.logger.Warn("recording webhook attempts failed", slog.Any("err", fmt.Errorf("propose: %w", err)))
	}
}
