package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultWebhookEvents is how many events the webhooks scenario drains
// when --messages is not given.
const defaultWebhookEvents = 10000

// webhookSlots is the dispatcher's default number of concurrent
// deliveries per endpoint, and so the bare loop's concurrency.
const webhookSlots = 32

// runWebhooks measures webhook events delivered per second to a local
// receiver (an HTTP/1.1 server in the bench, receiver.go, checking every
// signature).
// The bench's nodes run the embedded sandbox network; --messages template
// messages go to consumers nobody hosts, so the leader's connector marks
// each failed and queues one signed `failed` status event. events_per_s
// is distinct events delivered over the time from the first send to the
// last delivery: the whole path (accept, the connector's verdict, the
// dispatcher), bounded by its slowest part; catchup_per_s is the rate at
// which what was behind when the sends stopped got delivered (reported
// when at least 500 events were behind). With --baseline, a bare loop —
// HMAC-SHA256 of a real event body and an HTTP POST to the same
// receiver, 32 at a time like the dispatcher's slots per endpoint — runs
// for --duration after it.
//
// The end-to-end figure is bounded by producing the events (accepting
// sends and the connector's verdicts), so a second phase measures the
// dispatcher alone: the receiver holds every POST unanswered while as
// many events again are queued (the dispatcher fills its slots and
// waits; a held request that times out is retried), then answers them
// all; drain_per_s is the events queued over the time from that release
// to the last delivery. A receiver that refused them instead would make
// every event wait out its retry back-off, which is the schedule, not
// the dispatcher.
func runWebhooks(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	if err := ownClusterOnly(o, "webhooks needs the nodes to reach the bench's local receiver"); err != nil {
		return err
	}
	events := o.messagesOr(defaultWebhookEvents)
	var extra []string
	if egressFlag(o.Binary) {
		extra = append(extra, "--egress-allow", "127.0.0.0/8")
	}
	c, biz, err := openWithBusiness(ctx, o, pr, extra, nil)
	if err != nil {
		return err
	}
	defer c.close()
	rc, err := subscribeReceiver(ctx, c, biz, nil)
	if err != nil {
		return err
	}
	defer rc.close()

	// Every accepted message becomes one `failed` status event.
	pr.note("sending %d messages to consumers nobody hosts: each yields one signed status event", events)
	conc := o.Senders[0]
	s := newSender(c, biz, conc)
	var cnt counter
	done := pr.run("send    ", 0, &cnt)
	start := time.Now()
	if err := forEach(ctx, events, conc, &cnt, func(ctx context.Context, i int) error {
		return s.send(ctx, i%len(c.urls), 1_000_000+int64(i))
	}); err != nil {
		return err
	}
	sent := time.Now()
	done()
	s.close()
	cnt.report(pr)
	// The set-up's sends (one per node) may yield events too, or may have
	// been dropped before the subscription existed: wait for every send's
	// event, then until no more come for a second.
	accepted := int(cnt.ok.Load())
	atSent := rc.delivered()
	var dc counter
	done = pr.run(fmt.Sprintf("deliver %d", accepted), 0, &dc)
	err = poll(ctx, 10*time.Minute, "every event delivered", func() (bool, error) {
		n := rc.delivered()
		dc.ok.Store(int64(n))
		return n >= accepted && time.Since(rc.lastDelivery()) > time.Second, nil
	})
	done()
	if err != nil {
		return fmt.Errorf("%w (%d of %d delivered)", err, rc.delivered(), accepted)
	}
	total, last := rc.delivered(), rc.lastDelivery()
	el := last.Sub(start)
	rate := float64(total) / el.Seconds()
	r := Result{Scenario: "webhooks"}
	r.add("events", total)
	r.add("duration_s", el.Seconds())
	r.add("events_per_s", rate)
	r.add("sends_per_s", float64(accepted)/sent.Sub(start).Seconds())
	// What was still undelivered when the sends stopped (not yet marked
	// failed by the connector, or queued in the outbox), and the rate at
	// which it was caught up with (when at least 500 events were behind).
	r.add("behind_at_end", accepted-atSent)
	if backlog := total - atSent; backlog >= 500 {
		r.add("catchup_per_s", float64(backlog)/last.Sub(sent).Seconds())
	} else {
		r.add("catchup_per_s", nil)
	}
	r.add("errors", cnt.errors.Load())

	// Drain: queue as many events again behind a receiver that holds
	// every request, then release it.
	drain, err := drainWebhooks(ctx, c, biz, rc, events, conc, pr)
	if err != nil {
		return err
	}
	r.add("drain_events", drain.events)
	r.add("drain_duration_s", drain.el.Seconds())
	r.add("drain_per_s", drain.rate())
	r.add("drain_cpu_us_per_event", drain.cpuPerEvent())
	r.add("drain_events_per_entry", drain.perEntry())
	r.add("drain_bench_cpu_us_per_event", cpuPerOp(0, drain.benchCPU, int64(drain.events)))
	r.add("bad_signatures", rc.badSignatures.Load())
	c.addMemory(&r)
	if o.Baseline {
		var bc counter
		done := pr.run("bare sign+POST", o.Duration, &bc)
		bl := rc.bareLoop(ctx, webhookSlots, o.Duration, &bc)
		done()
		bc.report(pr)
		r.add("baseline_per_s", bl.Rate())
		if q, ok := Ratio(rate, bl.Rate()); ok {
			r.add("ratio", q)
		} else {
			r.add("ratio", nil)
		}
		if q, ok := Ratio(drain.rate(), bl.Rate()); ok {
			r.add("drain_ratio", q)
		} else {
			r.add("drain_ratio", nil)
		}
	}
	emit(r)
	return nil
}

