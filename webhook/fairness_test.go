package webhook

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// TestBackloggedEndpointDoesNotStarveOthers: one business's receiver is
// down with more events waiting to be retried than one scan looks at;
// another business's event, queued behind them, is still delivered at once
// (a scan that always started at the head of the outbox never reached it
// until the backlog's back-off ran out — an hour here).
func TestBackloggedEndpointDoesNotStarveOthers(t *testing.T) {
	var got atomic.Int64
	d := downAndUp(t, func() { got.Add(1) })

	const scan, backlog = 64, 200
	for i := 0; i < backlog; i++ {
		inbound(t, d, i, "to a receiver that is down")
	}
	disp := New(d, Config{Egress: loopback, BaseBackoff: time.Hour, Scan: scan, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Every backlogged event fails once and waits an hour.
	waitFor(t, "every backlogged event tried once", 20*time.Second, func() bool {
		evs, err := d.FSM().Outbox(0)
		if err != nil {
			return false
		}
		for _, e := range evs {
			if e.Attempts == 0 {
				return false
			}
		}
		return len(evs) == backlog
	})
	// Business B's event, queued behind the whole backlog.
	inboundFor(t, d, "12", "13", backlog+1, "to a receiver that is up")
	waitFor(t, "the other business's event delivered", 5*time.Second, func() bool { return got.Load() == 1 })
}

// TestBackoffBacklogCostsNoScans: with many more events backing off than
// one scan looks at, a fresh event is delivered by the scan that first
// sees it or the next, every time — not after the walk has worked its
// way through the backlog, Config.Scan events per scan (before the memo,
// 600 waiting events and a bound of 32 took up to 19 scans).
func TestBackoffBacklogCostsNoScans(t *testing.T) {
	var disp *Dispatcher
	var got atomic.Int64
	var deliveredAt atomic.Uint64 // scan generation when the fresh event arrived
	d := downAndUp(t, func() {
		disp.mu.Lock()
		deliveredAt.Store(disp.scanGen)
		disp.mu.Unlock()
		got.Add(1)
	})

	const scan, backlog, fresh = 32, 600, 5
	for i := 0; i < backlog; i++ {
		inbound(t, d, i, "to a receiver that is down")
	}
	// A slow poll: between the scan that claims a fresh event and its
	// arrival at the receiver, only wake-ups start scans.
	disp = New(d, Config{Egress: loopback, BaseBackoff: time.Hour, Scan: scan, Poll: 50 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "every backlogged event tried once", 60*time.Second, func() bool {
		n := 0
		err := d.FSM().OutboxEach(nil, func(e raftfsm.OutboxEvent) bool {
			if e.Attempts > 0 {
				n++
			}
			return true
		})
		return err == nil && n == backlog
	})
	worst := int64(0)
	for i := 0; i < fresh; i++ {
		inboundFor(t, d, "12", "13", backlog+1+i, "to a receiver that is up")
		disp.mu.Lock()
		committedAt := disp.scanGen // the event is committed: every later scan reads it
		disp.mu.Unlock()
		waitFor(t, "the fresh event delivered", 10*time.Second, func() bool { return got.Load() == int64(i+1) })
		worst = max(worst, int64(deliveredAt.Load()-committedAt))
	}
	// The scan under way at the commit may have read the outbox before
	// it; the next one must claim it. By the time the receiver has the
	// request, the slot that took it may have woken one more scan.
	if worst > 3 {
		t.Fatalf("a fresh event behind %d events in back-off waited for %d scans after its commit, want at most 3", backlog, worst)
	}
}

// downAndUp sets up business A (WABA 2, phone 3), whose receiver refuses
// connections, and business B (WABA 12, phone 13), whose receiver calls
// received for every request.
func downAndUp(t *testing.T, received func()) *direct {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/hook"
	_ = ln.Close()
	d := setup(t, downURL)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { received() }))
	t.Cleanup(up.Close)
	d.must(t, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "11", BusinessName: "B2", WABAID: "12",
		PhoneNumberID: "13", DisplayPhoneNumber: "+15550002000", AppID: "14", AppSecret: "other", TokenID: "t2",
		TokenHash: sha256.Sum256([]byte("tok2"))})
	d.must(t, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "12", BusinessID: "11", AppID: "14", CallbackURL: up.URL})
	return d
}
