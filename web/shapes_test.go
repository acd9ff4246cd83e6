package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTemplateStatusErrors: a paused template answers 132015, a disabled
// one 132016 (Meta's codes), a rejected one 132001; approving again makes
// it sendable. Nothing is stored for a refused send.
func TestTemplateStatusErrors(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550031000")
	id := h.createTemplate(a["access_token"], a["waba_id"], "promo", "en_US", "Hi")
	h.openWindow(a["phone_number_id"], "15551234567", time.Now())
	send := "/v21.0/" + a["phone_number_id"] + "/messages"
	body := `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"promo","language":{"code":"en_US"}}}`
	stored := h.c.FSM().MessageCount()
	for _, tc := range []struct {
		status       string
		code, answer int
	}{
		{"PAUSED", 400, 132015}, {"DISABLED", 400, 132016}, {"REJECTED", 404, 132001},
	} {
		if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"`+tc.status+`"}`); code != 200 {
			t.Fatalf("%s: %d %s", tc.status, code, out)
		}
		code, out := h.do("POST", send, a["access_token"], body)
		if code != tc.code || decodeEnvelope(t, out).Error.Code != tc.answer {
			t.Fatalf("%s template send: %d %s, want %d %d", tc.status, code, out, tc.code, tc.answer)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored {
		t.Fatalf("refused sends stored %d messages", n-stored)
	}
	if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"APPROVED"}`); code != 200 {
		t.Fatalf("approve: %d %s", code, out)
	}
	if code, out := h.do("POST", send, a["access_token"], body); code != 200 {
		t.Fatalf("approved again: %d %s", code, out)
	}
}

// TestHelloWorldFirstSend: the README's first send — hello_world, en_US,
// no parameters — works on a new business, as on Meta.
func TestHelloWorldFirstSend(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550032000")
	code, out := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/messages", a["access_token"],
		`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	if code != 200 || !strings.Contains(string(out), `"message_status":"accepted"`) {
		t.Fatalf("hello_world send: %d %s", code, out)
	}
	code, out = h.do("GET", "/v21.0/"+a["waba_id"]+"/message_templates?name=hello_world", a["access_token"], "")
	if code != 200 || !strings.Contains(string(out), `"status":"APPROVED"`) || !strings.Contains(string(out), `"category":"UTILITY"`) {
		t.Fatalf("hello_world listed: %d %s", code, out)
	}
}

// TestTemplateEdit: POST /{template-id} edits components (reviewed
// again, the send then matches the new parameters), refuses a category
// change of an approved template, a second edit within 24 hours, a bad
// definition and another business's template — each leaving the template
// as it was. A phone number id on the same route still sets the PIN.
func TestTemplateEdit(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550033000")
	b := h.createTenant("+15550034000")
	tok := a["access_token"]
	id := h.createTemplate(tok, a["waba_id"], "shipping", "en_US", "Shipped")
	edit := func(token, body string) (int, envelope, []byte) {
		code, out := h.do("POST", "/v21.0/"+id, token, body)
		var e envelope
		if code != 200 {
			e = decodeEnvelope(t, out)
		}
		return code, e, out
	}
	if code, _, out := edit(tok, `{"components":[{"type":"BODY","text":"Order {{1}} shipped","example":{"body_text":[["42"]]}}],"message_send_ttl_seconds":3600}`); code != 200 || string(out) != `{"success":true}` {
		t.Fatalf("edit: %d %s", code, out)
	}
	code, out := h.do("GET", "/v21.0/"+id, tok, "")
	if code != 200 || !strings.Contains(string(out), `Order {{1}} shipped`) || !strings.Contains(string(out), `"status":"APPROVED"`) ||
		!strings.Contains(string(out), `"message_send_ttl_seconds":3600`) {
		t.Fatalf("after edit: %d %s", code, out)
	}
	h.openWindow(a["phone_number_id"], "15551234567", time.Now())
	send := func(params string) int {
		code, _ := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/messages", tok,
			`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"shipping","language":{"code":"en_US"},"components":[{"type":"body","parameters":[`+params+`]}]}}`)
		return code
	}
	if send("") != 400 || send(`{"type":"text","text":"42"}`) != 200 {
		t.Fatal("the send does not follow the edited parameters")
	}
	for _, tc := range []struct {
		name, token, body string
		status, code      int
	}{
		{"category of an approved template", tok, `{"category":"MARKETING","message_send_ttl_seconds":86400}`, 400, 100},
		{"ttl out of the new category's range", tok, `{"category":"MARKETING"}`, 400, 131009},
		{"second edit within 24 hours", tok, `{"components":[{"type":"BODY","text":"again"}]}`, 400, 100},
		{"nothing to edit", tok, `{}`, 400, 131008},
		{"bad definition", tok, `{"components":[{"type":"HEADER","format":"TEXT","text":"h"}]}`, 400, 131008},
		{"unknown key", tok, `{"name":"renamed"}`, 400, 100},
		{"another business", b["access_token"], `{"components":[{"type":"BODY","text":"x"}]}`, 400, 100},
	} {
		code, e, out := edit(tc.token, tc.body)
		if code != tc.status || e.Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %d", tc.name, code, out, tc.status, tc.code)
		}
	}
	if _, out := h.do("GET", "/v21.0/"+id, tok, ""); !strings.Contains(string(out), `Order {{1}} shipped`) || !strings.Contains(string(out), `"category":"UTILITY"`) {
		t.Fatalf("a refused edit changed the template: %s", out)
	}
	// Rejected: edits without limit, approved again by the default policy.
	if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"REJECTED"}`); code != 200 {
		t.Fatalf("reject: %d %s", code, out)
	}
	if code, _, out := edit(tok, `{"category":"MARKETING","components":[{"type":"BODY","text":"Deal"}],"message_send_ttl_seconds":86400}`); code != 200 {
		t.Fatalf("edit of a rejected template: %d %s", code, out)
	}
	if _, out := h.do("GET", "/v21.0/"+id, tok, ""); !strings.Contains(string(out), `"category":"MARKETING"`) || !strings.Contains(string(out), `"status":"APPROVED"`) {
		t.Fatalf("after editing the rejected template: %s", out)
	}
	// The phone number on the same route.
	if code, out := h.do("POST", "/v21.0/"+a["phone_number_id"], tok, `{"pin":"123456"}`); code != 200 {
		t.Fatalf("set pin: %d %s", code, out)
	}
}

