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

	"github.com/waedge/waedge/network"
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
// in-memory network; the figure is decrypted-and-committed messages per
// second (session, sealed message and sealed webhook event in one Raft
// command each) on a 3-node in-process cluster.
//
//	WAEDGE_BENCH_PHONES=200 WAEDGE_BENCH_MESSAGES=10000 go test ./connector -run XXX -bench ConnectorInbound -benchtime 1x
func BenchmarkConnectorInbound(b *testing.B) {
	phones := envInt("WAEDGE_BENCH_PHONES", 200)
	total := envInt("WAEDGE_BENCH_MESSAGES", 10000)
	for i := 0; i < b.N; i++ {
		nodes := nodetest.Cluster(b, 3)
		leader := nodetest.Leader(b, nodes)
		fn := newFakeNet()
		fn.ch = make(chan network.Delivery, total+phones)
		sealer := seal.New(leader, leader.KEK(), nil)
		for _, c := range []struct {
			t raftfsm.CommandType
			p any
		}{
			{raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme", WABAID: "2", PhoneNumberID: "3",
				DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))}},
		} {
			cmd, _ := raftfsm.EncodeCommand(c.t, c.p)
			if res, err := leader.Propose(context.Background(), cmd); err != nil || res.Err != nil {
				b.Fatal(err, res.Err)
			}
		}
		c := New(Deps{Cluster: leader, Sealer: sealer,
			Dial: func(context.Context, network.Signer) (network.Network, error) { return fn, nil }}, Config{Numbers: 20 * time.Millisecond})
		leader.RegisterWorker("network", c.Run)
		nodetest.WaitFor(b, "business registered", 10*time.Second, func() bool {
			fn.mu.Lock()
			defer fn.mu.Unlock()
			return len(fn.regs["15550001000"].PreKeys) > 0
		})
		// Every phone's first message establishes its session (pkmsg).
		ph := make([]*testPhone, phones)
		for j := range ph {
			ph[j] = newTestPhone(b, fmt.Sprintf("49153%08d", j))
			id := fmt.Sprintf("ph.first.%d", j)
			env := ph[j].envelope(b, fn, "15550001000", id, "hello")
			fn.ch <- network.Delivery{Type: network.DeliveryEnvelope, ID: id, Envelope: &env}
		}
		nodetest.WaitFor(b, "sessions established", 5*time.Minute, func() bool { return fn.ackCount(fmt.Sprintf("ph.first.%d", phones-1)) > 0 && ackedAll(fn, phones) })
		envs := make([]network.Envelope, total)
		for j := range envs {
			envs[j] = ph[j%phones].envelope(b, fn, "15550001000", fmt.Sprintf("ph.m.%d", j), "message "+strconv.Itoa(j))
		}
		base := acked(fn)
		b.ResetTimer()
		start := time.Now()
		for j := range envs {
			fn.ch <- network.Delivery{Type: network.DeliveryEnvelope, ID: envs[j].ID, Envelope: &envs[j]}
		}
		nodetest.WaitFor(b, "every envelope committed and acked", 10*time.Minute, func() bool { return acked(fn) >= base+total })
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "inbound-committed/s")
	}
}

func acked(fn *fakeNet) int {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return len(fn.acked)
}

func ackedAll(fn *fakeNet, phones int) bool { return acked(fn) >= phones }
