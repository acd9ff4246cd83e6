package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestBusyScanResumesWhereItStopped: a scan that stops because its
// endpoint is at its limit leaves the next scan to start at the event it
// could not claim, not to walk again past every event already claimed
// (while an endpoint drains a backlog, scans were walking the hundreds of
// events being delivered or recorded: 14 % of a leader's CPU). A walk
// from the head is still due headEvery later, or at once when a claim is
// dropped.
func TestBusyScanResumesWhereItStopped(t *testing.T) {
	got := make(chan struct{}, 64)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- struct{}{}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	d := setup(t, srv.URL)
	const events = 40
	for i := 1; i <= events; i++ {
		inbound(t, d, i, "queued")
	}
	now := time.Now()
	var clock sync.Mutex
	disp := New(d, Config{Egress: loopback, PerEndpoint: 1, Open: d.sealer.Open, Now: func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		return now
	}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	scan := func() (walked int) {
		t.Helper()
		disp.mu.Lock()
		before := disp.walked
		disp.mu.Unlock()
		if busy, err := disp.scan(ctx, &wg); err != nil || !busy {
			t.Fatalf("scan: busy %v, %v; want busy", busy, err)
		}
		disp.mu.Lock()
		defer disp.mu.Unlock()
		return disp.walked - before
	}
	// The first scan fills the queue (4 per slot) and stops at the next.
	q := disp.queueCap()
	if n := scan(); n != q+1 {
		t.Fatalf("first scan walked %d keys, want %d", n, q+1)
	}
	<-got // the slot's worker took the first event: one place in the queue
	// The next claims one more and stops at the one after: two keys, not
	// the q claimed ones again.
	if n := scan(); n != 2 {
		t.Fatalf("a scan after a busy one walked %d keys, want 2 (from where it stopped)", n)
	}
	// A busy scan every time after: nothing more to claim.
	if n := scan(); n != 1 {
		t.Fatalf("walked %d keys, want 1", n)
	}
	// headEvery later the walk starts at the head again.
	clock.Lock()
	now = now.Add(headEvery)
	clock.Unlock()
	if n := scan(); n != q+2 {
		t.Fatalf("a head walk passed %d keys, want %d", n, q+2)
	}
	// And at once when this leader may have made an event behind it due.
	if n := scan(); n != 1 {
		t.Fatalf("walked %d keys, want 1", n)
	}
	disp.mu.Lock()
	disp.headDue = true
	disp.mu.Unlock()
	if n := scan(); n != q+2 {
		t.Fatalf("with a head walk due, a scan passed %d keys, want %d", n, q+2)
	}
}
