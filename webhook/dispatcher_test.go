package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/seal"
)

// direct is a one-node cluster over a real FSM, with the sealer the
// events are sealed with.
type direct struct {
	*fsmtest.Direct
	sealer *seal.Sealer
}

func (d *direct) must(t *testing.T, typ raftfsm.CommandType, payload any) {
	t.Helper()
	d.MustPropose(t, typ, payload)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	poll.Until(t, what, timeout, cond)
}

func setup(t *testing.T, callback string) *direct {
	f, err := raftfsm.Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := &direct{Direct: fsmtest.New(f)}
	d.sealer = seal.New(d, keyring.KEK{1, 2, 3}, nil)
	d.must(t, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B", WABAID: "2",
		PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s3cr3t", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok"))})
	d.must(t, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "2", BusinessID: "1", AppID: "4", CallbackURL: callback})
	return d
}

func inbound(t *testing.T, d *direct, n int, body string) []byte {
	return inboundFor(t, d, "2", "3", n, body)
}

// inboundFor records inbound message n of phone number phone (of WABA waba)
// with its webhook event; it returns the event's body.
func inboundFor(t *testing.T, d *direct, waba, phone string, n int, body string) []byte {
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(n))
	wamid := "wamid.in" + phone + "." + fmt.Sprint(n)
	n2 := cloudapi.InboundTextNotification(waba, cloudapi.Metadata{DisplayPhoneNumber: "15550001000", PhoneNumberID: phone},
		"15551234567", "Zoë", wamid, 1700000000, body)
	b, err := cloudapi.MarshalASCII(n2)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := d.sealer.Seal(context.Background(), raftfsm.WebhookAAD(waba), b)
	if err != nil {
		t.Fatal(err)
	}
	d.must(t, raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key[:], IDRef: raftfsm.MessageIDRef(wamid),
		PhoneNumberID: phone, PeerRef: d.sealer.ConsumerRef(phone, "15551234567"), Type: "text", ReceivedAt: time.Now().UnixMilli(),
		Event: &raftfsm.OutboxEvent{Key: key[:], Body: sealed, CreatedAt: time.Now().UnixMilli()}})
	return b
}

func TestRetriesUntilDelivered(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Independent signature check.
		m := hmac.New(sha256.New, []byte("s3cr3t"))
		m.Write(body)
		if r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			w.WriteHeader(401)
			return
		}
		if calls.Add(1) <= 3 {
			w.WriteHeader(503)
			return
		}
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	defer srv.Close()
	d := setup(t, srv.URL)
	want := inbound(t, d, 1, "Olá 👍")

	disp := New(d, Config{Egress: loopback, BaseBackoff: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	if disp.Backoff(1) != 20*time.Millisecond || disp.Backoff(3) != 80*time.Millisecond {
		t.Fatalf("backoff %v %v", disp.Backoff(1), disp.Backoff(3))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	start := time.Now()
	waitFor(t, "delivery", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	})
	// The delivery is recorded right after the receiver answered.
	waitFor(t, "outbox emptied", 5*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 0
	})
	cancel()
	<-done
	if string(got[0]) != string(want) {
		t.Fatalf("delivered body differs")
	}
	// Three failures then success, after 20+40+80 ms of back-off.
	if calls.Load() != 4 || time.Since(start) < 140*time.Millisecond {
		t.Fatalf("%d calls in %v", calls.Load(), time.Since(start))
	}
}

func TestFailedAttemptsAreRecordedAndDroppedAfterMaxAge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	d := setup(t, srv.URL)
	inbound(t, d, 1, "x")
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	disp := New(d, Config{Egress: loopback, Now: func() time.Time { return time.Unix(0, clock.Load()) }, BaseBackoff: time.Hour, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = disp.Run(ctx) }()
	waitFor(t, "first attempt recorded", 5*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 1 && ev[0].Attempts == 1
	})
	ev, _ := d.FSM().Outbox(0)
	if ev[0].LastStatus != "500" || ev[0].NextAt < now.Add(59*time.Minute).UnixMilli() {
		t.Fatalf("attempt record %+v", ev[0])
	}
	// Eight days later the next attempt fails and the event is dropped.
	clock.Store(now.Add(8 * 24 * time.Hour).UnixNano())
	waitFor(t, "event dropped", 5*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 0
	})
}

