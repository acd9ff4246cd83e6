package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPartnerAppInstalled: a WABA's first subscribed_apps queues the
// account_update PARTNER_APP_INSTALLED webhook — only for an app that
// subscribed to the account_update field — and a later subscribe (a new
// override) queues none.
func TestPartnerAppInstalled(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550146000")
	tok, waba, app := a["access_token"], a["waba_id"], a["app_id"]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	t.Cleanup(hook.Close)
	appFields := func(fields string) {
		t.Helper()
		if code, out := h.do("POST", "/v21.0/"+app+"/subscriptions", tok,
			`{"object":"whatsapp_business_account","callback_url":"`+hook.URL+`","verify_token":"v","fields":"`+fields+`"}`); code != 200 {
			t.Fatalf("app subscription: %d %s", code, out)
		}
	}
	queued := func() int { evs, _ := h.c.FSM().Outbox(0); return len(evs) }
	subscribe := func() {
		t.Helper()
		if code, out := h.do("POST", "/v21.0/"+waba+"/subscribed_apps", tok, `{"override_callback_uri":"`+hook.URL+`","verify_token":"v"}`); code != 200 {
			t.Fatalf("subscribe: %d %s", code, out)
		}
	}
	unsubscribe := func() {
		t.Helper()
		if code, out := h.do("DELETE", "/v21.0/"+waba+"/subscribed_apps", tok, ""); code != 200 {
			t.Fatalf("unsubscribe: %d %s", code, out)
		}
	}

	appFields("messages")
	before := queued()
	subscribe()
	if queued() != before {
		t.Fatal("an app not subscribed to account_update got PARTNER_APP_INSTALLED")
	}
	unsubscribe()

	appFields("messages,account_update")
	before = queued()
	subscribe()
	body := string(h.onlyNewEvent(t, waba, before))
	want := `"changes":[{"value":{"event":"PARTNER_APP_INSTALLED","waba_info":{"waba_id":"` + waba +
		`","owner_business_id":"` + a["business_id"] + `","partner_app_id":"` + app + `"}},"field":"account_update"}]`
	if !strings.Contains(body, want) || !strings.Contains(body, `"object":"whatsapp_business_account"`) {
		t.Fatalf("install webhook %s\nwant %s", body, want)
	}
	before = queued()
	subscribe() // already installed: a new override is no installation
	if queued() != before {
		t.Fatal("a second subscribe queued PARTNER_APP_INSTALLED again")
	}
}