// drained is the outcome of the drain phase.
type drained struct {
	events int
	el     time.Duration // from the release to the last delivery
	// cpu is the CPU time (user and system) the nodes used from the
	// release until every event was delivered (-1: not measured, a
	// --target cluster).
	cpu time.Duration
	// entries is how many Raft entries were committed meanwhile (0: not
	// read): the outcome rounds, mostly.
	entries int
	// benchCPU is the bench process's own CPU time meanwhile: mostly the
	// receiver (parsing, the signature check), which shares the machine
	// with the nodes (-1: not read).
	benchCPU time.Duration
}

// perEntry is the drained events per committed Raft entry (nil when not
// read).
func (d drained) perEntry() any {
	if d.entries <= 0 {
		return nil
	}
	return float64(d.events) / float64(d.entries)
}

// cpuPerEvent is the nodes' CPU time per drained event in µs (nil when
// not measured).
func (d drained) cpuPerEvent() any {
	return cpuPerOp(0, d.cpu, int64(d.events))
}

func (d drained) rate() float64 {
	if d.el <= 0 {
		return 0
	}
	return float64(d.events) / d.el.Seconds()
}

// drainWebhooks pauses rc, sends n messages (each yields one event),
// waits until the outbox holds all their events, releases rc and times
// their delivery.
func drainWebhooks(ctx context.Context, c *cluster, biz business, rc *receiver, n, conc int, pr *progress) (drained, error) {
	pr.note("drain: the receiver holds every request while %d more events are queued", n)
	release := rc.pause()
	defer release() // on every error path too
	before := rc.delivered()
	s := newSender(c, biz, conc)
	defer s.close()
	var cnt counter
	done := pr.run("queue   ", 0, &cnt)
	err := forEach(ctx, n, conc, &cnt, func(ctx context.Context, i int) error {
		return s.send(ctx, i%len(c.urls), 2_000_000+int64(i))
	})
	done()
	if err != nil {
		return drained{}, err
	}
	cnt.report(pr)
	queued := int(cnt.ok.Load())
	var depth int
	err = poll(ctx, 10*time.Minute, "every event queued", func() (bool, error) {
		var err error
		depth, err = c.outboxDepth(ctx)
		return err == nil && depth >= queued, nil
	})
	if err != nil {
		return drained{}, fmt.Errorf("%w (%d of %d queued)", err, depth, queued)
	}
	var dc counter
	// Announced before the release, so a profiler watching the output
	// can start with the drain.
	pr.note("drain: all %d events queued; releasing the receiver", queued)
	done = pr.run(fmt.Sprintf("drain %d", queued), 0, &dc)
	cpu0, self0 := c.cpuTime(), selfCPU()
	idx0, err0 := c.commitIndex(ctx)
	start := time.Now()
	release()
	err = poll(ctx, 10*time.Minute, "every queued event delivered", func() (bool, error) {
		got := rc.delivered() - before
		dc.ok.Store(int64(got))
		return got >= queued, nil
	})
	cpu, self := c.cpuTime(), selfCPU()
	done()
	if err != nil {
		return drained{}, fmt.Errorf("%w (%d of %d delivered)", err, rc.delivered()-before, queued)
	}
	entries := 0
	if idx, err := c.commitIndex(ctx); err == nil && err0 == nil {
		entries = idx - idx0
	}
	if cpu0 < 0 || cpu < 0 {
		cpu = -1
	} else {
		cpu -= cpu0
	}
	benchCPU := time.Duration(-1)
	if self0 >= 0 && self >= 0 {
		benchCPU = self - self0
	}
	return drained{events: queued, el: rc.lastDelivery().Sub(start), cpu: cpu, entries: entries, benchCPU: benchCPU}, nil
}