func TestNoSubscriptionNoEvent(t *testing.T) {
	d := setup(t, "http://127.0.0.1:1/")
	d.must(t, raftfsm.CmdDeleteSubscription, raftfsm.DeleteSubscription{WABAID: "2", BusinessID: "1"})
	inbound(t, d, 1, "x")
	if ev, _ := d.FSM().Outbox(0); len(ev) != 0 {
		t.Fatal("event queued without a subscription")
	}
}

// TestEveryEventRetriedOnSchedule: a receiver that fails each event three
// times gets every one of many events after the back-off schedule, and the
// delivery log records each as delivered after four attempts.
func TestEveryEventRetriedOnSchedule(t *testing.T) {
	const events, fails = 20, 3
	var mu sync.Mutex
	calls := map[string][]time.Time{} // body → attempt times
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls[string(b)] = append(calls[string(b)], time.Now())
		n := len(calls[string(b)])
		mu.Unlock()
		if n <= fails {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	d := setup(t, srv.URL)
	for i := 0; i < events; i++ {
		inbound(t, d, i, fmt.Sprintf("event %d", i))
	}
	disp := New(d, Config{Egress: loopback, BaseBackoff: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	waitFor(t, "outbox emptied", 20*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 0
	})
	cancel()
	<-done
	if len(calls) != events {
		t.Fatalf("%d distinct events reached the receiver, want %d", len(calls), events)
	}
	for body, at := range calls {
		if len(at) != fails+1 {
			t.Fatalf("%q: %d attempts, want %d", body, len(at), fails+1)
		}
		for i := 1; i < len(at); i++ {
			// The schedule is stored in whole milliseconds (NextAt is
			// UnixMilli), so an attempt may come up to 1 ms early.
			if gap, want := at[i].Sub(at[i-1]), disp.Backoff(i); gap < want-time.Millisecond {
				t.Fatalf("%q: attempt %d came %v after the previous, back-off is %v", body, i+1, gap, want)
			}
		}
	}
	n := 0
	if err := d.FSM().WebhookLog(func(_ []byte, e raftfsm.WebhookLogEntry) bool {
		if e.Outcome != raftfsm.WebhookDelivered || e.Attempts != fails+1 || e.LastStatus != "200" {
			t.Fatalf("log entry %+v", e)
		}
		n++
		return true
	}); err != nil || n != events {
		t.Fatalf("delivery log has %d entries (%v), want %d", n, err, events)
	}
}

// TestPerEndpointConcurrencyLimit: with the receiver holding every POST,
// exactly PerEndpoint deliveries are open at once; released, all arrive.
func TestPerEndpointConcurrencyLimit(t *testing.T) {
	const limit, events = 3, 12
	release := make(chan struct{})
	var inflight, peak, delivered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		delivered.Add(1)
	}))
	defer srv.Close()
	d := setup(t, srv.URL)
	for i := 0; i < events; i++ {
		inbound(t, d, i, "x")
	}
	disp := New(d, Config{Egress: loopback, PerEndpoint: limit, Poll: 2 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	waitFor(t, "the limit reached", 5*time.Second, func() bool { return inflight.Load() == limit })
	// Many more scans happen while the receiver holds; none opens more.
	for i := 0; i < 50; i++ {
		if inflight.Load() > limit {
			t.Fatalf("%d deliveries open, limit %d", inflight.Load(), limit)
		}
		time.Sleep(2 * time.Millisecond) // sampling interval while held
	}
	close(release)
	waitFor(t, "every event delivered", 10*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 0
	})
	cancel()
	<-done
	if peak.Load() != limit || delivered.Load() != events {
		t.Fatalf("peak %d (limit %d), delivered %d of %d", peak.Load(), limit, delivered.Load(), events)
	}
}
