package web_test

import (
	"strings"
	"testing"
)

// TestCrossTenantMatrix calls every Graph route of business A with
// business B's token (and with no token): each answers exactly like the
// route with an id that does not exist, and changes nothing.
func TestCrossTenantMatrix(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550021000")
	b := h.createTenant("+15550022000")
	tplID := h.createTemplate(a["access_token"], a["waba_id"], "isolated", "en", "Hi")
	pn, waba := a["phone_number_id"], a["waba_id"]
	routes := []struct{ method, path, body string }{
		{"GET", "/v21.0/" + pn, ""},
		{"GET", "/v21.0/" + pn + "?fields=status", ""},
		{"POST", "/v21.0/" + pn, `{"pin":"123456"}`},
		{"POST", "/v21.0/" + pn + "/messages", `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"isolated","language":{"code":"en"}}}`},
		{"POST", "/v21.0/" + pn + "/messages", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X"}`},
		{"POST", "/v21.0/" + pn + "/register", `{"messaging_product":"whatsapp","pin":"123456"}`},
		{"POST", "/v21.0/" + pn + "/deregister", `{"messaging_product":"whatsapp"}`},
		{"GET", "/v21.0/" + pn + "/whatsapp_business_profile", ""},
		{"POST", "/v21.0/" + pn + "/whatsapp_business_profile", `{"messaging_product":"whatsapp","about":"x"}`},
		{"GET", "/v21.0/" + waba + "/phone_numbers", ""},
		{"GET", "/v21.0/" + waba + "/message_templates", ""},
		{"POST", "/v21.0/" + waba + "/message_templates", `{"name":"x","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`},
		{"DELETE", "/v21.0/" + waba + "/message_templates?name=isolated", ""},
		{"GET", "/v21.0/" + waba + "/subscribed_apps", ""},
		{"POST", "/v21.0/" + waba + "/subscribed_apps", `{"override_callback_uri":"http://127.0.0.1:1/","verify_token":"x"}`},
		{"DELETE", "/v21.0/" + waba + "/subscribed_apps", ""},
		{"GET", "/v21.0/" + tplID, ""},
		{"POST", "/v21.0/" + pn + "/media", ""},
	}
	missing := func(path string) string {
		for _, id := range []string{pn, waba, tplID} {
			path = strings.Replace(path, "/"+id, "/999999999999999", 1)
		}
		return path
	}
	normalize := func(body []byte, ids ...string) string {
		e := decodeEnvelope(t, body)
		e.Error.FBTraceID = ""
		for _, id := range ids {
			e.Error.ErrorData.Details = strings.ReplaceAll(e.Error.ErrorData.Details, id, "ID")
		}
		return e.Error.Message + "|" + e.Error.Type + "|" + e.Error.ErrorData.Details
	}
	before := dumpFSM(t, h)
	for _, r := range routes {
		// B's token on A's object answers like B's token on a missing object.
		codeF, foreign := h.do(r.method, r.path, b["access_token"], r.body)
		codeM, miss := h.do(r.method, missing(r.path), b["access_token"], r.body)
		if codeF != codeM || codeF != 400 || normalize(foreign, pn, waba, tplID) != normalize(miss, "999999999999999") {
			t.Errorf("%s %s: foreign %d %s\nmissing %d %s", r.method, r.path, codeF, foreign, codeM, miss)
		}
		if code, out := h.do(r.method, r.path, "", r.body); code != 401 || decodeEnvelope(t, out).Error.Code != 190 {
			t.Errorf("%s %s without a token: %d %s", r.method, r.path, code, out)
		}
		if code, out := h.do(r.method, r.path, "admin-tok", r.body); code != 403 || decodeEnvelope(t, out).Error.Code != 10 {
			t.Errorf("%s %s with the admin token: %d %s", r.method, r.path, code, out)
		}
	}
	if after := dumpFSM(t, h); after != before {
		t.Fatal("a refused cross-tenant request changed the state")
	}
}

func dumpFSM(t *testing.T, h *harness) string {
	t.Helper()
	var sb strings.Builder
	if err := h.c.FSM().Dump(&sb); err != nil {
		t.Fatal(err)
	}
	// The applied index moves with every proposal; compare data only.
	var out []string
	for _, l := range strings.Split(sb.String(), "\n") {
		if !strings.HasPrefix(l, "meta ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
