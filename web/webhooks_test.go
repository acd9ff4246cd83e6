package web_test

import (
	"github.com/waedge/waedge/raftfsm"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSubscribedApps(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550003000")
	b := h.createTenant("+15550004000")
	var verified int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != "GET" || q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != "good" {
			w.WriteHeader(403)
			return
		}
		verified++
		_, _ = w.Write([]byte(q.Get("hub.challenge")))
	}))
	defer srv.Close()
	url := "/v21.0/" + a["waba_id"] + "/subscribed_apps"

	// A wrong verify token fails the handshake and stores nothing.
	code, out := h.do("POST", url, a["access_token"], `{"override_callback_uri":"`+srv.URL+`/hook","verify_token":"bad"}`)
	if code != 400 || decodeEnvelope(t, out).Error.Code != 2200 {
		t.Fatalf("bad token: %d %s", code, out)
	}
	if _, err := h.c.FSM().Subscription(a["waba_id"]); err == nil {
		t.Fatal("failed verification stored a subscription")
	}
	code, out = h.do("POST", url, a["access_token"], `{"override_callback_uri":"`+srv.URL+`/hook"}`)
	if code != 400 || decodeEnvelope(t, out).Error.Code != 131008 {
		t.Fatalf("no verify token: %d %s", code, out)
	}
	// Query parameters work as well as a JSON body.
	code, out = h.do("POST", url+"?override_callback_uri="+srv.URL+"/hook&verify_token=good", a["access_token"], "")
	if code != 200 || string(out) != `{"success":true}` || verified != 1 {
		t.Fatalf("subscribe: %d %s (verified %d)", code, out, verified)
	}
	code, out = h.do("GET", url, a["access_token"], "")
	if code != 200 || !strings.Contains(string(out), srv.URL+"/hook") || !strings.Contains(string(out), a["app_id"]) {
		t.Fatalf("get: %d %s", code, out)
	}
	// Another business cannot see or change it, and cannot tell it exists.
	for _, m := range []string{"GET", "POST", "DELETE"} {
		code, out := h.do(m, url, b["access_token"], `{"override_callback_uri":"`+srv.URL+`","verify_token":"good"}`)
		if code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("foreign %s: %d %s", m, code, out)
		}
	}
	// Template review results are queued as webhooks for the subscriber.
	h.createTemplate(a["access_token"], a["waba_id"], "promo", "en", "Sale!")
	evs, _ := h.c.FSM().Outbox(0)
	if len(evs) != 1 || evs[0].WABAID != a["waba_id"] || strings.Contains(string(evs[0].Body), "APPROVED") {
		t.Fatalf("outbox (body must be sealed): %+v", evs)
	}
	body, err := h.sealer.Open(raftfsm.WebhookAAD(a["waba_id"]), evs[0].Body)
	if err != nil || !strings.Contains(string(body), `"field":"message_template_status_update"`) ||
		!strings.Contains(string(body), `"event":"APPROVED"`) {
		t.Fatalf("outbox body: %s %v", body, err)
	}
	code, out = h.do("DELETE", url, a["access_token"], "")
	if code != 200 {
		t.Fatalf("delete: %d %s", code, out)
	}
	if _, err := h.c.FSM().Subscription(a["waba_id"]); err == nil {
		t.Fatal("subscription still there")
	}
	if code, _ := h.do("GET", "/admin/v1/webhooks/outbox", "admin-tok", ""); code != 200 {
		t.Fatalf("outbox: %d", code)
	}
	for _, st := range []string{"pending", "delivered", "dropped", "all"} {
		if code, out := h.do("GET", "/admin/v1/webhooks/outbox?state="+st, "admin-tok", ""); code != 200 || !strings.HasPrefix(string(out), `{"data":[`) {
			t.Fatalf("delivery log state %s: %d %s", st, code, out)
		}
	}
	if code, out := h.do("GET", "/admin/v1/webhooks/outbox?state=sent", "admin-tok", ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("bad state: %d %s", code, out)
	}
}
