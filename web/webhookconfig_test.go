package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestWebhookConfigurationLevels: the app callback, a WABA override and a
// phone-number override, each set through Meta's call and verified by the
// handshake (a wrong verify token stores nothing), read back with Meta's
// shapes and shown in the admin API with the one in effect.
func TestWebhookConfigurationLevels(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550005000")
	b := h.createTenant("+15550006000")
	var mu sync.Mutex
	verified := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != "GET" || q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != "tok"+r.URL.Path {
			w.WriteHeader(403)
			return
		}
		mu.Lock()
		verified[r.URL.Path]++
		mu.Unlock()
		_, _ = w.Write([]byte(q.Get("hub.challenge")))
	}))
	defer srv.Close()
	tok := a["access_token"]
	admin := func() string {
		code, out := h.do("GET", "/admin/v1/businesses/"+a["business_id"]+"/webhooks", "admin-tok", "")
		if code != 200 {
			t.Fatalf("admin webhooks: %d %s", code, out)
		}
		return string(out)
	}

	// A plain subscribe (pywa's default) works: events go to the app's callback.
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/subscribed_apps", tok, ""); code != 200 {
		t.Fatalf("plain subscribe: %d %s", code, out)
	}
	if out := admin(); !strings.Contains(out, `"callback_url":""`) {
		t.Fatalf("admin before any callback: %s", out)
	}

	// App level, as pywa calls it (query parameters, fields comma-separated).
	app := "/v21.0/" + a["app_id"] + "/subscriptions"
	q := "?object=whatsapp_business_account&callback_url=" + srv.URL + "/app&fields=messages,message_template_status_update&verify_token="
	if code, out := h.do("POST", app+q+"wrong", tok, ""); code != 400 || decodeEnvelope(t, out).Error.Code != 2200 {
		t.Fatalf("app, wrong token: %d %s", code, out)
	}
	if code, out := h.do("GET", app, tok, ""); code != 200 || string(out) != `{"data":[]}` {
		t.Fatalf("a failed handshake stored the app callback: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+a["app_id"]+"/subscriptions?object=page&callback_url="+srv.URL+"/app&verify_token=tok/app", tok, ""); code != 400 || decodeEnvelope(t, out).Error.Code != 131009 {
		t.Fatalf("app, wrong object: %d %s", code, out)
	}
	if code, out := h.do("POST", app+q+"tok/app", tok, ""); code != 200 || verified["/app"] != 1 {
		t.Fatalf("app: %d %s", code, out)
	}
	code, out := h.do("GET", app, tok, "")
	var subs struct {
		Data []struct {
			Object      string
			CallbackURL string `json:"callback_url"`
			Active      bool
			Fields      []struct{ Name string }
		}
	}
	if code != 200 || json.Unmarshal(out, &subs) != nil || len(subs.Data) != 1 || subs.Data[0].CallbackURL != srv.URL+"/app" || subs.Data[0].Object != "whatsapp_business_account" ||
		!subs.Data[0].Active || len(subs.Data[0].Fields) != 2 {
		t.Fatalf("app subscriptions: %d %s", code, out)
	}
	if out := admin(); !strings.Contains(out, `"callback_url":"`+srv.URL+`/app"`) {
		t.Fatalf("admin with the app callback: %s", out)
	}
	// Another business cannot see or set it.
	if code, out := h.do("GET", app, b["access_token"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign app: %d %s", code, out)
	}

	// WABA override over the app.
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/subscribed_apps", tok,
		`{"override_callback_uri":"`+srv.URL+`/waba","verify_token":"tok/waba"}`); code != 200 {
		t.Fatalf("waba override: %d %s", code, out)
	}
	if out := admin(); !strings.Contains(out, `"callback_url":"`+srv.URL+`/waba"`) || !strings.Contains(out, `"app_callback_url":"`+srv.URL+`/app"`) {
		t.Fatalf("admin with the WABA override: %s", out)
	}

	// Phone-number override, as pywa sets it.
	phone := "/v21.0/" + a["phone_number_id"]
	if code, out := h.do("POST", phone, tok, `{"webhook_configuration":{"override_callback_uri":"`+srv.URL+`/phone","verify_token":"nope"}}`); code != 400 || decodeEnvelope(t, out).Error.Code != 2200 {
		t.Fatalf("phone, wrong token: %d %s", code, out)
	}
	if code, out := h.do("POST", phone, tok, `{"webhook_configuration":{"override_callback_uri":"`+srv.URL+`/phone","verify_token":"tok/phone"}}`); code != 200 {
		t.Fatalf("phone override: %d %s", code, out)
	}
	code, out = h.do("GET", phone+"?fields=webhook_configuration", tok, "")
	want := `{"id":"` + a["phone_number_id"] + `","webhook_configuration":{"application":"` + srv.URL + `/app","phone_number":"` + srv.URL +
		`/phone","whatsapp_business_account":"` + srv.URL + `/waba"}}`
	if code != 200 || string(out) != want {
		t.Fatalf("webhook_configuration: %d %s\nwant %s", code, out, want)
	}
	if out := admin(); !strings.Contains(out, `"phone_overrides":[{"phone_number_id":"`+a["phone_number_id"]+`","callback_url":"`+srv.URL+`/phone"}]`) {
		t.Fatalf("admin with the phone override: %s", out)
	}
	// An empty override removes it.
	if code, out := h.do("POST", phone, tok, `{"webhook_configuration":{"override_callback_uri":""}}`); code != 200 {
		t.Fatalf("remove phone override: %d %s", code, out)
	}
	if _, out := h.do("GET", phone+"?fields=webhook_configuration", tok, ""); strings.Contains(string(out), "/phone") {
		t.Fatalf("override still there: %s", out)
	}

	// pywa's app access token.
	code, out = h.do("GET", "/oauth/access_token?grant_type=client_credentials&client_id="+a["app_id"]+"&client_secret="+a["app_secret"], "", "")
	if code != 200 || !strings.Contains(string(out), `"access_token":"`+a["app_id"]+`|`) {
		t.Fatalf("app access token: %d %s", code, out)
	}
	if code, out := h.do("GET", "/oauth/access_token?grant_type=client_credentials&client_id="+a["app_id"]+"&client_secret=x", "", ""); code != 401 {
		t.Fatalf("wrong secret: %d %s", code, out)
	}
}
