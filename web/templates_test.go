package web_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func (h *harness) createTemplate(token, waba, name, lang, body string) string {
	h.t.Helper()
	code, out := h.do("POST", "/v21.0/"+waba+"/message_templates", token,
		`{"name":"`+name+`","language":"`+lang+`","category":"UTILITY","components":[{"type":"BODY","text":"`+body+`"}]}`)
	if code != 200 {
		h.t.Fatalf("create template: %d %s", code, out)
	}
	var r struct{ ID, Status, Category string }
	if err := json.Unmarshal(out, &r); err != nil || r.ID == "" || r.Status != "APPROVED" || r.Category != "UTILITY" {
		h.t.Fatalf("create template response %s", out)
	}
	return r.ID
}

func TestTemplates(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550005000")
	b := h.createTenant("+15550006000")
	base := "/v21.0/" + a["waba_id"] + "/message_templates"
	id := h.createTemplate(a["access_token"], a["waba_id"], "order_update", "en_US", "Hi {{1}}, your order ships {{2}}.")
	h.createTemplate(a["access_token"], a["waba_id"], "order_update", "pt_BR", "Oi {{1}}, envio {{2}}.")
	h.createTemplate(a["access_token"], a["waba_id"], "welcome", "en_US", "Welcome!")

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"name":"order_update","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"dup"}]}`, 100},
		{`{"name":"Bad Name","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, 131009},
		{`{"name":"x","language":"english","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, 131009},
		{`{"name":"x","language":"en","category":"SPAM","components":[{"type":"BODY","text":"x"}]}`, 131009},
		{`{"name":"x","language":"en","category":"UTILITY","components":[{"type":"HEADER","text":"x"}]}`, 131008},
		{`{"name":"x","language":"en","category":"UTILITY"}`, 131008},
		{`{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}],"colour":1}`, 100},
	} {
		code, out := h.do("POST", base, a["access_token"], tc.body)
		if code != 400 || decodeEnvelope(t, out).Error.Code != tc.code {
			t.Fatalf("%s: %d %s", tc.body, code, out)
		}
	}

	// List with filters and paging.
	code, out := h.do("GET", base+"?limit=2", a["access_token"], "")
	var page struct {
		Data   []struct{ ID, Name, Language, Status string }
		Paging struct {
			Cursors struct{ After string }
			Next    string
		}
	}
	if code != 200 || json.Unmarshal(out, &page) != nil || len(page.Data) != 2 || page.Paging.Next == "" {
		t.Fatalf("list page 1: %d %s", code, out)
	}
	code, out = h.do("GET", base+"?limit=2&after="+page.Paging.Cursors.After, a["access_token"], "")
	var page2 struct{ Data []struct{ Name string } }
	if code != 200 || json.Unmarshal(out, &page2) != nil || len(page2.Data) != 1 || page2.Data[0].Name != "welcome" {
		t.Fatalf("list page 2: %d %s", code, out)
	}
	code, out = h.do("GET", base+"?language=pt_BR", a["access_token"], "")
	if code != 200 || strings.Count(string(out), `"id"`) != 1 {
		t.Fatalf("filter: %d %s", code, out)
	}
	if code, out := h.do("GET", "/v21.0/"+id, a["access_token"], ""); code != 200 || !strings.Contains(string(out), `"order_update"`) {
		t.Fatalf("get by id: %d %s", code, out)
	}
	// Tenant isolation: another business sees none of it.
	if code, out := h.do("GET", "/v21.0/"+id, b["access_token"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign template by id: %d %s", code, out)
	}
	if code, out := h.do("GET", base, b["access_token"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign list: %d %s", code, out)
	}

	// Sending checks the parameter count (132000).
	h.openWindow(a["phone_number_id"], "15551234567", time.Now())
	send := "/v21.0/" + a["phone_number_id"] + "/messages"
	tpl := func(params string) string {
		return `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[` + params + `]}]}}`
	}
	if code, out := h.do("POST", send, a["access_token"], tpl(`{"type":"text","text":"Ana"}`)); code != 400 || decodeEnvelope(t, out).Error.Code != 132000 {
		t.Fatalf("param count: %d %s", code, out)
	}
	if code, out := h.do("POST", send, a["access_token"], tpl(`{"type":"text","text":"Ana"},{"type":"text","text":"today"}`)); code != 200 {
		t.Fatalf("good template send: %d %s", code, out)
	}
	// Rejected by an admin: no longer sendable (132001).
	if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"REJECTED","reason":"INVALID_FORMAT"}`); code != 200 {
		t.Fatalf("reject: %d %s", code, out)
	}
	if code, out := h.do("POST", send, a["access_token"], tpl(`{"type":"text","text":"Ana"},{"type":"text","text":"today"}`)); code != 404 || decodeEnvelope(t, out).Error.Code != 132001 {
		t.Fatalf("rejected template send: %d %s", code, out)
	}
	// Delete by name removes every language.
	if code, out := h.do("DELETE", base+"?name=order_update", a["access_token"], ""); code != 200 {
		t.Fatalf("delete: %d %s", code, out)
	}
	if code, out := h.do("GET", base+"?name=order_update", a["access_token"], ""); code != 200 || strings.Contains(string(out), `"id"`) {
		t.Fatalf("after delete: %d %s", code, out)
	}
	if code, _ := h.do("DELETE", base+"?name=order_update", a["access_token"], ""); code != 400 {
		t.Fatalf("delete again: %d", code)
	}
}
