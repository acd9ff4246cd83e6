package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// mintBusinessAdmin has the cluster admin mint a business admin token.
func (h *harness) mintBusinessAdmin(businessID string) string {
	h.t.Helper()
	code, out := h.do("POST", "/admin/v1/businesses/"+businessID+"/admin-tokens", "admin-tok", "")
	var r struct{ Token string }
	if code != 200 || json.Unmarshal(out, &r) != nil || !strings.HasPrefix(r.Token, "wbadm_") {
		h.t.Fatalf("mint business admin: %d %s", code, out)
	}
	return r.Token
}

func TestBusinessAdminManagesOwnTokens(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550041000")
	b := h.createTenant("+15550042000")
	adm := h.mintBusinessAdmin(a["business_id"])
	base := "/admin/v1/businesses/" + a["business_id"]

	code, out := h.do("POST", base+"/tokens", adm, "")
	var issued struct {
		TokenID    string `json:"token_id"`
		Kind       string `json:"kind"`
		BusinessID string `json:"business_id"`
		Token      string `json:"token"`
	}
	if err := json.Unmarshal(out, &issued); code != 200 || err != nil || issued.Kind != "api" || issued.BusinessID != a["business_id"] || issued.Token == "" {
		t.Fatalf("create token: %d %s", code, out)
	}
	// The new token is a working Cloud API token of A, and only of A.
	if code, out := h.do("GET", "/v21.0/"+a["phone_number_id"], issued.Token, ""); code != 200 {
		t.Fatalf("new token on A: %d %s", code, out)
	}
	if code, _ := h.do("GET", "/v21.0/"+b["phone_number_id"], issued.Token, ""); code != 400 {
		t.Fatalf("new token on B: %d", code)
	}
	// Listings show ids and kinds, never a token value.
	code, out = h.do("GET", base+"/tokens", adm, "")
	if code != 200 || !bytes.Contains(out, []byte(issued.TokenID)) || !bytes.Contains(out, []byte(`"kind":"business_admin"`)) ||
		bytes.Contains(out, []byte(issued.Token)) || bytes.Contains(out, []byte(adm)) || bytes.Contains(out, []byte(a["access_token"])) {
		t.Fatalf("list tokens: %d %s", code, out)
	}
	// B's token id through A's business answers like a missing token.
	var bToks struct {
		Data []struct {
			TokenID string `json:"token_id"`
		}
	}
	_, out = h.do("GET", "/admin/v1/businesses/"+b["business_id"]+"/tokens", "admin-tok", "")
	if json.Unmarshal(out, &bToks) != nil || len(bToks.Data) != 1 {
		t.Fatalf("B's tokens: %s", out)
	}
	codeF, foreign := h.do("DELETE", base+"/tokens/"+bToks.Data[0].TokenID, adm, "")
	codeM, missing := h.do("DELETE", base+"/tokens/tok-0000", adm, "")
	if codeF != 400 || codeF != codeM || normalizeEnvelope(t, foreign) != normalizeEnvelope(t, missing) {
		t.Fatalf("foreign token: %d %s / missing %d %s", codeF, foreign, codeM, missing)
	}
	if code, _ := h.do("GET", "/v21.0/"+b["phone_number_id"], b["access_token"], ""); code != 200 {
		t.Fatal("B's token was revoked through A")
	}
	// Revoking makes the token unusable at once.
	if code, out := h.do("DELETE", base+"/tokens/"+issued.TokenID, adm, ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if code, _ := h.do("GET", "/v21.0/"+a["phone_number_id"], issued.Token, ""); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	// The business view lists the business's own numbers, no secrets.
	code, out = h.do("GET", base, adm, "")
	if code != 200 || !bytes.Contains(out, []byte(`"display_phone_number":"+15550041000"`)) ||
		bytes.Contains(out, []byte(a["app_secret"])) || bytes.Contains(out, []byte("+15550042000")) {
		t.Fatalf("business: %d %s", code, out)
	}
	// A business admin token is not a Cloud API token.
	if code, _ := h.do("GET", "/v21.0/"+a["phone_number_id"], adm, ""); code != 403 {
		t.Fatalf("business admin on the Graph API: %d", code)
	}
}

// queueTemplateEvents creates two businesses, each with a webhook
// subscription and one queued template status event naming the template
// "secret_words".
func queueTemplateEvents(t *testing.T, h *harness) (a, b map[string]string, hookURL string) {
	t.Helper()
	a = h.createTenant("+15550051000")
	b = h.createTenant("+15550052000")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	t.Cleanup(hook.Close)
	for _, tn := range []map[string]string{a, b} {
		if code, out := h.do("POST", "/v21.0/"+tn["waba_id"]+"/subscribed_apps", tn["access_token"],
			`{"override_callback_uri":"`+hook.URL+`/h","verify_token":"v"}`); code != 200 {
			t.Fatalf("subscribe: %d %s", code, out)
		}
		// A review queues a template status webhook for the WABA.
		id := h.createTemplate(tn["access_token"], tn["waba_id"], "secret_words", "en", "Hello there")
		if code, out := h.do("POST", "/admin/v1/templates/"+id+"/status", "admin-tok", `{"status":"PAUSED"}`); code != 200 {
			t.Fatalf("review: %d %s", code, out)
		}
	}
	return a, b, hook.URL
}

func TestOutboxScopedToBusiness(t *testing.T) {
	h := newHarness(t)
	a, b, hookURL := queueTemplateEvents(t, h)
	type row map[string]any
	outbox := func(token string) []row {
		t.Helper()
		code, out := h.do("GET", "/admin/v1/webhooks/outbox", token, "")
		var r struct{ Data []row }
		if code != 200 || json.Unmarshal(out, &r) != nil {
			t.Fatalf("outbox: %d %s", code, out)
		}
		if bytes.Contains(out, []byte("secret_words")) || bytes.Contains(out, []byte(`"body"`)) {
			t.Fatalf("outbox shows content: %s", out)
		}
		return r.Data
	}
	all := outbox("admin-tok")
	perWABA := map[any]int{}
	for _, r := range all {
		perWABA[r["waba_id"]]++
	}
	if len(perWABA) != 2 {
		t.Fatalf("admin sees %+v, want events of both WABAs", all)
	}
	for _, tn := range []map[string]string{a, b} {
		own := outbox(h.mintBusinessAdmin(tn["business_id"]))
		for _, r := range own {
			if r["waba_id"] != tn["waba_id"] {
				t.Fatalf("business admin sees another business's event %+v", r)
			}
		}
		if len(own) != perWABA[tn["waba_id"]] {
			t.Fatalf("business admin sees %d of their %d events", len(own), perWABA[tn["waba_id"]])
		}
	}
	code, out := h.do("GET", "/admin/v1/businesses/"+a["business_id"]+"/webhooks", "admin-tok", "")
	if code != 200 || !bytes.Contains(out, []byte(hookURL+"/h")) || !bytes.Contains(out, []byte(a["waba_id"])) || bytes.Contains(out, []byte(b["waba_id"])) {
		t.Fatalf("webhooks: %d %s", code, out)
	}
}

func TestAuditLog(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550061000")
	adm := h.mintBusinessAdmin(a["business_id"])
	h.do("POST", "/admin/v1/phones/"+a["phone_number_id"]+"/retention", "admin-tok", `{"retention_hours":48}`)
	h.do("POST", "/admin/v1/cluster/join-tokens", "operator-tok", "")         // denied
	h.do("POST", "/admin/v1/businesses/"+a["business_id"]+"/tokens", adm, "") // business admin
	h.do("GET", "/admin/v1/tenants", "admin-tok", "")                         // reads are not audited
	h.do("POST", "/admin/v1/cluster/join-tokens", "", "")                     // unauthenticated: no actor, no record

	type rec struct {
		ID              string `json:"id"`
		ActorID         string `json:"actor_id"`
		ActorKind       string `json:"actor_kind"`
		ActorBusinessID string `json:"actor_business_id"`
		Action          string `json:"action"`
		Outcome         string `json:"outcome"`
		At              int64  `json:"at"`
		Status          int    `json:"status"`
		Targets         []struct{ Kind, ID string }
	}
	page := func(token, query string) ([]rec, string) {
		t.Helper()
		code, out := h.do("GET", "/admin/v1/audit"+query, token, "")
		var r struct {
			Data   []rec
			Paging struct{ Cursors struct{ After string } }
		}
		if code != 200 || json.Unmarshal(out, &r) != nil {
			t.Fatalf("audit%s: %d %s", query, code, out)
		}
		for _, secret := range []string{"+15550061000", a["access_token"], a["app_secret"], adm, "wjt1.test"} {
			if bytes.Contains(out, []byte(secret)) {
				t.Fatalf("the audit log shows %q: %s", secret, out)
			}
		}
		return r.Data, r.Paging.Cursors.After
	}
	first, cursor := page("operator-tok", "?limit=3")
	rest, _ := page("operator-tok", "?limit=3&after="+cursor)
	all := append(first, rest...)
	var got []string
	for _, r := range all {
		got = append(got, r.Action+"/"+r.ActorKind+"/"+r.Outcome)
	}
	want := []string{"tenant.create/admin/ok", "business_admin_token.create/admin/ok", "phone.retention/admin/ok",
		"cluster.join_token/operator/denied", "token.create/business_admin/ok"}
	if strings.Join(got, " ") != strings.Join(want, " ") || len(first) != 3 || cursor == "" {
		t.Fatalf("audit log %v (first page %d, cursor %q), want %v", got, len(first), cursor, want)
	}
	if tc := all[0]; tc.ActorID != "id-admin-tok" || tc.At == 0 || tc.Status != 200 || len(tc.Targets) != 2 ||
		tc.Targets[0].Kind != "business" || tc.Targets[0].ID != a["business_id"] || tc.Targets[1].ID != a["phone_number_id"] {
		t.Fatalf("tenant.create record %+v", tc)
	}
	if r := all[4]; r.ActorBusinessID != a["business_id"] || len(r.Targets) != 2 || r.Targets[1].Kind != "token" {
		t.Fatalf("token.create record %+v", r)
	}
	if all[3].Status != 403 {
		t.Fatalf("denied record %+v", all[3])
	}
	all2, _ := page("admin-tok", "")
	if len(all2) != len(all) {
		t.Fatalf("admin sees %d records", len(all2))
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?after=zz", "?after=00"} {
		if code, out := h.do("GET", "/admin/v1/audit"+q, "admin-tok", ""); code != 400 || decodeEnvelope(t, out).Error.Code != 131009 {
			t.Fatalf("audit%s: %d %s", q, code, out)
		}
	}
	if code, _ := h.do("GET", "/admin/v1/audit", adm, ""); code != 403 {
		t.Fatalf("business admin reads the audit log: %d", code)
	}
}

// TestWebhookEventMonitor: the event monitor stream shows a business admin
// their own queued events with bodies, the cluster admin every event
// without bodies, and the operator counts only.
func TestWebhookEventMonitor(t *testing.T) {
	h := newHarness(t)
	a, b, _ := queueTemplateEvents(t, h)
	stream := func(token string) string {
		t.Helper()
		code, out := h.do("GET", "/admin/v1/webhooks/events?limit=1", token, "")
		if code != 200 {
			t.Fatalf("events: %d %s", code, out)
		}
		return string(out)
	}
	own := stream(h.mintBusinessAdmin(a["business_id"]))
	if !strings.Contains(own, "event: webhook") || !strings.Contains(own, a["waba_id"]) || !strings.Contains(own, "message_template_status_update") {
		t.Fatalf("business admin's stream lacks their event with its body:\n%s", own)
	}
	if strings.Contains(own, b["waba_id"]) {
		t.Fatalf("business admin's stream shows another business:\n%s", own)
	}
	all := stream("admin-tok")
	if !strings.Contains(all, a["waba_id"]) || !strings.Contains(all, b["waba_id"]) || strings.Contains(all, `"body"`) {
		t.Fatalf("admin's stream: want both WABAs and no bodies:\n%s", all)
	}
	ops := stream("operator-tok")
	if strings.Contains(ops, "event: webhook") || strings.Contains(ops, a["waba_id"]) || !strings.Contains(ops, "event: counts") || strings.Contains(ops, `"pending":0`) {
		t.Fatalf("operator's stream: want counts only:\n%s", ops)
	}
}
