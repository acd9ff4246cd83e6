package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// TestPhoneEdges drives the phone-number edges kept as settings:
// conversational automation (JSON and form bodies, shown in the phone's
// fields), commerce settings (query parameters as Meta's examples send
// them), number settings, and QR codes (create, update, list, get,
// delete). Another business sees none of them; bad input changes nothing.
func TestPhoneEdges(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550036000")
	b := h.createTenant("+15550037000")
	tok, pn := a["access_token"], "/v21.0/"+a["phone_number_id"]
	ok := func(method, path, body string) []byte {
		t.Helper()
		code, out := h.do(method, path, tok, body)
		if code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, code, out)
		}
		return out
	}
	// Conversational automation.
	ok("POST", pn+"/conversational_automation", `{"enable_welcome_message":true,"prompts":["Book a flight","Plan a trip"]}`)
	ok("POST", pn+"/conversational_automation", `commands=[{"command_name":"tickets","command_description":"Book flight tickets"}]`)
	out := ok("GET", pn+"?fields=conversational_automation,verified_name", "")
	var phone struct {
		ID         string `json:"id"`
		Automation struct {
			Welcome  bool     `json:"enable_welcome_message"`
			Prompts  []string `json:"prompts"`
			Commands []struct {
				Name string `json:"command_name"`
			} `json:"commands"`
		} `json:"conversational_automation"`
		VerifiedName string `json:"verified_name"`
	}
	if json.Unmarshal(out, &phone) != nil || !phone.Automation.Welcome || len(phone.Automation.Prompts) != 2 ||
		len(phone.Automation.Commands) != 1 || phone.Automation.Commands[0].Name != "tickets" || phone.VerifiedName == "" {
		t.Fatalf("automation: %s", out)
	}
	if code, _ := h.do("POST", pn+"/conversational_automation", tok, `{"prompts":["1","2","3","4","5"]}`); code != 400 {
		t.Fatalf("five ice breakers: %d", code)
	}
	if out := ok("GET", pn+"?fields=conversational_automation", ""); !strings.Contains(string(out), "Plan a trip") {
		t.Fatalf("a refused edit changed the automation: %s", out)
	}
	// Commerce settings, by query parameters.
	if out := ok("GET", pn+"/whatsapp_commerce_settings", ""); !strings.Contains(string(out), `"is_cart_enabled":false`) {
		t.Fatalf("default commerce settings: %s", out)
	}
	ok("POST", pn+"/whatsapp_commerce_settings?is_cart_enabled=true", "")
	ok("POST", pn+"/whatsapp_commerce_settings?is_catalog_visible=true", "")
	if out := ok("GET", pn+"/whatsapp_commerce_settings", ""); !strings.Contains(string(out), `"is_cart_enabled":true`) || !strings.Contains(string(out), `"is_catalog_visible":true`) {
		t.Fatalf("commerce settings: %s", out)
	}
	// Number settings.
	ok("POST", pn+"/settings", `{"storage_configuration":{"status":"IN_COUNTRY_STORAGE_ENABLED","data_localization_region":"DE"}}`)
	ok("POST", pn+"/settings", `{"calling":{"status":"ENABLED"}}`)
	if out := ok("GET", pn+"/settings", ""); !strings.Contains(string(out), `"data_localization_region":"DE"`) || !strings.Contains(string(out), `"calling":{"status":"ENABLED"}`) {
		t.Fatalf("settings: %s", out)
	}
	// QR codes.
	var q struct{ Code, PrefilledMessage, DeepLinkURL string }
	out = ok("POST", pn+"/message_qrdls", `{"prefilled_message":"Cake order","generate_qr_image":"SVG"}`)
	if err := json.Unmarshal(out, &struct {
		Code             *string `json:"code"`
		PrefilledMessage *string `json:"prefilled_message"`
		DeepLinkURL      *string `json:"deep_link_url"`
	}{&q.Code, &q.PrefilledMessage, &q.DeepLinkURL}); err != nil || len(q.Code) != 14 || q.DeepLinkURL != "https://wa.me/message/"+q.Code || q.PrefilledMessage != "Cake order" {
		t.Fatalf("create qr: %s", out)
	}
	ok("POST", pn+"/message_qrdls", `{"code":"`+q.Code+`","prefilled_message":"Cookie order"}`)
	second := ok("POST", pn+"/message_qrdls", `prefilled_message=Pie`)
	if out := ok("GET", pn+"/message_qrdls", ""); strings.Count(string(out), `"code"`) != 2 || !strings.Contains(string(out), "Cookie order") {
		t.Fatalf("list qr: %s", out)
	}
	if out := ok("GET", pn+"/message_qrdls/"+q.Code, ""); strings.Count(string(out), `"code"`) != 1 || !strings.Contains(string(out), "Cookie order") {
		t.Fatalf("get qr: %s", out)
	}
	ok("DELETE", pn+"/message_qrdls/"+q.Code, "")
	for _, c := range []struct{ method, path, body string }{
		{"GET", pn + "/message_qrdls/" + q.Code, ""},
		{"DELETE", pn + "/message_qrdls?code_id=" + q.Code, ""},
		{"POST", pn + "/message_qrdls", `{"code":"` + q.Code + `","prefilled_message":"x"}`},
	} {
		if code, out := h.do(c.method, c.path, tok, c.body); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("deleted code %s %s: %d %s", c.method, c.path, code, out)
		}
	}
	if out := ok("GET", pn+"/message_qrdls", ""); strings.Count(string(out), `"code"`) != 1 || !strings.Contains(string(second), "Pie") {
		t.Fatalf("after delete: %s", out)
	}
	// Another business sees none of it.
	for _, path := range []string{pn + "/message_qrdls", pn + "/settings", pn + "/whatsapp_commerce_settings"} {
		if code, _ := h.do("GET", path, b["access_token"], ""); code != 400 {
			t.Fatalf("foreign %s: %d", path, code)
		}
	}
}

