package connector

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/messages"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkNetworkEndToEnd measures issue 4's figures on this machine: a
// 3-node in-process cluster, a relay and WAEDGE_BENCH_PHONES hosted phones
// (default 1,000), one business number. It reports new sessions per
// second, outbound messages per second from the API call to the phone's
// decrypted inbox, inbound messages per second from the phone to the
// signed webhook, and heap per 1,000 hosted phones and per 1,000 sessions.
//
//	WAEDGE_BENCH_MESSAGES=20000 go test ./connector -run XXX -bench NetworkEndToEnd -benchtime 1x
func BenchmarkNetworkEndToEnd(b *testing.B) {
	phones := envInt("WAEDGE_BENCH_PHONES", 1000)
	total := envInt("WAEDGE_BENCH_MESSAGES", 20000)
	for i := 0; i < b.N; i++ {
		runNetworkBench(b, phones, total)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func runNetworkBench(b *testing.B, phones, total int) {
	rc := newReceiver()
	w := newWorld(b, nil, rc)
	w.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	rl, token, business := w.relay, "tok-e2e", "15550001000"
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdSetPhoneLimits, raftfsm.SetPhoneLimits{PhoneNumberID: "3",
		ThroughputMPS: 100000, PairPerMinute: 100000})
	if res, err := w.leader().n.Propose(context.Background(), cmd); err != nil || res.Err != nil {
		b.Fatal(err, res.Err)
	}
	inbound := func() int64 {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return int64(len(rc.inbound))
	}

	ctx := context.Background()
	heap0 := heapInUse()
	var ph []*phone.Phone
	for i := 0; i < phones; i++ {
		p, err := rl.CreatePhone(ctx, fmt.Sprintf("49152%08d", i), "C")
		if err != nil {
			b.Fatal(err)
		}
		ph = append(ph, p)
	}
	heapPhones := heapInUse() - heap0
	b.ReportMetric(float64(heapPhones)/float64(phones)*1000/(1<<20), "MB-heap/1000-hosted-phones")

	parallel := func(n, workers int, fn func(i int)) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					fn(i)
				}
			}()
		}
		wg.Wait()
	}
	waitHooks := func(n int64, what string) {
		nodetest.WaitFor(b, what, 10*time.Minute, func() bool { return inbound() >= n })
	}

	// New sessions: every phone's first message is a pkmsg (X3DH on both
	// ends); done when every message has reached the webhook.
	heap1 := heapInUse()
	start := time.Now()
	parallel(phones, 64, func(i int) {
		reach(b, func() error { _, err := ph[i].SendText(ctx, business, "hi"); return err })
	})
	waitHooks(int64(phones), "first messages")
	el := time.Since(start)
	b.ReportMetric(float64(phones)/el.Seconds(), "new-sessions/s")
	b.ReportMetric(float64(heapInUse()-heap1)/float64(phones)*1000/(1<<20), "MB-heap/1000-sessions")

	// Inbound: phones → signed webhook.
	base := inbound()
	start = time.Now()
	parallel(total, 64, func(i int) {
		if _, err := ph[i%phones].SendText(ctx, business, "message "+strconv.Itoa(i)); err != nil {
			b.Error(err)
		}
	})
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "phone-sends/s")
	waitHooks(base+int64(total), "inbound webhooks")
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "inbound-msgs/s")

	// Outbound: API → decrypted on the phone.
	inboxLen := func(p *phone.Phone) int {
		in, _ := p.Inbox()
		return len(in)
	}
	start = time.Now()
	var accepted atomic.Int64
	parallel(total, 64, func(i int) {
		p := ph[i%phones]
		code, out := w.do("POST", "/v21.0/3/messages", token, map[string]any{"messaging_product": "whatsapp",
			"to": p.Number(), "type": "text", "text": map[string]string{"body": "reply " + strconv.Itoa(i)}})
		if code != 200 {
			b.Errorf("send: %d %s", code, out)
			return
		}
		accepted.Add(1)
	})
	acceptEl := time.Since(start)
	per := total / phones
	nodetest.WaitFor(b, "every phone decrypted its messages", 10*time.Minute, func() bool {
		for i, p := range ph {
			want := per
			if i < total%phones {
				want++
			}
			if inboxLen(p) < want {
				return false
			}
		}
		return true
	})
	b.ReportMetric(float64(accepted.Load())/acceptEl.Seconds(), "api-accepted/s")
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "outbound-decrypted/s")
}

