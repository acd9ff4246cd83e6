package web_test

import (
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
	stored := h.c.fsm.MessageCount()
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
	if n := h.c.fsm.MessageCount(); n != stored {
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