// TestDisplayNameChange: POST /{phone-number-id}?new_display_name=…
// (Meta's call) changes verified_name — under the default review policy
// (approve) at once — and
// queues a phone_number_name_update webhook in Meta's shape; a blank or
// emoji name changes nothing; the 11th change in 30 days is refused.
func TestDisplayNameChange(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550038000")
	tok, pn, waba := a["access_token"], "/v21.0/"+a["phone_number_id"], a["waba_id"]
	before := h.subscribeEcho(t, tok, waba)
	if code, out := h.do("POST", pn+"?new_display_name=Lucky%20Shrub", tok, ""); code != 200 || string(out) != `{"success":true}` {
		t.Fatalf("change: %d %s", code, out)
	}
	if _, out := h.do("GET", pn+"?fields=verified_name", tok, ""); !strings.Contains(string(out), `"verified_name":"Lucky Shrub"`) {
		t.Fatalf("after change: %s", out)
	}
	body := h.onlyNewEvent(t, waba, before)
	want := `{"entry":[{"id":"` + waba + `","time":`
	tail := `"changes":[{"value":{"display_phone_number":"15550038000","decision":"APPROVED","requested_verified_name":"Lucky Shrub","rejection_reason":null},"field":"phone_number_name_update"}]}],"object":"whatsapp_business_account"}`
	if !strings.HasPrefix(string(body), want) || !strings.HasSuffix(string(body), tail) {
		t.Fatalf("webhook %s", body)
	}
	for _, bad := range []string{`{"new_display_name":" "}`, `{"new_display_name":"Shrub 🌵"}`} {
		if code, out := h.do("POST", pn, tok, bad); code != 400 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
	for i := 2; i <= 10; i++ {
		if code, out := h.do("POST", pn, tok, `{"new_display_name":"Shrub `+strconv.Itoa(i)+`"}`); code != 200 {
			t.Fatalf("change %d: %d %s", i, code, out)
		}
	}
	if code, out := h.do("POST", pn, tok, `{"new_display_name":"Shrub 11"}`); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("11th change: %d %s", code, out)
	}
	if _, out := h.do("GET", pn+"?fields=verified_name", tok, ""); !strings.Contains(string(out), `"verified_name":"Shrub 10"`) {
		t.Fatalf("after refusals: %s", out)
	}
}

// TestSecurityWebhookOnPIN: setting the two-step PIN queues Meta's
// security webhook (PIN_CHANGED) for the WABA; a refused PIN queues none.
func TestSecurityWebhookOnPIN(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550040000")
	tok, waba := a["access_token"], a["waba_id"]
	before := h.subscribeEcho(t, tok, waba)
	if code, _ := h.do("POST", "/v21.0/"+a["phone_number_id"], tok, `{"pin":"12"}`); code != 400 {
		t.Fatalf("short pin: %d", code)
	}
	if code, out := h.do("POST", "/v21.0/"+a["phone_number_id"], tok, `{"pin":"123456"}`); code != 200 {
		t.Fatalf("pin: %d %s", code, out)
	}
	body := h.onlyNewEvent(t, waba, before)
	if !strings.HasSuffix(string(body), `"changes":[{"value":{"display_phone_number":"15550040000","event":"PIN_CHANGED"},"field":"security"}]}],"object":"whatsapp_business_account"}`) {
		t.Fatalf("webhook %s", body)
	}
}

