package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
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
	// hello_world (every WABA has it), order_update ×2 | welcome.
	if code != 200 || json.Unmarshal(out, &page2) != nil || len(page2.Data) != 2 || page2.Data[1].Name != "welcome" {
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

// TestNamedTemplateParameters: a NAMED template is created with
// {{name}} placeholders and named examples, and a send must supply each
// of its names exactly once (any order) — the right count under the wrong
// names is 132000 too. Rejected definitions and sends store nothing.
func TestNamedTemplateParameters(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550017000")
	tok := a["access_token"]
	base := "/v21.0/" + a["waba_id"] + "/message_templates"
	def := func(format, header, headerEx, body, bodyEx string) string {
		return `{"name":"shipping","language":"en","category":"UTILITY","parameter_format":"` + format + `","components":[` +
			`{"type":"HEADER","format":"TEXT","text":"` + header + `"` + headerEx + `},` +
			`{"type":"BODY","text":"` + body + `"` + bodyEx + `}]}`
	}
	headerEx := `,"example":{"header_text_named_params":[{"param_name":"order_id","example":"42"}]}`
	bodyEx := `,"example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"ship_date","example":"May 1"}]}`
	named := "Hi {{first_name}}, it ships {{ship_date}}."
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"no example", def("NAMED", "Order {{order_id}}", headerEx, named, ""), 131008},
		{"example lacks a name", def("NAMED", "Order {{order_id}}", headerEx, named,
			`,"example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"}]}`), 131009},
		{"example names another parameter", def("NAMED", "Order {{order_id}}", headerEx, named,
			`,"example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"nickname","example":"A"}]}`), 131009},
		{"empty example", def("NAMED", "Order {{order_id}}", headerEx, named,
			`,"example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"ship_date","example":""}]}`), 131009},
		{"malformed example", def("NAMED", "Order {{order_id}}", headerEx, named, `,"example":{"body_text_named_params":"Ana"}`), 100},
		{"header without example", def("NAMED", "Order {{order_id}}", "", named, bodyEx), 131008},
		{"number in a named template", def("NAMED", "Order", "", "Hi {{1}}", `,"example":{"body_text_named_params":[{"param_name":"1","example":"x"}]}`), 131009},
		{"name in a positional template", def("POSITIONAL", "Order", "", named, bodyEx), 131009},
		{"positional gap", def("POSITIONAL", "Order", "", "Hi {{2}}", ""), 131009},
	} {
		code, out := h.do("POST", base, tok, tc.body)
		if code != 400 || decodeEnvelope(t, out).Error.Code != tc.code {
			t.Fatalf("%s: %d %s, want %d", tc.name, code, out, tc.code)
		}
	}
	if ts, _ := h.c.FSM().Templates(a["waba_id"]); len(ts) != 1 { // hello_world
		t.Fatalf("rejected definitions stored %d templates", len(ts)-1)
	}
	code, out := h.do("POST", base, tok, def("NAMED", "Order {{order_id}}", headerEx, named, bodyEx))
	var created struct{ ID, Status string }
	if code != 200 || json.Unmarshal(out, &created) != nil || created.Status != "APPROVED" {
		t.Fatalf("create: %d %s", code, out)
	}
	if code, out := h.do("GET", "/v21.0/"+created.ID+"?fields=parameter_format", tok, ""); code != 200 ||
		string(out) != `{"id":"`+created.ID+`","parameter_format":"NAMED"}` {
		t.Fatalf("parameter_format: %d %s", code, out)
	}

	send := "/v21.0/" + a["phone_number_id"] + "/messages"
	tpl := func(header, body string) string {
		return `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"shipping","language":{"code":"en"},` +
			`"components":[{"type":"header","parameters":[` + header + `]},{"type":"body","parameters":[` + body + `]}]}}`
	}
	p := func(name, text string) string {
		if name == "" {
			return `{"type":"text","text":"` + text + `"}`
		}
		return `{"type":"text","parameter_name":"` + name + `","text":"` + text + `"}`
	}
	order := p("order_id", "42")
	stored := h.c.FSM().MessageCount()
	for _, tc := range []struct{ name, body, details string }{
		{"missing", tpl(order, p("first_name", "Ana")), "body: parameter ship_date is missing"},
		{"unknown name, right count", tpl(order, p("first_name", "Ana")+","+p("nickname", "A")), "body: parameter nickname is not in the template"},
		{"no parameter_name", tpl(order, p("first_name", "Ana")+","+p("", "May 1")), "body: parameters[1] has no parameter_name"},
		{"twice", tpl(order, p("first_name", "Ana")+","+p("first_name", "Bo")), "body: parameter first_name is given twice"},
		{"header missing", tpl("", p("first_name", "Ana")+","+p("ship_date", "May 1")), "header: parameter order_id is missing"},
		{"header unknown", tpl(p("order", "42"), p("first_name", "Ana")+","+p("ship_date", "May 1")), "header: parameter order is not in the template"},
	} {
		code, out := h.do("POST", send, tok, tc.body)
		e := decodeEnvelope(t, out)
		if code != 400 || e.Error.Code != 132000 || !strings.HasPrefix(e.Error.ErrorData.Details, tc.details) {
			t.Fatalf("%s: %d %s, want 132000 %q", tc.name, code, out, tc.details)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored {
		t.Fatalf("refused sends stored %d messages", n-stored)
	}
	// Any order; no window needed for a template.
	if code, out := h.do("POST", send, tok, tpl(order, p("ship_date", "May 1")+","+p("first_name", "Ana"))); code != 200 {
		t.Fatalf("named send: %d %s", code, out)
	}
	if n := h.c.FSM().MessageCount(); n != stored+1 {
		t.Fatalf("the named send stored %d messages", n-stored)
	}
}

// submitTemplate creates a one-line template and returns its id and status.
func (h *harness) submitTemplate(token, waba, name string) (string, string) {
	h.t.Helper()
	code, out := h.do("POST", "/v21.0/"+waba+"/message_templates", token,
		`{"name":"`+name+`","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"Hi"}]}`)
	var r struct{ ID, Status string }
	if code != 200 || json.Unmarshal(out, &r) != nil || r.ID == "" {
		h.t.Fatalf("create template: %d %s", code, out)
	}
	return r.ID, r.Status
}

// TestTemplateReviewPolicy: a WABA's review policy, set by the cluster
// admin, decides what a valid new template becomes — approve (default)
// APPROVED, manual PENDING until the admin review endpoint decides,
// reject REJECTED — with the matching status webhook queued (none while
// pending). Other WABAs keep theirs; bad settings change nothing.
func TestTemplateReviewPolicy(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550018000")
	b := h.createTenant("+15550019000")
	tok, waba := a["access_token"], a["waba_id"]
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	defer hook.Close()
	if code, out := h.do("POST", "/v21.0/"+waba+"/subscribed_apps", tok, `{"override_callback_uri":"`+hook.URL+`","verify_token":"v"}`); code != 200 {
		t.Fatalf("subscribe: %d %s", code, out)
	}
	// events returns the status events queued since the last call.
	var queued int
	events := func() []string {
		t.Helper()
		evs, _ := h.c.FSM().Outbox(0)
		var out []string
		for _, ev := range evs[queued:] {
			body, err := h.sealer.Open(raftfsm.WebhookAAD(waba), ev.Body)
			if err != nil {
				t.Fatal(err)
			}
			var n struct {
				Entry []struct {
					Changes []struct{ Value struct{ Event string } }
				}
			}
			if err := json.Unmarshal(body, &n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n.Entry[0].Changes[0].Value.Event)
		}
		queued = len(evs)
		return out
	}
	review := func(body string) (int, []byte) {
		return h.do("POST", "/admin/v1/wabas/"+waba+"/template-review", "admin-tok", body)
	}
	send := func(name string) int {
		code, _ := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/messages", tok,
			`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"`+name+`","language":{"code":"en"}}}`)
		return code
	}
	policy := func(biz map[string]string) string {
		t.Helper()
		code, out := h.do("GET", "/admin/v1/businesses/"+biz["business_id"], "admin-tok", "")
		var r struct {
			WABAs []struct {
				ID             string `json:"id"`
				TemplateReview string `json:"template_review"`
			} `json:"wabas"`
		}
		if code != 200 || json.Unmarshal(out, &r) != nil || len(r.WABAs) != 1 || r.WABAs[0].ID != biz["waba_id"] {
			t.Fatalf("business: %d %s", code, out)
		}
		return r.WABAs[0].TemplateReview
	}

	if _, st := h.submitTemplate(tok, waba, "first"); st != "APPROVED" || policy(a) != "approve" {
		t.Fatalf("default policy: %s, %s", st, policy(a))
	}
	if evs := events(); len(evs) != 1 || evs[0] != "APPROVED" {
		t.Fatalf("default events %v", evs)
	}

	if code, out := review(`{"policy":"manual"}`); code != 200 || string(out) != `{"success":true,"template_review":"manual"}` {
		t.Fatalf("set manual: %d %s", code, out)
	}
	id, st := h.submitTemplate(tok, waba, "waits")
	if st != "PENDING" || policy(a) != "manual" {
		t.Fatalf("manual: %s", st)
	}
	if tpl, err := h.c.FSM().TemplateByID(id); err != nil || tpl.Status != "PENDING" {
		t.Fatalf("stored %+v %v", tpl, err)
	}
	if evs := events(); len(evs) != 0 {
		t.Fatalf("a pending template queued %v", evs)
	}
	if code := send("waits"); code != 404 {
		t.Fatalf("pending template sent: %d", code)
	}
	// The policy is the WABA's: another business still gets approvals.
	if _, st := h.submitTemplate(b["access_token"], b["waba_id"], "elsewhere"); st != "APPROVED" || policy(b) != "approve" {
		t.Fatalf("other WABA: %s", st)
	}
	if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"APPROVED"}`); code != 200 {
		t.Fatalf("review: %d %s", code, out)
	}
	if evs := events(); len(evs) != 1 || evs[0] != "APPROVED" || send("waits") != 200 {
		t.Fatalf("after review: %v", evs)
	}

	if code, out := review(`{"policy":"reject"}`); code != 200 {
		t.Fatalf("set reject: %d %s", code, out)
	}
	if _, st := h.submitTemplate(tok, waba, "refused"); st != "REJECTED" {
		t.Fatalf("reject: %s", st)
	}
	if evs := events(); len(evs) != 1 || evs[0] != "REJECTED" || send("refused") != 404 {
		t.Fatalf("reject events %v", evs)
	}
	// Invalid definitions are refused before any policy applies.
	if code, _ := h.do("POST", "/v21.0/"+waba+"/message_templates", tok, `{"name":"x","language":"en","category":"UTILITY"}`); code != 400 {
		t.Fatalf("invalid definition: %d", code)
	}

	// Bad settings: the Graph envelope, and the policy stays.
	for _, tc := range []struct {
		path, body   string
		status, code int
	}{
		{"/admin/v1/wabas/" + waba + "/template-review", `{"policy":"auto"}`, 400, 131009},
		{"/admin/v1/wabas/" + waba + "/template-review", `{"policy":"APPROVE"}`, 400, 131009},
		{"/admin/v1/wabas/" + waba + "/template-review", `{}`, 400, 131008},
		{"/admin/v1/wabas/" + waba + "/template-review", `{"policy":"approve","x":1}`, 400, 100},
		{"/admin/v1/wabas/999999999/template-review", `{"policy":"approve"}`, 400, 100},
	} {
		code, out := h.do("POST", tc.path, "admin-tok", tc.body)
		if code != tc.status || decodeEnvelope(t, out).Error.Code != tc.code {
			t.Fatalf("%s %s: %d %s", tc.path, tc.body, code, out)
		}
	}
	if p := policy(a); p != "reject" {
		t.Fatalf("policy after bad settings: %s", p)
	}
	if code, out := review(`{"policy":"approve"}`); code != 200 {
		t.Fatalf("set approve: %d %s", code, out)
	}
	if _, st := h.submitTemplate(tok, waba, "again"); st != "APPROVED" {
		t.Fatalf("approve again: %s", st)
	}
}
