package web_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/web"
)

// fullState is the whole bbolt content (every bucket, one line per
// record) split in two: the audit log, and everything else but the
// applied index (which moves with every command proposed, refused ones
// included).
func fullState(t *testing.T, h *harness) (state string, audit []string) {
	t.Helper()
	var sb strings.Builder
	if err := h.c.FSM().Dump(&sb); err != nil {
		t.Fatal(err)
	}
	applied := "meta " + hex.EncodeToString([]byte("applied")) + "="
	var out []string
	for _, l := range strings.Split(sb.String(), "\n") {
		switch {
		case strings.HasPrefix(l, applied):
		case strings.HasPrefix(l, "audit "):
			audit = append(audit, l)
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n"), audit
}

// TestRejectionsChangeNothing sends, for the Graph and admin routes, a
// request rejected for each main reason — validation, closed window,
// unknown template, parameter mismatch, unregistered number, rate limits,
// another tenant's object, wrong role, no credentials — and compares the
// whole state machine before and after: every bucket must be
// byte-identical (an admin call adds exactly its one audit record, with
// outcome failed or denied). Invariant 9.
func TestRejectionsChangeNothing(t *testing.T) {
	h := newHarness(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	a := h.createTenant("+15550091000")
	b := h.createTenant("+15550092000")
	c := h.createTenant("+15550093000") // deregistered below
	pn, waba, tok := a["phone_number_id"], a["waba_id"], a["access_token"]
	msgs := "/v21.0/" + pn + "/messages"
	tplID := h.createTemplate(tok, waba, "greeting", "en_US", "Hello {{1}}")
	h.createTemplate(tok, waba, "plain", "en_US", "Hello")
	h.openWindow(pn, "15551230001", now().Add(-time.Hour))    // open
	h.openWindow(pn, "15551230002", now().Add(-25*time.Hour)) // closed
	h.openWindow(pn, "15551230003", now().Add(-time.Hour))    // the pair-rate victim
	in := h.openWindow(pn, "15551230004", now().Add(-time.Hour))
	if code, out := h.do("POST", "/v21.0/"+c["phone_number_id"]+"/deregister", c["access_token"], `{"messaging_product":"whatsapp"}`); code != 200 {
		t.Fatalf("deregister: %d %s", code, out)
	}
	// A message that succeeds, so statistics, the reach set and the
	// pending queue hold something a rejection could wrongly touch.
	if code, out := h.do("POST", msgs, tok, `{"messaging_product":"whatsapp","to":"15551230001","text":{"body":"ok"}}`); code != 200 {
		t.Fatalf("send: %d %s", code, out)
	}
	// The pair rate of 15551230003 spent: its next message gets 131056.
	for i := 0; i < 45; i++ { // Meta's pair burst
		if code, out := h.do("POST", msgs, tok, `{"messaging_product":"whatsapp","to":"15551230003","text":{"body":"burst"}}`); code != 200 {
			t.Fatalf("burst %d: %d %s", i, code, out)
		}
	}
	text := func(to string) string {
		return `{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"body":"hi"}}`
	}
	tpl := func(to, name, params string) string {
		return `{"messaging_product":"whatsapp","to":"` + to + `","type":"template","template":{"name":"` + name +
			`","language":{"code":"en_US"}` + params + `}}`
	}

	type rejection struct {
		name         string
		method, path string
		token, body  string
		status, code int
		// before runs first (its own effects are not compared).
		before func()
	}
	graph := []rejection{
		// POST /messages
		{name: "send: missing text", method: "POST", path: msgs, token: tok,
			body: `{"messaging_product":"whatsapp","to":"15551230001","type":"text"}`, status: 400, code: 131008},
		{name: "send: unknown field", method: "POST", path: msgs, token: tok,
			body: `{"messaging_product":"whatsapp","to":"15551230001","type":"text","text":{"body":"x"},"colour":1}`, status: 400, code: 100},
		{name: "send: not json", method: "POST", path: msgs, token: tok, body: `{"messaging_product":`, status: 400, code: 100},
		{name: "send: recipient is sender", method: "POST", path: msgs, token: tok, body: text("+15550091000"), status: 400, code: 131021},
		{name: "send: unknown template", method: "POST", path: msgs, token: tok, body: tpl("15551230001", "nope", ""), status: 404, code: 132001},
		{name: "send: template parameters missing", method: "POST", path: msgs, token: tok, body: tpl("15551230001", "greeting", ""), status: 400, code: 132000},
		{name: "send: unknown media id", method: "POST", path: msgs, token: tok,
			body: `{"messaging_product":"whatsapp","to":"15551230001","type":"image","image":{"id":"123456789"}}`, status: 400, code: 131053},
		{name: "send: pair rate", method: "POST", path: msgs, token: tok, body: text("15551230003"), status: 400, code: 131056},
		{name: "send: number not registered", method: "POST", path: "/v21.0/" + c["phone_number_id"] + "/messages", token: c["access_token"],
			body: text("15551230001"), status: 400, code: 133010},
		{name: "send: another tenant's number", method: "POST", path: msgs, token: b["access_token"], body: text("15551230001"), status: 400, code: 100},
		{name: "send: admin token", method: "POST", path: msgs, token: "admin-tok", body: text("15551230001"), status: 403, code: 10},
		{name: "send: no token", method: "POST", path: msgs, body: text("15551230001"), status: 401, code: 190},
		{name: "send: unknown token", method: "POST", path: msgs, token: "forged", body: text("15551230001"), status: 401, code: 190},
		{name: "mark read: not received here", method: "POST", path: msgs, token: tok,
			body: `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.nope"}`, status: 400, code: 131009},
		{name: "mark read: another tenant's message", method: "POST", path: "/v21.0/" + b["phone_number_id"] + "/messages", token: b["access_token"],
			body: `{"messaging_product":"whatsapp","status":"read","message_id":"` + in + `"}`, status: 400, code: 131009},
		// Templates
		{name: "template: duplicate", method: "POST", path: "/v21.0/" + waba + "/message_templates", token: tok,
			body: `{"name":"plain","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, status: 400, code: 100},
		{name: "template: bad name", method: "POST", path: "/v21.0/" + waba + "/message_templates", token: tok,
			body: `{"name":"Bad Name","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, status: 400, code: 131009},
		{name: "template: no components", method: "POST", path: "/v21.0/" + waba + "/message_templates", token: tok,
			body: `{"name":"x","language":"en","category":"UTILITY"}`, status: 400, code: 131008},
		{name: "template: another tenant's WABA", method: "POST", path: "/v21.0/" + waba + "/message_templates", token: b["access_token"],
			body: `{"name":"mine","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, status: 400, code: 100},
		{name: "template delete: unknown name", method: "DELETE", path: "/v21.0/" + waba + "/message_templates?name=nope", token: tok, status: 400, code: 131009},
		{name: "template delete: another tenant's", method: "DELETE", path: "/v21.0/" + waba + "/message_templates?name=plain", token: b["access_token"], status: 400, code: 100},
		{name: "template get: another tenant's", method: "GET", path: "/v21.0/" + tplID, token: b["access_token"], status: 400, code: 100},
		// Phone numbers
		{name: "register: bad pin", method: "POST", path: "/v21.0/" + pn + "/register", token: tok,
			body: `{"messaging_product":"whatsapp","pin":"12"}`, status: 400, code: 131009},
		{name: "two-step pin: bad pin", method: "POST", path: "/v21.0/" + pn, token: tok, body: `{"pin":"abc"}`, status: 400, code: 131009},
		{name: "profile: bad vertical", method: "POST", path: "/v21.0/" + pn + "/whatsapp_business_profile", token: tok,
			body: `{"messaging_product":"whatsapp","vertical":"SPACESHIPS"}`, status: 400, code: 131009},
		{name: "profile: another tenant's", method: "POST", path: "/v21.0/" + pn + "/whatsapp_business_profile", token: b["access_token"],
			body: `{"messaging_product":"whatsapp","about":"x"}`, status: 400, code: 100},
		{name: "deregister: another tenant's", method: "POST", path: "/v21.0/" + pn + "/deregister", token: b["access_token"],
			body: `{"messaging_product":"whatsapp"}`, status: 400, code: 100},
		// Webhooks and media
		{name: "subscribe: callback does not verify", method: "POST", path: "/v21.0/" + waba + "/subscribed_apps", token: tok,
			body: `{"override_callback_uri":"http://127.0.0.1:1/hook","verify_token":"v"}`, status: 400, code: 2200},
		{name: "subscribe: not a URL", method: "POST", path: "/v21.0/" + waba + "/subscribed_apps", token: tok,
			body: `{"override_callback_uri":"nope","verify_token":"v"}`, status: 400, code: 131009},
		{name: "unsubscribe: another tenant's", method: "DELETE", path: "/v21.0/" + waba + "/subscribed_apps", token: b["access_token"], status: 400, code: 100},
		{name: "media: not multipart", method: "POST", path: "/v21.0/" + pn + "/media", token: tok, body: `{"file":"x"}`, status: 400, code: 100},
		{name: "media delete: unknown", method: "DELETE", path: "/v21.0/123456789", token: tok, status: 400, code: 100},
		// The number's throughput: 1 message/s; the second in the same
		// instant is refused.
		{name: "send: throughput", method: "POST", path: msgs, token: tok, body: text("15551230001"), status: 400, code: 130429,
			before: func() {
				if code, out := h.do("POST", "/admin/v1/phones/"+pn+"/limits", "admin-tok", `{"throughput_mps":1}`); code != 200 {
					t.Fatalf("limits: %d %s", code, out)
				}
				clock.Add(int64(time.Minute))
				if code, out := h.do("POST", msgs, tok, text("15551230001")); code != 200 {
					t.Fatalf("send: %d %s", code, out)
				}
			}},
	}
	biz := "/admin/v1/businesses/" + a["business_id"]
	admin := []rejection{
		{name: "tenant: number taken", method: "POST", path: "/admin/v1/tenants", token: "admin-tok", body: `{"name":"Dup","phone":"+15550091000"}`, status: 400, code: 100},
		{name: "tenant: bad number", method: "POST", path: "/admin/v1/tenants", token: "admin-tok", body: `{"name":"Bad","phone":"5551110000"}`, status: 400, code: 100},
		{name: "tenant: operator", method: "POST", path: "/admin/v1/tenants", token: "operator-tok", body: `{"name":"Op","phone":"+15550094000"}`, status: 403, code: 10},
		{name: "tenant: API token", method: "POST", path: "/admin/v1/tenants", token: tok, body: `{"name":"Api","phone":"+15550095000"}`, status: 403, code: 10},
		{name: "limits: unknown phone", method: "POST", path: "/admin/v1/phones/999/limits", token: "admin-tok", body: `{"throughput_mps":3}`, status: 400, code: 100},
		{name: "limits: negative", method: "POST", path: "/admin/v1/phones/" + pn + "/limits", token: "admin-tok", body: `{"throughput_mps":-3}`, status: 400, code: 131009},
		{name: "retention: too long", method: "POST", path: "/admin/v1/phones/" + pn + "/retention", token: "admin-tok", body: `{"retention_hours":100000}`, status: 400, code: 131009},
		{name: "tier: unknown", method: "POST", path: "/admin/v1/phones/" + pn + "/tier", token: "admin-tok", body: `{"tier":"TIER_INFINITE"}`, status: 400, code: 131009},
		{name: "template status: unknown status", method: "POST", path: "/admin/v1/templates/" + tplID + "/status", token: "admin-tok", body: `{"status":"GLORIOUS"}`, status: 400, code: 131009},
		{name: "template review: unknown policy", method: "POST", path: "/admin/v1/wabas/" + waba + "/template-review", token: "admin-tok", body: `{"policy":"maybe"}`, status: 400, code: 131009},
		{name: "rates: negative", method: "PUT", path: "/admin/v1/billing/rates", token: "admin-tok", body: `{"currency":"EUR","marketing":-1}`, status: 400, code: 131009},
		{name: "erase: bad number", method: "POST", path: biz + "/consumers/erase", token: "admin-tok", body: `{"wa_id":"not a number"}`, status: 400, code: 131009},
		{name: "erase: another business's admin", method: "POST", path: biz + "/consumers/erase", token: h.mintBusinessAdmin(b["business_id"]),
			body: `{"wa_id":"15551230001"}`, status: 400, code: 100},
		{name: "revoke: unknown token", method: "DELETE", path: biz + "/tokens/nope", token: "admin-tok", status: 400, code: 100},
		{name: "join token: bad ttl", method: "POST", path: "/admin/v1/cluster/join-tokens", token: "admin-tok", body: `{"ttl_seconds":-1}`, status: 400, code: 100},
		{name: "remove node: operator", method: "DELETE", path: "/admin/v1/cluster/nodes/n2", token: "operator-tok", status: 403, code: 10},
	}
	check := func(r rejection, isAdmin bool) {
		if r.before != nil {
			r.before()
		}
		state, audit := fullState(t, h)
		code, out := h.do(r.method, r.path, r.token, r.body)
		if code != r.status || decodeEnvelope(t, out).Error.Code != r.code {
			t.Errorf("%s: %d %s, want %d with code %d", r.name, code, out, r.status, r.code)
		}
		after, auditAfter := fullState(t, h)
		if after != state {
			t.Errorf("%s: the rejected request changed the state:\n%s", r.name, lineDiff(state, after))
		}
		want := 0
		if isAdmin && r.token != "" && r.token != tok {
			want = 1 // an admin-kind token's call is audited, refused or not
		}
		if n := len(auditAfter) - len(audit); n != want {
			t.Errorf("%s: %d audit records added, want %d", r.name, n, want)
		}
	}
	for _, r := range graph {
		check(r, false)
	}
	audited, err := h.c.FSM().AuditLog(nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range admin {
		check(r, true)
	}
	// The audit records of the refused admin calls say so.
	entries, err := h.c.FSM().AuditLog(nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range entries[len(audited):] {
		outcomes[e.Record.Outcome]++
	}
	if outcomes["ok"] != 0 {
		t.Errorf("refused admin calls audited as ok: %v", outcomes)
	}
}

// lineDiff lists the lines only one of two dumps has.
func lineDiff(before, after string) string {
	b, a := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		b[l] = true
	}
	for _, l := range strings.Split(after, "\n") {
		a[l] = true
	}
	var sb strings.Builder
	for l := range b {
		if !a[l] {
			fmt.Fprintf(&sb, "- %s\n", l)
		}
	}
	for l := range a {
		if !b[l] {
			fmt.Fprintf(&sb, "+ %s\n", l)
		}
	}
	return sb.String()
}

// TestMediaRejectionsChangeNothing: uploads refused before or after some
// of their chunks were replicated (an unsupported type, content that is
// not what it claims, a file over its type's limit found mid-stream)
// leave the whole state as it was: no chunk, no record, no tombstone.
func TestMediaRejectionsChangeNothing(t *testing.T) {
	h := newMediaHarness(t)
	a, q := h.a, "?messaging_product=whatsapp"
	h.mustUpload(a, q, field("type", "image/png"), file("image/png", pngMagic, 1000)) // something to keep
	for _, tc := range []struct {
		name  string
		parts []part
	}{
		{"unsupported type", []part{field("type", "image/gif"), file("image/gif", []byte("GIF89a"), 100)}},
		{"not the image it claims", []part{field("type", "image/png"), file("image/png", jpegMagic, 100)}},
		{"empty file", []part{field("type", "text/plain"), file("text/plain", nil, 0)}},
		{"image over 5 MB, type first", []part{field("type", "image/jpeg"), file("image/jpeg", jpegMagic, 5_000_001)}},
		{"image over 5 MB, type last", []part{file("image/png", pngMagic, 5_000_001), field("type", "image/png")}},
		{"sticker over its limit", []part{file("image/webp", webpMagic, 200_000)}},
	} {
		state, audit := fullState(t, h.harness)
		code, out := h.upload(a, q, tc.parts...)
		if code != 400 || decodeEnvelope(t, out).Error.Code != 131053 {
			t.Errorf("%s: %d %s, want 400 with code 131053", tc.name, code, out)
		}
		after, auditAfter := fullState(t, h.harness)
		if after != state || len(auditAfter) != len(audit) {
			t.Errorf("%s: the refused upload changed the state:\n%s", tc.name, lineDiff(state, after))
		}
	}
}