// subscribeEcho subscribes the WABA to a receiver that passes the
// handshake and returns how many events were queued before.
func (h *harness) subscribeEcho(t *testing.T, tok, waba string) int {
	t.Helper()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	t.Cleanup(hook.Close)
	if code, out := h.do("POST", "/v21.0/"+waba+"/subscribed_apps", tok, `{"override_callback_uri":"`+hook.URL+`","verify_token":"v"}`); code != 200 {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	evs, _ := h.c.FSM().Outbox(0)
	return len(evs)
}

// onlyNewEvent wants exactly one event queued since before and returns
// its opened body.
func (h *harness) onlyNewEvent(t *testing.T, waba string, before int) []byte {
	t.Helper()
	evs, _ := h.c.FSM().Outbox(0)
	if len(evs) != before+1 {
		t.Fatalf("%d events queued, want 1", len(evs)-before)
	}
	body, err := h.sealer.Open(raftfsm.WebhookAAD(waba), evs[len(evs)-1].Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestBlockUsers: POST /{phone-number-id}/block_users blocks users who
// wrote in the last 24 hours (others and non-numbers are failed_users
// with 139100), GET lists them (numbers are stored sealed), DELETE
// unblocks; another business sees none of it.
func TestBlockUsers(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550041000")
	b := h.createTenant("+15550042000")
	tok, path := a["access_token"], "/v21.0/"+a["phone_number_id"]+"/block_users"
	h.openWindow(a["phone_number_id"], "15551234567", time.Now())
	h.openWindow(a["phone_number_id"], "15551234568", time.Now().Add(-25*time.Hour))
	body := `{"messaging_product":"whatsapp","block_users":[{"user":"+1 555 123 4567"},{"user":"15551234568"},{"user":"not a number"}]}`
	code, out := h.do("POST", path, tok, body)
	var r struct {
		BlockUsers struct {
			Added   []struct{ Input, WAID string } `json:"added_users"`
			Removed []struct{ Input, WAID string } `json:"removed_users"`
			Failed  []struct {
				Input  string
				Errors []struct{ Code int }
			} `json:"failed_users"`
		} `json:"block_users"`
	}
	if code != 200 || json.Unmarshal(out, &r) != nil || len(r.BlockUsers.Added) != 1 || r.BlockUsers.Added[0].Input != "+1 555 123 4567" ||
		len(r.BlockUsers.Failed) != 2 || r.BlockUsers.Failed[0].Errors[0].Code != 139100 || r.BlockUsers.Failed[1].Input != "not a number" {
		t.Fatalf("block: %d %s", code, out)
	}
	if !strings.Contains(string(out), `"wa_id":"15551234567"`) {
		t.Fatalf("block answer without wa_id: %s", out)
	}
	if _, out := h.do("GET", path, tok, ""); !strings.Contains(string(out), `"data":[{"messaging_product":"whatsapp","wa_id":"15551234567"}]`) {
		t.Fatalf("list: %s", out)
	}
	if code, _ := h.do("GET", path, b["access_token"], ""); code != 400 {
		t.Fatalf("foreign list: %d", code)
	}
	for _, bad := range []string{`{"block_users":[{"user":"1"}]}`, `{"messaging_product":"whatsapp","block_users":[]}`, `{"messaging_product":"whatsapp","block_users":[{"User":"1"}]}`} {
		if code, _ := h.do("POST", path, tok, bad); code != 400 {
			t.Fatalf("%s: %d", bad, code)
		}
	}
	code, out = h.do("DELETE", path, tok, `{"messaging_product":"whatsapp","block_users":[{"user":"15551234567"}]}`)
	if code != 200 || json.Unmarshal(out, &r) != nil || len(r.BlockUsers.Removed) != 1 {
		t.Fatalf("unblock: %d %s", code, out)
	}
	if _, out := h.do("GET", path, tok, ""); !strings.Contains(string(out), `"data":[]`) {
		t.Fatalf("list after unblock: %s", out)
	}
	if _, out := h.do("DELETE", path, tok, `{"messaging_product":"whatsapp","block_users":[{"user":"15551234567"}]}`); !strings.Contains(string(out), `"failed_users"`) {
		t.Fatalf("unblock again: %s", out)
	}
}
