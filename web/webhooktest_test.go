package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/testevent"
	"github.com/waedge/waedge/web"
)

// TestWebhookTestEvent: "send a test event" POSTs one event, signed with
// the app secret like every webhook, to the callback in effect, and
// answers with the receiver's status; it queues nothing. A destination
// the egress policy refuses is reported as refused and never dialled; a
// WABA without a subscription is refused with the platform's code.
func TestWebhookTestEvent(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550041000")
	b := h.createTenant("+15550042000")
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	var answer atomic.Int32
	answer.Store(200)
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = rw.Write([]byte(r.URL.Query().Get("hub.challenge")))
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, body)
		mu.Unlock()
		rw.WriteHeader(int(answer.Load()))
	}))
	defer hook.Close()
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/subscribed_apps", a["access_token"],
		`{"override_callback_uri":"`+hook.URL+`/hook","verify_token":"v"}`); code != 200 {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	type result struct {
		CallbackURL string `json:"callback_url"`
		Status      string `json:"status"`
		Delivered   bool   `json:"delivered"`
	}
	send := func(h *harness, token, business string) (int, result, []byte) {
		code, out := h.do("POST", "/admin/v1/businesses/"+business+"/webhooks/test", token, `{}`)
		var r result
		_ = json.Unmarshal(out, &r)
		return code, r, out
	}

	code, r, out := send(h, "admin-tok", a["business_id"])
	if code != 200 || r.Status != "200" || !r.Delivered || r.CallbackURL != hook.URL+"/hook" {
		t.Fatalf("test event: %d %s", code, out)
	}
	mu.Lock()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	if !cloudapi.VerifySignature(a["app_secret"], bodies[0], got[0].Header.Get("X-Hub-Signature-256")) {
		t.Fatalf("test event signature %q does not verify with the app secret", got[0].Header.Get("X-Hub-Signature-256"))
	}
	var ev struct {
		Object string `json:"object"`
		Entry  []struct {
			ID      string `json:"id"`
			Changes []struct {
				Field string `json:"field"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(bodies[0], &ev) != nil || ev.Object != "whatsapp_business_account" || len(ev.Entry) != 1 ||
		ev.Entry[0].ID != a["waba_id"] || len(ev.Entry[0].Changes) != 1 || ev.Entry[0].Changes[0].Field != testevent.Field {
		t.Fatalf("test event body %s", bodies[0])
	}
	mu.Unlock()

	answer.Store(500)
	if code, r, out := send(h, "admin-tok", a["business_id"]); code != 200 || r.Status != "500" || r.Delivered {
		t.Fatalf("test event to a failing receiver: %d %s", code, out)
	}
	if q, err := h.c.FSM().Outbox(10); err != nil || len(q) != 0 {
		t.Fatalf("a test event queued %d outbox events (%v)", len(q), err)
	}
	recs, err := h.c.FSM().AuditLog(nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	tests := 0
	for _, rec := range recs {
		if rec.Record.Action == "webhook.test" {
			tests++
		}
	}
	if tests != 2 {
		t.Fatalf("%d audit records of webhook.test, want 2", tests)
	}

	// The default egress policy refuses loopback: reported, never dialled.
	strict := &harness{t: t, c: h.c, sealer: h.sealer, app: web.New(web.Deps{Cluster: h.c, Sealer: h.sealer})}
	if code, r, out := send(strict, "admin-tok", a["business_id"]); code != 200 || r.Status != "refused" || r.Delivered {
		t.Fatalf("test event to a refused destination: %d %s", code, out)
	}
	mu.Lock()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the refused one must not be dialled)", len(got))
	}
	mu.Unlock()

	if code, _, out := send(h, "admin-tok", b["business_id"]); code != 400 || decodeEnvelope(t, out).Error.Code != 131009 {
		t.Fatalf("test event without a subscription: %d %s", code, out)
	}
}

// TestWebhookRetryNow: "retry now" makes a business's queued events due at
// once (named ones, or all), touches no other business's, and counts
// nothing for an event that already left the outbox.
func TestWebhookRetryNow(t *testing.T) {
	h := newMediaHarness(t)
	a, b := h.a, h.b
	ctx := context.Background()
	propose := func(typ raftfsm.CommandType, payload any) []byte {
		t.Helper()
		v, err := raftfsm.Outcome(h.c.Propose(ctx, mustCmd(t, typ, payload)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Two events of A and one of B, each waiting out a back-off of an hour.
	queue := func(tn map[string]string, n byte) []byte {
		key := queueEvent(t, h, tn, n, []byte("sealed"))
		propose(raftfsm.CmdWebhookAttempt, raftfsm.WebhookAttempt{Key: key, Status: "503", At: h.now().UnixMilli(),
			NextAt: h.now().Add(time.Hour).UnixMilli()})
		h.advance(time.Second)
		return key
	}
	a1, a2, b1 := queue(a, 1), queue(a, 2), queue(b, 3)
	nextAt := func(key []byte) int64 {
		t.Helper()
		var at int64 = -1
		_ = h.c.FSM().OutboxEach(nil, func(e raftfsm.OutboxEvent) bool {
			if bytes.Equal(e.Key, key) {
				at = e.NextAt
			}
			return true
		})
		return at
	}
	retry := func(business, body string) (int, int, []byte) {
		code, out := h.do("POST", "/admin/v1/businesses/"+business+"/webhooks/retry", "admin-tok", body)
		var r struct{ Retried int }
		_ = json.Unmarshal(out, &r)
		return code, r.Retried, out
	}
	now := h.now().UnixMilli()
	if code, n, out := retry(a["business_id"], `{"event_ids":["`+hex.EncodeToString(a1)+`","`+hex.EncodeToString(b1)+`"]}`); code != 200 || n != 1 {
		t.Fatalf("retry one of A's (and one of B's, named through A): %d %s, want 1 retried", code, out)
	}
	if nextAt(a1) != now || nextAt(a2) <= now || nextAt(b1) <= now {
		t.Fatalf("next tries after retrying one: a1 %d a2 %d b1 %d (now %d)", nextAt(a1), nextAt(a2), nextAt(b1), now)
	}
	if code, n, out := retry(a["business_id"], ``); code != 200 || n != 1 {
		t.Fatalf("retry all of A's: %d %s, want 1 more retried", code, out)
	}
	if nextAt(a2) != now || nextAt(b1) <= now {
		t.Fatalf("after retrying all of A: a2 %d b1 %d (now %d)", nextAt(a2), nextAt(b1), now)
	}
	// Delivered: it left the outbox, and retrying it counts nothing.
	propose(raftfsm.CmdWebhookAttempt, raftfsm.WebhookAttempt{Key: a1, Delivered: true, Status: "200", At: now})
	if code, n, out := retry(a["business_id"], `{"event_ids":["`+hex.EncodeToString(a1)+`"]}`); code != 200 || n != 0 {
		t.Fatalf("retry a delivered event: %d %s, want 0 retried", code, out)
	}
	if code, _, out := retry(a["business_id"], `{"event_ids":["nothex"]}`); code != 400 {
		t.Fatalf("retry a malformed id: %d %s, want 400", code, out)
	}
}

// queueEvent subscribes tn's WABA and queues one webhook event of its
// number (the PIN change's) whose key ends in n; it returns the key.
func queueEvent(t *testing.T, h *mediaHarness, tn map[string]string, n byte, body []byte) []byte {
	t.Helper()
	key := make([]byte, 16)
	binary.BigEndian.PutUint64(key, uint64(h.now().UnixNano()))
	key[15] = n
	for _, c := range []struct {
		typ     raftfsm.CommandType
		payload any
	}{
		{raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: tn["waba_id"], BusinessID: tn["business_id"],
			AppID: tn["app_id"], CallbackURL: "https://example.com/hook", At: h.now().UnixMilli()}},
		{raftfsm.CmdSetPIN, raftfsm.SetPIN{PhoneNumberID: tn["phone_number_id"], BusinessID: tn["business_id"],
			PINHash: []byte("pin hash"), Event: &raftfsm.OutboxEvent{Key: key, Body: body, CreatedAt: h.now().UnixMilli()}}},
	} {
		if _, err := raftfsm.Outcome(h.c.Propose(context.Background(), mustCmd(t, c.typ, c.payload))); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

// TestWebhookRedeliver: a delivered event (logged with its body by
// CmdWebhookAttemptsV2) is queued again as a new event with the same
// sealed body, through the admin API of its own business only; bad ids,
// events of another business and events logged without a body answer a
// Graph error and queue nothing.
func TestWebhookRedeliver(t *testing.T) {
	h := newMediaHarness(t)
	a, b := h.a, h.b
	ctx := context.Background()
	propose := func(typ raftfsm.CommandType, payload any) {
		t.Helper()
		if _, err := raftfsm.Outcome(h.c.Propose(ctx, mustCmd(t, typ, payload))); err != nil {
			t.Fatal(err)
		}
	}
	// One delivered event of A and one of B (by the new command), one of A
	// logged by the old command (no body).
	finish := func(tn map[string]string, n byte, typ raftfsm.CommandType) []byte {
		key := queueEvent(t, h, tn, n, []byte{'s', n})
		propose(typ, raftfsm.WebhookAttempts{Attempts: []raftfsm.WebhookAttempt{{Key: key, Delivered: true, Status: "200",
			At: h.now().UnixMilli()}}})
		h.advance(time.Second)
		return key
	}
	a1, b1 := finish(a, 1, raftfsm.CmdWebhookAttemptsV2), finish(b, 2, raftfsm.CmdWebhookAttemptsV2)
	aOld := finish(a, 3, raftfsm.CmdWebhookAttempts)
	queued := func() []raftfsm.OutboxEvent {
		evs, err := h.c.FSM().Outbox(0)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	redeliver := func(business, body string) (int, []byte) {
		return h.do("POST", "/admin/v1/businesses/"+business+"/webhooks/redeliver", "admin-tok", body)
	}
	ids := func(keys ...[]byte) string {
		var s []string
		for _, k := range keys {
			s = append(s, `"`+hex.EncodeToString(k)+`"`)
		}
		return `{"event_ids":[` + strings.Join(s, ",") + `]}`
	}
	for _, c := range []struct {
		name, body string
		code       int
	}{
		{"no ids", `{}`, 400},
		{"a malformed id", `{"event_ids":["nothex"]}`, 400},
		{"an id twice", ids(a1, a1), 400},
		{"an event of another business", ids(a1, b1), 400},
		{"an event logged without its body", ids(a1, aOld), 400},
	} {
		code, out := redeliver(a["business_id"], c.body)
		if code != c.code || !strings.Contains(string(out), `"error"`) {
			t.Fatalf("%s: %d %s, want %d with a Graph error", c.name, code, out, c.code)
		}
		if n := len(queued()); n != 0 {
			t.Fatalf("%s: %d events queued", c.name, n)
		}
	}
	if _, out := redeliver(a["business_id"], ids(aOld)); !strings.Contains(string(out), "older version") {
		t.Fatalf("an event without a body: %s", out)
	}
	code, out := redeliver(a["business_id"], ids(a1))
	var r struct {
		Redelivered []struct {
			EventID    string `json:"event_id"`
			NewEventID string `json:"new_event_id"`
		}
	}
	if code != 200 || json.Unmarshal(out, &r) != nil || len(r.Redelivered) != 1 || r.Redelivered[0].EventID != hex.EncodeToString(a1) {
		t.Fatalf("redeliver: %d %s", code, out)
	}
	evs := queued()
	if len(evs) != 1 || hex.EncodeToString(evs[0].Key) != r.Redelivered[0].NewEventID || string(evs[0].Body) != "s\x01" ||
		evs[0].WABAID != a["waba_id"] || evs[0].Attempts != 0 || evs[0].Held || evs[0].NextAt != h.now().UnixMilli() {
		t.Fatalf("queued %+v", evs)
	}
}