// TestWABAFields: GET /{waba-id} answers Meta's fields beyond id and name
// (pywa's get_business_account asks for timezone_id and
// message_template_namespace); health_status follows registration; an
// unknown field is still refused.
func TestWABAFields(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550035000")
	get := func(fields string) (int, map[string]any) {
		code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+fields, a["access_token"], "")
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		return code, m
	}
	code, m := get("id,name,timezone_id,message_template_namespace,currency,account_review_status,business_verification_status,ownership_type,health_status")
	if code != 200 || m["id"] != a["waba_id"] || m["timezone_id"] != "0" || m["currency"] != "USD" || m["account_review_status"] != "APPROVED" ||
		m["business_verification_status"] != "verified" || m["ownership_type"] != "SELF" {
		t.Fatalf("fields: %d %v", code, m)
	}
	ns, _ := m["message_template_namespace"].(string)
	if len(ns) != 36 || strings.Count(ns, "_") != 4 {
		t.Fatalf("namespace %q", ns)
	}
	if _, again := get("message_template_namespace"); again["message_template_namespace"] != ns {
		t.Fatal("the namespace is not stable")
	}
	if hs, _ := m["health_status"].(map[string]any); hs["can_send_message"] != "AVAILABLE" {
		t.Fatalf("health %v", m["health_status"])
	}
	if code, out := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/deregister", a["access_token"], `{"messaging_product":"whatsapp"}`); code != 200 {
		t.Fatalf("deregister: %d %s", code, out)
	}
	if _, m := get("health_status"); m["health_status"].(map[string]any)["can_send_message"] != "BLOCKED" {
		t.Fatalf("health after deregister %v", m["health_status"])
	}
	if code, _ := get("favourite_colour"); code != 400 {
		t.Fatalf("unknown field: %d", code)
	}
}

// TestPricingAnalytics: pricing_analytics (Meta's replacement of
// conversation_analytics under per-message pricing) counts delivered
// messages and prices them with the rate card, split by the dimensions
// asked for and filtered by category and type; unknown dimensions,
// half-hour granularity and country filters are 100.
func TestPricingAnalytics(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550039000")
	at := h.deliverPromos(t, a)
	if code, out := h.do("PUT", "/admin/v1/billing/rates", "admin-tok", `{"currency":"USD","marketing":0.05}`); code != 200 {
		t.Fatalf("rates: %d %s", code, out)
	}
	day := time.UnixMilli(at).UTC()
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Unix()
	get := func(mods string) (int, string) {
		q := fmt.Sprintf("pricing_analytics.start(%d).end(%d).granularity(DAILY)%s", start, start+86400, mods)
		code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+url.QueryEscape(q), a["access_token"], "")
		return code, string(out)
	}
	point := func(extra string) string {
		return `{"data":[{"data_points":[{"cost":0.1,"end":` + fmt.Sprint(start+86400) + extra + `,"start":` + fmt.Sprint(start) + `,"volume":2}]}]}`
	}
	if code, out := get(""); code != 200 || !strings.Contains(out, `"pricing_analytics":`+point("")) {
		t.Fatalf("totals: %d %s", code, out)
	}
	if code, out := get(`.dimensions(['PRICING_CATEGORY','PRICING_TYPE','PHONE'])`); code != 200 ||
		!strings.Contains(out, point(`,"phone_number":"15550039000","pricing_category":"MARKETING","pricing_type":"REGULAR"`)) {
		t.Fatalf("dimensions: %d %s", code, out)
	}
	if code, out := get(`.pricing_categories(["UTILITY"])`); code != 200 || !strings.Contains(out, `"pricing_analytics":{"data":[{"data_points":[]}]}`) {
		t.Fatalf("category filter: %d %s", code, out)
	}
	if code, out := get(`.metric_types(["VOLUME"])`); code != 200 || strings.Contains(out, `"cost"`) || !strings.Contains(out, `"volume":2`) {
		t.Fatalf("metric filter: %d %s", code, out)
	}
	for _, bad := range []string{`.dimensions(["COUNTRY"])`, `.country_codes(["US"])`, `.pricing_types(["FREE"])`} {
		if code, out := get(bad); code != 400 || !strings.Contains(out, `"code":100`) {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
	q := fmt.Sprintf("pricing_analytics.start(%d).end(%d).granularity(HALF_HOUR)", start, start+86400)
	if code, _ := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+url.QueryEscape(q), a["access_token"], ""); code != 400 {
		t.Fatalf("half-hour granularity: %d", code)
	}
}