// BenchmarkConnectorInbound measures waedge's own side of inbound traffic
// without simulated phones in the measured path: envelopes are encrypted
// beforehand by WAEDGE_BENCH_PHONES in-memory phones (signalstore, session
// already established) and pushed into the leader's connector through an
// in-memory network; the figures are decrypted-and-committed messages per
// second (session, sealed message and sealed webhook event) on a 3-node
// in-process cluster, and the connector's replicated commands per message.
//
//	WAEDGE_BENCH_PHONES=200 WAEDGE_BENCH_MESSAGES=10000 go test ./connector -run XXX -bench ConnectorInbound -benchtime 1x
func BenchmarkConnectorInbound(b *testing.B) {
	phones := envInt("WAEDGE_BENCH_PHONES", 200)
	total := envInt("WAEDGE_BENCH_MESSAGES", 10000)
	for i := 0; i < b.N; i++ {
		cb := newConnectorBench(b, phones)
		envs := make([]network.Envelope, total)
		for j := range envs {
			envs[j] = cb.ph[j%phones].envelope(b, cb.fn, "15550001000", fmt.Sprintf("ph.m.%d", j), "message "+strconv.Itoa(j))
		}
		base, cmds := acked(cb.fn), cb.proposals.Load()
		b.ResetTimer()
		start := time.Now()
		for j := range envs {
			cb.fn.ch <- network.Delivery{Type: network.DeliveryEnvelope, ID: envs[j].ID, Envelope: &envs[j]}
		}
		nodetest.WaitFor(b, "every envelope committed and acked", 10*time.Minute, func() bool { return acked(cb.fn) >= base+total })
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "inbound-committed/s")
		b.ReportMetric(float64(cb.proposals.Load()-cmds)/float64(total), "commands/msg")
	}
}

// connectorBench is a 3-node in-process cluster with the connector on its
// leader over an in-memory network, and phones whose sessions with the
// business (and 24-hour windows) are open. proposals counts the
// connector's replicated commands.
type connectorBench struct {
	leader    *node.Node
	fn        *fakeNet
	sealer    *seal.Sealer
	ph        []*testPhone
	proposals *atomic.Int64
}

// counting counts the proposals it passes on.
type counting struct {
	Proposer
	n *atomic.Int64
}

func (c counting) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	c.n.Add(1)
	return c.Proposer.Propose(ctx, cmd)
}

func newConnectorBench(b *testing.B, phones int) *connectorBench {
	nodes := nodetest.Cluster(b, 3)
	leader := nodetest.Leader(b, nodes)
	cb := &connectorBench{leader: leader, fn: newFakeNet(), sealer: seal.New(leader, leader.KEK(), nil), proposals: &atomic.Int64{}}
	cb.fn.ch = make(chan network.Delivery, 1<<20)
	for _, c := range []struct {
		t raftfsm.CommandType
		p any
	}{
		{raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme", WABAID: "2", PhoneNumberID: "3",
			DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))}},
		{raftfsm.CmdSetPhoneLimits, raftfsm.SetPhoneLimits{PhoneNumberID: "3", ThroughputMPS: 100000, PairPerMinute: 100000}},
		{raftfsm.CmdSetMessagingTier, raftfsm.SetMessagingTier{PhoneNumberID: "3", Tier: raftfsm.TierUnlimited}},
	} {
		cmd, _ := raftfsm.EncodeCommand(c.t, c.p)
		if _, err := raftfsm.Outcome(leader.Propose(context.Background(), cmd)); err != nil {
			b.Fatal(err)
		}
	}
	c := New(Deps{Cluster: counting{Proposer: leader, n: cb.proposals}, Sealer: cb.sealer,
		Dial: func(context.Context, network.Signer) (network.Network, error) { return cb.fn, nil }}, Config{Numbers: 20 * time.Millisecond})
	leader.RegisterWorker("network", c.Run)
	nodetest.WaitFor(b, "business registered", 10*time.Second, func() bool {
		cb.fn.mu.Lock()
		defer cb.fn.mu.Unlock()
		return len(cb.fn.regs["15550001000"].PreKeys) > 0
	})
	// Every phone's first message establishes its session (pkmsg) and
	// opens the 24-hour window.
	cb.ph = make([]*testPhone, phones)
	for j := range cb.ph {
		cb.ph[j] = newTestPhone(b, fmt.Sprintf("49153%08d", j))
		id := fmt.Sprintf("ph.first.%d", j)
		env := cb.ph[j].envelope(b, cb.fn, "15550001000", id, "hello")
		cb.fn.ch <- network.Delivery{Type: network.DeliveryEnvelope, ID: id, Envelope: &env}
	}
	nodetest.WaitFor(b, "sessions established", 5*time.Minute, func() bool { return ackedAll(cb.fn, phones) })
	return cb
}