// selfCPU is the CPU time (user and system) of the bench process (-1:
// not readable).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// commitIndex reads the first node's Raft commit index from its metrics.
func (c *cluster) commitIndex(ctx context.Context) (int, error) {
	return c.gauge(ctx, "waedge_raft_commit_index")
}

// outboxDepth reads the webhook outbox depth from the first node's
// metrics (the outbox is replicated: any node has it).
func (c *cluster) outboxDepth(ctx context.Context) (int, error) {
	return c.gauge(ctx, "waedge_webhook_outbox_depth")
}

// gauge reads an unlabelled gauge from the first node's metrics.
func (c *cluster) gauge(ctx context.Context, name string) (int, error) {
	text, err := c.metrics(ctx, c.urls[0])
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("GET /metrics: no %s", name)
}

// metrics is the text of GET /metrics on the node at url.
func (c *cluster) metrics(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.api.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return string(b), nil
}

// cpuTime is the CPU time (user and system) the bench's node processes
// have used, from /proc/PID/stat; -1 for a cluster the bench did not
// start or when a node's figure cannot be read.
func (c *cluster) cpuTime() time.Duration {
	if !c.owned() {
		return -1
	}
	var total time.Duration
	for _, p := range c.nodes {
		pid, ok := p.pid()
		if !ok {
			return -1
		}
		t, ok := procCPU(pid)
		if !ok {
			return -1
		}
		total += t
	}
	return total
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// procCPU reads utime+stime of pid from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * time.Second / clockTicks, true
}

// egressFlag reports whether bin's serve takes --egress-allow (nodes
// that restrict webhook egress need loopback allowed for the receiver).
func egressFlag(bin string) bool {
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-egress-allow"))
}

// bareLoop signs a real event body with HMAC-SHA256 and POSTs it to the
// receiver, conc at a time, for duration: what delivering costs with no
// cluster behind it.
func (rc *receiver) bareLoop(ctx context.Context, conc int, duration time.Duration, c *counter) Load {
	rc.mu.Lock()
	body := rc.sample
	rc.mu.Unlock()
	tr := &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return closedLoop(ctx, conc, duration, c, func(ctx context.Context, _ int, _ int64) error {
		m := hmac.New(sha256.New, rc.secret)
		m.Write(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rc.url+"/bare", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
		resp, err := client.Do(req)
		if err != nil {
			return c.note(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			return c.note(fmt.Errorf("bare POST: %d", resp.StatusCode))
		}
		return nil
	})
}
