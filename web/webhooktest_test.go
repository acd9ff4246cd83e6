package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/waedge/waedge/cloudapi"
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
