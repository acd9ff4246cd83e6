package webhook

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// preferenceEvent queues a user_preferences event (field
// user_preferences) of the number 3, key n.
func preferenceEvent(t *testing.T, d *direct, n int, stop bool) {
	t.Helper()
	b, err := cloudapi.MarshalASCII(cloudapi.UserPreferencesNotification("2",
		cloudapi.Metadata{DisplayPhoneNumber: "15550001000", PhoneNumberID: "3"}, "15551234567", stop, 1700000000))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := d.sealer.Seal(context.Background(), raftfsm.WebhookAAD("2"), b)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(n))
	d.must(t, raftfsm.CmdSetUserPreference, raftfsm.SetUserPreference{PhoneNumberID: "3", PeerRef: "ref", Stop: stop,
		At: time.Now().UnixMilli(), Event: &raftfsm.OutboxEvent{Key: key[:], Body: sealed, CreatedAt: time.Now().UnixMilli()}})
}

// TestOnlySubscribedFieldsAreDelivered: with an app-level subscription,
// only events of the fields it lists reach the receiver; the others
// leave the outbox as not_subscribed. Once the app subscribes to the
// field, its events are delivered too.
func TestOnlySubscribedFieldsAreDelivered(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	d := setup(t, "")
	d.must(t, raftfsm.CmdSetAppWebhook, raftfsm.SetAppWebhook{AppID: "4", BusinessID: "1", CallbackURL: srv.URL, Fields: []string{"messages"}})
	disp := New(d, Config{Egress: loopback, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	emptied := func(what string) {
		t.Helper()
		waitFor(t, what, 10*time.Second, func() bool {
			ev, _ := d.FSM().Outbox(0)
			return len(ev) == 0
		})
	}
	fields := func() (messages, prefs int) {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range got {
			switch {
			case strings.Contains(b, `"field":"messages"`):
				messages++
			case strings.Contains(b, `"field":"user_preferences"`):
				prefs++
			}
		}
		return
	}
	inbound(t, d, 1, "hello")
	preferenceEvent(t, d, 2, true)
	emptied("both events leave the outbox")
	if m, p := fields(); m != 1 || p != 0 {
		t.Fatalf("delivered %d messages and %d user_preferences events; want 1 and 0", m, p)
	}
	dropped := 0
	if err := d.FSM().WebhookLog(func(_ []byte, l raftfsm.WebhookLogEntry) bool {
		if l.LastStatus == "not_subscribed" && l.Outcome == raftfsm.WebhookDropped {
			dropped++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Fatalf("%d events logged not_subscribed, want 1", dropped)
	}

	d.must(t, raftfsm.CmdSetAppWebhook, raftfsm.SetAppWebhook{AppID: "4", BusinessID: "1", CallbackURL: srv.URL,
		Fields: []string{"messages", "user_preferences"}})
	preferenceEvent(t, d, 3, false)
	emptied("the subscribed field's event delivered")
	if m, p := fields(); m != 1 || p != 1 {
		t.Fatalf("delivered %d messages and %d user_preferences events; want 1 and 1", m, p)
	}
}