// BenchmarkConnectorOutbound measures waedge's side of outbound traffic:
// WAEDGE_BENCH_MESSAGES replies to WAEDGE_BENCH_PHONES phones (sessions
// open) are accepted through the messages service by 64 senders, while
// the leader's connector encrypts them, commits them, hands them to an
// in-memory network and commits their "sent". The figures are messages
// per second from the first accept to the last "sent" committed, and the
// connector's replicated commands per message (the accepts not counted).
//
//	WAEDGE_BENCH_PHONES=200 WAEDGE_BENCH_MESSAGES=10000 go test ./connector -run XXX -bench ConnectorOutbound -benchtime 1x
func BenchmarkConnectorOutbound(b *testing.B) {
	phones := envInt("WAEDGE_BENCH_PHONES", 200)
	total := envInt("WAEDGE_BENCH_MESSAGES", 10000)
	for i := 0; i < b.N; i++ {
		cb := newConnectorBench(b, phones)
		tn, err := cb.leader.FSM().Tenant("3")
		if err != nil {
			b.Fatal(err)
		}
		svc := messages.New(messages.Deps{Cluster: cb.leader, Sealer: cb.sealer})
		reqs := make([]*cloudapi.SendRequest, total)
		for j := range reqs {
			if reqs[j], err = cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","to":"` + cb.ph[j%phones].number +
				`","type":"text","text":{"body":"reply ` + strconv.Itoa(j) + `"}}`)); err != nil {
				b.Fatal(err)
			}
		}
		ids := make([]string, total)
		cmds := cb.proposals.Load()
		b.ResetTimer()
		start := time.Now()
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := int(next.Add(1)) - 1; j < total; j = int(next.Add(1)) - 1 {
					id, err := svc.Send(context.Background(), messages.Send{Tenant: tn, Request: reqs[j]})
					if err != nil {
						failed.Add(1) // an overloaded machine may lose the leader: counted, not waited for
						continue
					}
					ids[j] = id
				}
			}()
		}
		wg.Wait()
		fsm := cb.leader.FSM()
		nodetest.WaitFor(b, "every message sent", 10*time.Minute, func() bool {
			for j := total - 1; j >= 0; j-- { // the last accepted are the last sent
				if ids[j] == "" {
					continue
				}
				if m, err := fsm.MessageByID(ids[j]); err != nil || m.Status != raftfsm.StatusSent {
					return false
				}
			}
			return true
		})
		sent := float64(total - int(failed.Load()))
		b.ReportMetric(sent/time.Since(start).Seconds(), "outbound-sent/s")
		b.ReportMetric(float64(cb.proposals.Load()-cmds)/sent, "commands/msg")
		b.ReportMetric(float64(failed.Load()), "failed-accepts")
	}
}

func acked(fn *fakeNet) int {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return len(fn.acked)
}

func ackedAll(fn *fakeNet, phones int) bool { return acked(fn) >= phones }
