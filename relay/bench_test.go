package relay

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

const benchPairs = 100

// BenchmarkRelayEnvelopes measures plain relay throughput: 100 sender→receiver pairs of devices, each
// on its own WebSocket over loopback TCP, exchanging opaque 256-byte envelopes. Every envelope is
// persisted (fsync, group-committed) before it is acknowledged to the sender, pushed to the online
// receiver and removed when the receiver acks it (acks are batched per receiver).
//
// "tcp" connects every device over loopback TCP; "hosted" uses the in-process transport hosted
// phones use (net.Pipe through the relay's HTTP server), so no kernel socket is involved.
func BenchmarkRelayEnvelopes(b *testing.B) {
	for _, transport := range []string{"tcp", "hosted"} {
		b.Run(transport, func(b *testing.B) { benchEnvelopes(b, transport) })
	}
}

func benchEnvelopes(b *testing.B, transport string) {
	tr := startRelay(b, Config{DataDir: b.TempDir()})
	ctx := context.Background()
	connect := func(d *testDevice) *relayclient.Client {
		if transport == "tcp" {
			return registered(b, tr.url, d)
		}
		c, err := relayclient.Dial(ctx, hostedURL, relayclient.Options{Signer: new(signers).add(d), HTTPClient: tr.hosted.hc})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		if err := c.Register(ctx, d.reg); err != nil {
			b.Fatal(err)
		}
		return c
	}
	senders := make([]*relayclient.Client, benchPairs)
	receivers := make([]*relayclient.Client, benchPairs)
	for i := 0; i < benchPairs; i++ {
		senders[i] = connect(newTestDevice(b, fmt.Sprintf("4915110%05d", i), 0, network.RolePhone))
		receivers[i] = connect(newTestDevice(b, fmt.Sprintf("4915120%05d", i), 0, network.RolePhone))
	}
	ct := make([]byte, 256)
	var received atomic.Int64
	total := int64(b.N)
	allDone := make(chan struct{})
	var closeOnce sync.Once

	stop := make(chan struct{})
	var recvWG sync.WaitGroup
	for i := 0; i < benchPairs; i++ {
		recvWG.Add(1)
		go func(i int) {
			defer recvWG.Done()
			c := receivers[i]
			ch, _ := c.Receive(ctx)
			number := fmt.Sprintf("4915120%05d", i)
			for {
				var ids []string
				select {
				case d := <-ch:
					ids = append(ids, d.ID)
				case <-stop:
					return
				}
			drain:
				for len(ids) < 256 {
					select {
					case d := <-ch:
						ids = append(ids, d.ID)
					default:
						break drain
					}
				}
				if err := c.Ack(ctx, number, ids...); err != nil {
					b.Error(err)
					return
				}
				if received.Add(int64(len(ids))) >= total {
					closeOnce.Do(func() { close(allDone) })
				}
			}
		}(i)
	}

	b.ResetTimer()
	start := time.Now()
	var sendWG sync.WaitGroup
	const inflightPerSender = 8 // concurrent requests per sender connection (the protocol pipelines)
	var next atomic.Int64
	for i := 0; i < benchPairs; i++ {
		for k := 0; k < inflightPerSender; k++ {
			sendWG.Add(1)
			go func(i int) {
				defer sendWG.Done()
				from, to := fmt.Sprintf("4915110%05d", i), fmt.Sprintf("4915120%05d", i)
				for {
					n := next.Add(1)
					if n > total {
						return
					}
					e := network.Envelope{ID: fmt.Sprintf("b%d", n), From: from, To: to, FromDevice: 1,
						Kind: network.KindSignalMessage, Ciphertext: ct, Timestamp: 1}
					if err := senders[i].Send(ctx, e); err != nil {
						b.Error(err)
						return
					}
				}
			}(i)
		}
	}
	sendWG.Wait()
	select {
	case <-allDone:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d envelopes arrived", received.Load(), total)
	}
	el := time.Since(start)
	b.StopTimer()
	close(stop)
	recvWG.Wait()
	b.ReportMetric(float64(total)/el.Seconds(), "envelopes/s")
}

// BenchmarkHostedPhonePairs measures end-to-end messaging between 100 pairs of phones hosted by the
// relay: real Signal encryption and decryption, bbolt-backed phone state, automatic delivery
// receipts — everything a sandbox conversation does, per text message.
func BenchmarkHostedPhonePairs(b *testing.B) {
	phone.SetupSignalLogging(nil)
	tr := startRelay(b, Config{DataDir: b.TempDir()})
	ctx := context.Background()
	type pair struct{ from, to *phone.Phone }
	pairs := make([]pair, benchPairs)
	for i := range pairs {
		a, err := tr.CreatePhone(ctx, fmt.Sprintf("4915130%05d", i), "A")
		if err != nil {
			b.Fatal(err)
		}
		c, err := tr.CreatePhone(ctx, fmt.Sprintf("4915140%05d", i), "B")
		if err != nil {
			b.Fatal(err)
		}
		pairs[i] = pair{a, c}
		// Establish the session outside the measurement.
		if _, err := a.SendText(ctx, c.Number(), "hello"); err != nil {
			b.Fatal(err)
		}
	}
	inboxLen := func(p *phone.Phone) int { m, _ := p.Inbox(); return len(m) }
	for _, p := range pairs {
		for inboxLen(p.to) < 1 {
			time.Sleep(time.Millisecond) // polling, not synchronisation
		}
	}
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range pairs {
		wg.Add(1)
		go func(p pair) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := p.from.SendText(ctx, p.to.Number(), "benchmark message"); err != nil {
					b.Error(err)
					return
				}
			}
		}(pairs[i])
	}
	wg.Wait()
	want := b.N + len(pairs)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := 0
		for _, p := range pairs {
			got += inboxLen(p.to)
		}
		if got >= want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d messages arrived", got, want)
		}
		time.Sleep(2 * time.Millisecond) // polling, not synchronisation
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "messages/s")
}
