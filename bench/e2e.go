package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/signalstore"
)

// defaultE2EMessages is how many messages go each way when --messages is
// not given.
const defaultE2EMessages = 10000

// runE2E measures messages per second each way through real Signal: a
// `waedge relay` process (the sandbox network) hosts --phones simulated
// phones, each with its own libsignal identity; the nodes run with
// --network relay://… . Every phone first sends one message (its session
// is set up: X3DH on both ends); then --messages messages go from the
// phones to the business (inbound: decrypted, committed, delivered as a
// signed webhook to the bench's receiver) and --messages from the API to
// the phones (outbound: accepted, encrypted, committed, relayed,
// decrypted by the phone, whose delivery receipt comes back as a
// `delivered` status webhook). Each rate is messages over the time from
// the first send to the last webhook. The first --senders value is the
// concurrency of both phases. With --baseline, a bare libsignal loop —
// encrypt, then decrypt by the peer, in memory, no network, no storage —
// runs for --duration at the same concurrency.
func runE2E(ctx context.Context, o Options, pr *progress, emit func(Result)) error {
	if err := ownClusterOnly(o, "e2e starts its own relay and receiver"); err != nil {
		return err
	}
	msgs := o.messagesOr(defaultE2EMessages)
	conc := o.Senders[0]
	c, err := newCluster(o.Binary)
	if err != nil {
		return err
	}
	c.keep = o.Keep
	defer c.close()
	relayAddr, relayToken, err := c.startRelay(ctx)
	if err != nil {
		return err
	}
	extra := []string{"--network", "relay://" + relayAddr}
	if egressFlag(o.Binary) {
		extra = append(extra, "--egress-allow", "127.0.0.0/8")
	}
	pr.note("starting %d waedge nodes on the relay at %s", o.Nodes, relayAddr)
	if err := c.startNodes(ctx, o.Nodes, append(extra, o.ServeArgs...), nil, pr); err != nil {
		return err
	}
	biz, err := newBusiness(ctx, c)
	if err != nil {
		return err
	}
	var tally e2eTally
	rc, err := subscribeReceiver(ctx, c, biz, tally.event)
	if err != nil {
		return err
	}
	defer rc.close()

	relayAPI := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	phones := make([]string, o.Phones)
	for i := range phones {
		phones[i] = fmt.Sprintf("49152%08d", i)
	}
	relayPost := func(ctx context.Context, path string, body any) error {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, "POST", "http://"+relayAddr+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+relayToken)
		resp, err := relayAPI.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("relay %s: %d %s", path, resp.StatusCode, bytes.TrimSpace(out))
		}
		return nil
	}
	phoneSend := func(ctx context.Context, i int, text string) error {
		return relayPost(ctx, "/sandbox/phones/"+phones[i%len(phones)]+"/send",
			map[string]string{"to": biz.Phone, "type": "text", "text": text})
	}

	// Hosted phones, then one message from each (sessions set up).
	var cnt counter
	done := pr.run(fmt.Sprintf("create %d phones", len(phones)), 0, &cnt)
	err = allOK(ctx, len(phones), conc, &cnt, func(ctx context.Context, i int) error {
		return relayPost(ctx, "/sandbox/phones", map[string]string{"number": phones[i], "name": "bench " + strconv.Itoa(i)})
	})
	done()
	if err != nil {
		return err
	}
	start := time.Now()
	cnt = counter{}
	done = pr.run("first messages (sessions)", 0, &cnt)
	// The business number registers its Signal identity with the relay
	// once a leader's connector runs; until then a phone's first message
	// finds no bundle ("number not registered"), so it is retried for a
	// while instead of failing the run.
	err = allOK(ctx, len(phones), conc, &cnt, func(ctx context.Context, i int) error {
		return poll(ctx, 30*time.Second, "the business number on the relay", func() (bool, error) {
			err := phoneSend(ctx, i, "hello")
			if err != nil && strings.Contains(err.Error(), "not registered") {
				return false, nil
			}
			return err == nil, err
		})
	})
	if err == nil {
		err = waitCount(ctx, &tally.inbound, int64(len(phones)), &cnt)
	}
	done()
	if err != nil {
		return fmt.Errorf("first messages: %w", err)
	}
	sessions := float64(len(phones)) / time.Since(start).Seconds()

	// Inbound: phones → signed webhook.
	pr.note("phase inbound")
	cpuIn := c.e2eCPU()
	start = time.Now()
	cnt = counter{}
	done = pr.run(fmt.Sprintf("inbound %d", msgs), 0, &cnt)
	err = forEach(ctx, msgs, conc, &cnt, func(ctx context.Context, i int) error {
		return phoneSend(ctx, i, "bench inbound "+strconv.Itoa(i)+" "+benchText[:200])
	})
	inSent, inFailed := cnt.ok.Load(), cnt.errors.Load()
	if err == nil {
		err = waitCount(ctx, &tally.inbound, int64(len(phones))+inSent, &cnt)
	}
	done()
	cnt.report(pr)
	if err != nil {
		return fmt.Errorf("inbound: %w", err)
	}
	inbound := float64(inSent) / tally.lastInbound().Sub(start).Seconds()
	cpuIn = c.e2eCPU().minus(cpuIn)

	// Outbound: API → decrypted by the phone → `delivered` webhook.
	s := newSender(c, biz, conc)
	defer s.close()
	pr.note("phase outbound")
	cpuOut := c.e2eCPU()
	start = time.Now()
	cnt = counter{}
	done = pr.run(fmt.Sprintf("outbound %d", msgs), 0, &cnt)
	err = forEach(ctx, msgs, conc, &cnt, func(ctx context.Context, i int) error {
		return s.post(ctx, i%len(c.urls), `{"messaging_product":"whatsapp","to":"`+phones[i%len(phones)]+
			`","type":"text","text":{"body":"bench outbound `+strconv.Itoa(i)+` `+benchText[:200]+`"}}`)
	})
	acceptEl := time.Since(start)
	outSent, outFailed := cnt.ok.Load(), cnt.errors.Load()
	if err == nil {
		err = waitCount(ctx, &tally.delivered, outSent, &cnt)
	}
	done()
	cnt.report(pr)
	if err != nil {
		return fmt.Errorf("outbound: %w", err)
	}
	outbound := float64(outSent) / tally.lastDelivered().Sub(start).Seconds()
	cpuOut = c.e2eCPU().minus(cpuOut)
	pr.note("phase end")

	r := Result{Scenario: "e2e"}
	r.add("phones", len(phones))
	r.add("messages", msgs)
	r.add("senders", conc)
	r.add("new_sessions_per_s", sessions)
	r.add("inbound_per_s", inbound)
	r.add("outbound_per_s", outbound)
	r.add("api_accepted_per_s", float64(outSent)/acceptEl.Seconds())
	r.add("errors", inFailed+outFailed)
	r.add("bad_signatures", rc.badSignatures.Load())
	cpuIn.add(&r, "inbound", inSent)
	cpuOut.add(&r, "outbound", outSent)
	c.addMemory(&r)
	if o.Baseline {
		var bc counter
		done := pr.run(fmt.Sprintf("bare libsignal senders=%d", conc), o.Duration, &bc)
		bl, err := bareSignal(ctx, conc, o.Duration, &bc)
		done()
		if err != nil {
			return fmt.Errorf("bare libsignal: %w", err)
		}
		r.add("baseline_per_s", bl.Rate())
		for _, k := range []struct {
			key  string
			rate float64
		}{{"ratio_inbound", inbound}, {"ratio_outbound", outbound}} {
			if q, ok := Ratio(k.rate, bl.Rate()); ok {
				r.add(k.key, q)
			} else {
				r.add(k.key, nil)
			}
		}
	}
	emit(r)
	return nil
}

