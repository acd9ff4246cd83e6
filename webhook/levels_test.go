package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// TestCallbackPrecedence: an event goes to the phone number's override,
// else the WABA's, else the app's; with none it is kept (and delivered
// once a callback is set), not dropped.
func TestCallbackPrecedence(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // path → events
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	d := setup(t, "") // subscribed without an override
	disp := New(d, Config{Egress: loopback, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	count := func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[path]
	}
	emptied := func(what string) {
		t.Helper()
		waitFor(t, what, 10*time.Second, func() bool {
			ev, _ := d.FSM().Outbox(0)
			return len(ev) == 0
		})
	}

	inbound(t, d, 1, "no callback yet")
	waitFor(t, "a failed attempt", 10*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(0)
		return len(ev) == 1 && ev[0].Attempts > 0 && ev[0].LastStatus == "no_callback"
	})
	d.must(t, raftfsm.CmdSetAppWebhook, raftfsm.SetAppWebhook{AppID: "4", BusinessID: "1", CallbackURL: srv.URL + "/app"})
	emptied("the kept event delivered to the app")
	if count("/app") != 1 {
		t.Fatalf("app callback got %d", count("/app"))
	}
	d.must(t, raftfsm.CmdSetPhoneWebhook, raftfsm.SetPhoneWebhook{PhoneNumberID: "3", BusinessID: "1", CallbackURL: srv.URL + "/phone"})
	inbound(t, d, 2, "to the phone override")
	emptied("the event delivered to the phone override")
	d.must(t, raftfsm.CmdSetPhoneWebhook, raftfsm.SetPhoneWebhook{PhoneNumberID: "3", BusinessID: "1"})
	d.must(t, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "2", BusinessID: "1", AppID: "4", CallbackURL: srv.URL + "/waba"})
	inbound(t, d, 3, "to the WABA override")
	emptied("the event delivered to the WABA override")
	if a, p, w := count("/app"), count("/phone"), count("/waba"); a != 1 || p != 1 || w != 1 {
		t.Fatalf("app %d, phone %d, waba %d; want one each", a, p, w)
	}
}
