package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/egress"
)

// loopback is the egress policy of tests whose receivers run on 127.0.0.1:
// the range is allowed explicitly, nothing is loosened by default.
var loopback = egress.New(egress.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

// counting is a receiver that counts its requests and answers with h.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// attempted waits for the event's first attempt to be recorded.
func attempted(t *testing.T, d *direct, disp *Dispatcher) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "first attempt recorded", 15*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 1 && ev[0].Attempts == 1
	})
	ev, _ := d.FSM().Outbox(0)
	if ev[0].NextAt <= time.Now().UnixMilli() {
		t.Errorf("the failed attempt is not retried after a back-off: next at %d", ev[0].NextAt)
	}
	return ev[0].LastStatus
}

// TestInternalReceiverRefusedByDefault: without an allow range a callback on
// loopback is never contacted; the attempt fails and is retried.
func TestInternalReceiverRefusedByDefault(t *testing.T) {
	srv, hits := counting(t, func(http.ResponseWriter, *http.Request) {})
	d := setup(t, srv.URL)
	inbound(t, d, 1, "x")
	disp := New(d, Config{BaseBackoff: time.Hour, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	if st := attempted(t, d, disp); st != "unreachable" {
		t.Fatalf("status %q", st)
	}
	if hits.Load() != 0 {
		t.Fatal("the internal receiver was contacted")
	}
}

// TestRedirectIsAFailedAttempt: a receiver answering 307 gets a failed
// attempt; the signed event is never posted to the redirect target.
func TestRedirectIsAFailedAttempt(t *testing.T) {
	target, targetHits := counting(t, func(http.ResponseWriter, *http.Request) {})
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/inside", http.StatusTemporaryRedirect)
	})
	d := setup(t, srv.URL)
	inbound(t, d, 1, "x")
	disp := New(d, Config{Egress: loopback, BaseBackoff: time.Hour, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	if st := attempted(t, d, disp); st != "307" {
		t.Fatalf("status %q", st)
	}
	if targetHits.Load() != 0 {
		t.Fatal("the event was forwarded to the redirect target")
	}
}