// forEach runs fn for 0…n-1, conc at a time, counting successes and
// failures in c (the first failure is kept); it returns ctx's error.
func forEach(ctx context.Context, n, conc int, c *counter, fn func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if c.note(fn(ctx, int(i))) != nil {
					c.errors.Add(1)
					continue
				}
				c.ok.Add(1)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// allOK is forEach where every call must succeed.
func allOK(ctx context.Context, n, conc int, c *counter, fn func(ctx context.Context, i int) error) error {
	if err := forEach(ctx, n, conc, c, fn); err != nil {
		return err
	}
	if e := c.first.Load(); e != nil {
		return fmt.Errorf("%d of %d failed, the first: %w", c.errors.Load(), n, *e)
	}
	return nil
}

// waitCount waits until v reaches want, showing it on the progress line.
func waitCount(ctx context.Context, v *atomic.Int64, want int64, c *counter) error {
	return poll(ctx, 30*time.Minute, fmt.Sprintf("%d webhooks", want), func() (bool, error) {
		c.ok.Store(v.Load())
		return v.Load() >= want, nil
	})
}

// e2eTally counts what the receiver got: inbound messages and
// `delivered` statuses, each message once.
type e2eTally struct {
	inbound, delivered atomic.Int64
	mu                 sync.Mutex
	seen               map[string]bool
	lastIn, lastDel    time.Time
}

func (t *e2eTally) event(body []byte) {
	var n struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						ID string `json:"id"`
					} `json:"messages"`
					Statuses []struct {
						ID     string `json:"id"`
						Status string `json:"status"`
					} `json:"statuses"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &n) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	for _, e := range n.Entry {
		for _, ch := range e.Changes {
			for _, m := range ch.Value.Messages {
				if !t.seen["in/"+m.ID] {
					t.seen["in/"+m.ID] = true
					t.lastIn = time.Now()
					t.inbound.Add(1)
				}
			}
			for _, s := range ch.Value.Statuses {
				if s.Status == "delivered" && !t.seen["dl/"+s.ID] {
					t.seen["dl/"+s.ID] = true
					t.lastDel = time.Now()
					t.delivered.Add(1)
				}
			}
		}
	}
}

func (t *e2eTally) lastInbound() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastIn
}

func (t *e2eTally) lastDelivered() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastDel
}

// bareSignal measures libsignal alone: conc pairs of in-memory Signal
// stores (signalstore over MemStore: no disk, no network), each pair with
// a session set up by X3DH before the clock starts; every step encrypts a
// 250-byte message on one side and decrypts it on the other, the
// direction alternating so the ratchet advances as in a conversation.
func bareSignal(ctx context.Context, conc int, duration time.Duration, c *counter) (Load, error) {
	signalstore.SetupLogging(slog.New(slog.DiscardHandler))
	type pair struct{ a, b *signalstore.SignalStore }
	pairs := make([]pair, conc)
	aAddr, bAddr := signalstore.Address("4915000000001", 1), signalstore.Address("4915000000002", 1)
	msg := []byte(benchText[:250])
	for i := range pairs {
		a, err := signalstore.Open(signalstore.NewMemStore())
		if err != nil {
			return Load{}, err
		}
		b, err := signalstore.Open(signalstore.NewMemStore())
		if err != nil {
			return Load{}, err
		}
		otks, err := b.NewPreKeys(ctx, 1)
		if err != nil {
			return Load{}, err
		}
		reg, err := b.Registration(ctx, bAddr.Name(), "phone", otks)
		if err != nil {
			return Load{}, err
		}
		if err := a.StartSession(ctx, network.PreKeyBundle{Number: reg.Number, DeviceID: 1, RegistrationID: reg.RegistrationID,
			IdentityKey: reg.IdentityKey, SignedPreKeyID: reg.SignedPreKey.ID, SignedPreKey: reg.SignedPreKey.Public,
			SignedPreKeySig: reg.SignedPreKey.Signature, PreKeyID: otks[0].ID, PreKey: otks[0].Public}); err != nil {
			return Load{}, err
		}
		// The first message (a pkmsg) completes the session on b's side.
		kind, ct, err := a.Encrypt(ctx, bAddr, msg)
		if err != nil {
			return Load{}, err
		}
		if _, err := b.Decrypt(ctx, aAddr, kind, ct); err != nil {
			return Load{}, err
		}
		pairs[i] = pair{a, b}
	}
	steps := make([]int, conc)
	return closedLoop(ctx, conc, duration, c, func(ctx context.Context, sender int, _ int64) error {
		p := pairs[sender]
		from, to, toAddr, fromAddr := p.a, p.b, bAddr, aAddr
		if steps[sender]%2 == 1 {
			from, to, toAddr, fromAddr = p.b, p.a, aAddr, bAddr
		}
		steps[sender]++
		kind, ct, err := from.Encrypt(ctx, toAddr, msg)
		if err != nil {
			return c.note(err)
		}
		pt, err := to.Decrypt(ctx, fromAddr, kind, ct)
		if err != nil {
			return c.note(err)
		}
		if !bytes.Equal(pt, msg) {
			return c.note(errors.New("decrypted text differs"))
		}
		return nil
	}), nil
}

// e2eCPU is the CPU time (utime + stime) the bench's processes have used:
// each node, and the relay with its hosted phones (the stand-in for the
// network and the consumers' devices).
type e2eCPU struct {
	nodes []time.Duration
	relay time.Duration
	ok    bool
}

// e2eCPU reads the processes' CPU time from /proc; ok is false where it
// cannot (no /proc, or a process gone).
func (c *cluster) e2eCPU() e2eCPU {
	t := e2eCPU{ok: true}
	for _, p := range c.nodes {
		d, ok := p.cpu()
		t.ok = t.ok && ok
		t.nodes = append(t.nodes, d)
	}
	for _, p := range c.extra {
		d, ok := p.cpu()
		t.ok = t.ok && ok
		t.relay += d
	}
	return t
}

// minus is the CPU used between b and t.
func (t e2eCPU) minus(b e2eCPU) e2eCPU {
	d := e2eCPU{relay: t.relay - b.relay, ok: t.ok && b.ok && len(t.nodes) == len(b.nodes)}
	if d.ok {
		for i := range t.nodes {
			d.nodes = append(d.nodes, t.nodes[i]-b.nodes[i])
		}
	}
	return d
}

// add reports the CPU per message of a phase in milliseconds: the nodes
// together, the busiest node (the leader: it runs the connector, the
// webhook dispatcher and every proposal), and the relay with its phones.
func (t e2eCPU) add(r *Result, phase string, msgs int64) {
	var nodes, leader time.Duration
	for _, d := range t.nodes {
		nodes += d
		leader = max(leader, d)
	}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"nodes", nodes}, {"leader", leader}, {"relay", t.relay}} {
		k := "cpu_ms_per_msg_" + phase + "_" + f.key
		if !t.ok || msgs <= 0 {
			r.add(k, nil)
			continue
		}
		r.add(k, float64(f.d.Microseconds())/1000/float64(msgs))
	}
}

// cpu is the process's utime + stime from /proc/PID/stat.
func (p *proc) cpu() (time.Duration, bool) {
	pid, ok := p.pid()
	if !ok {
		return 0, false
	}
	return procCPU(pid)
}
