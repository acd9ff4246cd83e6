package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/web"
)

// Principals of the permission matrix.
const (
	pAdmin    = "cluster admin"
	pOperator = "operator"
	pBAdminA  = "business admin A"
	pBAdminB  = "business admin B"
	pAPIA     = "API token A"
	pAPIB     = "API token B"
	pNone     = "no credentials"
)

var principals = []string{pAdmin, pOperator, pBAdminA, pBAdminB, pAPIA, pAPIB, pNone}

// permWorld is a served app with two businesses, A and B, and a token of
// every kind. Every route's request targets A's objects.
type permWorld struct {
	*harness
	base    string
	a, b    map[string]string
	tokens  map[string]string // principal → bearer
	hook    string            // a webhook endpoint that passes verification
	seq     int
	qr      string // a QR code of A's number kept for the whole test (sharedQR)
	picture string // the path of A's profile picture URL (profilePicture)
}

func newPermWorld(t *testing.T) *permWorld {
	w := &permWorld{harness: newHarness(t)}
	relay := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer relay-tok" || !strings.HasPrefix(r.URL.Path, "/sandbox/phones") {
			http.Error(rw, "refused", http.StatusUnauthorized)
			return
		}
		_, _ = rw.Write([]byte(`{"phones":[]}`))
	}))
	t.Cleanup(relay.Close)
	relayToken := filepath.Join(t.TempDir(), "relay.token")
	if err := os.WriteFile(relayToken, []byte("relay-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.app = web.New(web.Deps{Cluster: w.c, Sealer: w.sealer, Egress: loopback, DebugClock: func(time.Duration) time.Time { return time.Unix(1e9, 0) },
		Sandbox: &web.SandboxRelay{BaseURL: relay.URL, TokenFile: relayToken}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.app.Listener(ln) }()
	t.Cleanup(func() { _ = w.app.ShutdownWithTimeout(5 * time.Second); <-done })
	w.base = "http://" + ln.Addr().String()
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = rw.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	t.Cleanup(hook.Close)
	w.hook = hook.URL + "/hook"
	w.a = w.createTenant("+15550031000")
	w.b = w.createTenant("+15550032000")
	w.tokens = map[string]string{pAdmin: "admin-tok", pOperator: "operator-tok", pAPIA: w.a["access_token"], pAPIB: w.b["access_token"]}
	for p, biz := range map[string]string{pBAdminA: w.a["business_id"], pBAdminB: w.b["business_id"]} {
		code, out := w.send("POST", "/admin/v1/businesses/"+biz+"/admin-tokens", "admin-tok", nil)
		var issued struct{ Token, Kind, BusinessID string }
		if code != 200 || json.Unmarshal(out, &issued) != nil || issued.Kind != raftfsm.TokenBusinessAdmin || issued.Token == "" {
			t.Fatalf("business admin token: %d %s", code, out)
		}
		w.tokens[p] = issued.Token
	}
	return w
}

// request is one concrete call.
type request struct {
	path   string
	body   io.Reader
	size   int64
	ctype  string
	header map[string]string
}

func jsonReq(path, body string) request {
	if body == "" {
		return request{path: path}
	}
	return request{path: path, body: strings.NewReader(body), size: int64(len(body)), ctype: "application/json"}
}

func (w *permWorld) send(method, path, token string, r *request) (int, []byte) {
	w.t.Helper()
	if r == nil {
		r = &request{}
	}
	req, err := http.NewRequest(method, w.base+path, r.body)
	if err != nil {
		w.t.Fatal(err)
	}
	req.ContentLength = r.size
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (w *permWorld) next() int { w.seq++; return w.seq }

// media uploads a fresh media of business A and returns its id.
func (w *permWorld) media() string {
	w.t.Helper()
	body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("text/plain", []byte("x"), 100)})
	code, out := w.send("POST", "/v21.0/"+w.a["phone_number_id"]+"/media", w.a["access_token"], &request{body: body, size: n, ctype: ct})
	var m struct{ ID string }
	if code != 200 || json.Unmarshal(out, &m) != nil || m.ID == "" {
		w.t.Fatalf("upload: %d %s", code, out)
	}
	return m.ID
}

// uploadSession starts a resumable upload of n bytes of a PNG as A and
// returns a request to its session.
func (w *permWorld) uploadSession(n int) request {
	w.t.Helper()
	r := jsonReq(fmt.Sprintf("/v21.0/%s/uploads?file_length=%d&file_type=image/png", w.a["app_id"], n), "")
	code, out := w.send("POST", r.path, w.a["access_token"], &r)
	var s struct{ ID string }
	if code != 200 || json.Unmarshal(out, &s) != nil {
		w.t.Fatalf("upload session: %d %s", code, out)
	}
	return request{path: "/v21.0/" + s.ID}
}

// profilePicture sets A's profile picture once (a 1×1 PNG through the
// resumable upload) and returns the path of its URL.
func (w *permWorld) profilePicture() string {
	w.t.Helper()
	if w.picture == "" {
		img := testPNG(w.t, 2, 2)
		r := w.uploadSession(len(img))
		r.body, r.size, r.header = bytes.NewReader(img), int64(len(img)), map[string]string{"file_offset": "0"}
		code, out := w.send("POST", r.path, w.a["access_token"], &r)
		var done struct{ H string }
		if code != 200 || json.Unmarshal(out, &done) != nil {
			w.t.Fatalf("upload: %d %s", code, out)
		}
		p := jsonReq("/v21.0/"+w.a["phone_number_id"]+"/whatsapp_business_profile", `{"messaging_product":"whatsapp","profile_picture_handle":"`+done.H+`"}`)
		if code, out := w.send("POST", p.path, w.a["access_token"], &p); code != 200 {
			w.t.Fatalf("set picture: %d %s", code, out)
		}
		code, out = w.send("GET", p.path, w.a["access_token"], nil)
		var prof struct {
			Data []struct {
				URL string `json:"profile_picture_url"`
			} `json:"data"`
		}
		if code != 200 || json.Unmarshal(out, &prof) != nil || len(prof.Data) != 1 || prof.Data[0].URL == "" {
			w.t.Fatalf("profile: %d %s", code, out)
		}
		u, err := url.Parse(prof.Data[0].URL)
		if err != nil {
			w.t.Fatal(err)
		}
		w.picture = u.RequestURI()
	}
	return w.picture
}

// pendingCode puts business A's number into a fresh verification state:
// with code "" none was requested (request_code is not rate limited), else
// code is pending for an hour.
func (w *permWorld) pendingCode(code string) {
	w.t.Helper()
	s := raftfsm.PutPhoneSetting{PhoneNumberID: w.a["phone_number_id"], BusinessID: w.a["business_id"], Name: "code_verification"}
	if code == "" {
		s.Value = []byte(`{}`)
	} else {
		exp := time.Now().Add(time.Hour).UnixMilli()
		s.Value = []byte(fmt.Sprintf(`{"pending":true,"code":%q,"expires_at":%d}`, code, exp))
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutPhoneSetting, s)
	if err != nil {
		w.t.Fatal(err)
	}
	if r, err := w.c.Propose(context.Background(), cmd); err != nil || r.Err != nil {
		w.t.Fatalf("verification state: %v %v", err, r.Err)
	}
}

// resetOBA forgets business A's Official Business Account request, so
// that the next one is accepted.
func (w *permWorld) resetOBA() {
	w.t.Helper()
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutPhoneSetting, raftfsm.PutPhoneSetting{PhoneNumberID: w.a["phone_number_id"],
		BusinessID: w.a["business_id"], Name: "oba", Value: []byte(`{}`)})
	if err != nil {
		w.t.Fatal(err)
	}
	if r, err := w.c.Propose(context.Background(), cmd); err != nil || r.Err != nil {
		w.t.Fatalf("OBA state: %v %v", err, r.Err)
	}
}

// deliveredEvent queues a webhook event of business A, records it
// delivered (its body kept in the delivery log) and returns its log id.
func (w *permWorld) deliveredEvent() string {
	w.t.Helper()
	key := make([]byte, 16)
	binary.BigEndian.PutUint64(key, uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(key[8:], uint64(w.next()))
	now := time.Now().UnixMilli()
	if _, err := w.c.FSM().Subscription(w.a["waba_id"]); err != nil {
		w.c.proposeAll(w.t, [][]byte{mustCmd(w.t, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: w.a["waba_id"],
			BusinessID: w.a["business_id"], AppID: w.a["app_id"], At: now})})
	}
	w.c.proposeAll(w.t, [][]byte{
		mustCmd(w.t, raftfsm.CmdSetPIN, raftfsm.SetPIN{PhoneNumberID: w.a["phone_number_id"], BusinessID: w.a["business_id"],
			PINHash: []byte("pin hash"), Event: &raftfsm.OutboxEvent{Key: key, Body: []byte("sealed"), CreatedAt: now}}),
		mustCmd(w.t, raftfsm.CmdWebhookAttemptsV2, raftfsm.WebhookAttempts{Attempts: []raftfsm.WebhookAttempt{
			{Key: key, Delivered: true, Status: "200", At: now}}}),
	})
	return hex.EncodeToString(key)
}

// consoleUser creates a console user (through the replicated commands the
// console's sign-up proposes) and returns its id.
func (w *permWorld) consoleUser() string {
	w.t.Helper()
	n := w.next()
	link := sha256.Sum256([]byte(fmt.Sprint("link-", n)))
	id := fmt.Sprint("cu-perm-", n)
	w.c.proposeAll(w.t, [][]byte{
		mustCmd(w.t, raftfsm.CmdConsoleInvite, raftfsm.ConsoleInvite{Hash: link,
			Link: raftfsm.ConsoleLink{Role: raftfsm.TokenOperator, ExpiresAt: time.Now().Add(time.Hour).UnixMilli()}}),
		mustCmd(w.t, raftfsm.CmdConsoleRedeem, raftfsm.ConsoleRedeem{LinkHash: link, At: time.Now().UnixMilli(),
			User: raftfsm.ConsoleUser{ID: id, Name: id, PasswordHash: "x"}}),
	})
	return id
}

// qrCode creates a fresh QR code of business A's number and returns its code.
func (w *permWorld) qrCode() string {
	w.t.Helper()
	r := jsonReq("/v21.0/"+w.a["phone_number_id"]+"/message_qrdls", `{"prefilled_message":"Hi"}`)
	code, out := w.send("POST", r.path, w.a["access_token"], &r)
	var q struct{ Code string }
	if code != 200 || json.Unmarshal(out, &q) != nil || q.Code == "" {
		w.t.Fatalf("qr code: %d %s", code, out)
	}
	return q.Code
}

// sharedQR is one QR code of business A's number, created on first use.
func (w *permWorld) sharedQR() string {
	if w.qr == "" {
		w.qr = w.qrCode()
	}
	return w.qr
}

// permRoute is the expectation for one registered route.
type permRoute struct {
	allow []string // principals allowed; every other one is denied
	// scoped: an admin route naming A's business; a business admin of
	// another business gets the answer for a missing business.
	scoped bool
	prep   func(w *permWorld) request
}

func fixed(path, body string) func(*permWorld) request {
	return func(*permWorld) request { return jsonReq(path, body) }
}

var (
	staffRoles    = []string{pAdmin, pOperator}
	adminOnly     = []string{pAdmin}
	everyone      = principals
	apiA          = []string{pAPIA}
	businessAdmin = []string{pAdmin, pBAdminA}
	// businessAdminsAndAdmin: not scoped to a business (the sandbox).
	businessAdminsAndAdmin = []string{pAdmin, pBAdminA, pBAdminB}
)

// permRoutes is the expected access of every route, keyed "METHOD pattern"
// as app.GetRoutes reports it.
func permRoutes() map[string]permRoute {
	node := "/:node<regex(^[0-9]{1,32}$)>"
	pn := func(w *permWorld) string { return "/v21.0/" + w.a["phone_number_id"] }
	waba := func(w *permWorld) string { return "/v21.0/" + w.a["waba_id"] }
	biz := func(w *permWorld) string { return "/admin/v1/businesses/" + w.a["business_id"] }
	return map[string]permRoute{
		"GET /healthz": {allow: everyone, prep: fixed("/healthz", "")},
		"GET /readyz":  {allow: everyone, prep: fixed("/readyz", "")},

		"GET /admin/v1/cluster":                      {allow: staffRoles, prep: fixed("/admin/v1/cluster", "")},
		"POST /admin/v1/cluster/join-tokens":         {allow: adminOnly, prep: fixed("/admin/v1/cluster/join-tokens", `{"ttl_seconds":3600}`)},
		"DELETE /admin/v1/cluster/nodes/:id":         {allow: adminOnly, prep: fixed("/admin/v1/cluster/nodes/n2", "")},
		"POST /admin/v1/cluster/transfer-leadership": {allow: adminOnly, prep: fixed("/admin/v1/cluster/transfer-leadership", "")},
		"GET /admin/v1/tenants":                      {allow: staffRoles, prep: fixed("/admin/v1/tenants", "")},
		"GET /admin/v1/webhooks/outbox":              {allow: []string{pAdmin, pBAdminA, pBAdminB}, prep: fixed("/admin/v1/webhooks/outbox", "")},
		"GET /admin/v1/debug/fsm-digest":             {allow: adminOnly, prep: fixed("/admin/v1/debug/fsm-digest", "")},
		"GET /admin/v1/audit":                        {allow: staffRoles, prep: fixed("/admin/v1/audit?limit=5", "")},
		"POST /admin/v1/debug/clock":                 {allow: adminOnly, prep: fixed("/admin/v1/debug/clock", `{"advance_seconds":0}`)},
		"GET /admin/v1/businesses/:id":               {allow: []string{pAdmin, pOperator, pBAdminA}, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w), "") }},
		"GET /admin/v1/businesses/:id/tokens":        {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/tokens", "") }},
		"POST /admin/v1/businesses/:id/tokens":       {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/tokens", "") }},
		"POST /admin/v1/businesses/:id/admin-tokens": {allow: adminOnly, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/admin-tokens", "") }},
		"GET /admin/v1/businesses/:id/webhooks":      {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/webhooks", "") }},
		"POST /admin/v1/businesses/:id/webhooks/test": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			if code, out := w.send("POST", waba(w)+"/subscribed_apps", w.a["access_token"],
				&[]request{jsonReq("", `{"override_callback_uri":"`+w.hook+`","verify_token":"v"}`)}[0]); code != 200 {
				w.t.Fatalf("subscribe: %d %s", code, out)
			}
			return jsonReq(biz(w)+"/webhooks/test", `{}`)
		}},
		"POST /admin/v1/businesses/:id/webhooks/retry": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/webhooks/retry", `{}`) }},
		"POST /admin/v1/businesses/:id/webhooks/redeliver": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			return jsonReq(biz(w)+"/webhooks/redeliver", `{"event_ids":["`+w.deliveredEvent()+`"]}`)
		}},
		"GET /admin/v1/businesses/:id/templates": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request { return jsonReq(biz(w)+"/templates", "") }},
		"DELETE /admin/v1/businesses/:id/tokens/:token": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			tok := fmt.Sprintf("revocable-%d", w.next())
			w.c.token(w.t, tok, raftfsm.TokenAPI, w.a["business_id"])
			return jsonReq(biz(w)+"/tokens/id-"+tok, "")
		}},
		"POST /admin/v1/tenants": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/tenants", fmt.Sprintf(`{"name":"T","phone":"+1555004%04d"}`, w.next()))
		}},
		"POST /admin/v1/templates/:id/status": {allow: adminOnly, prep: func(w *permWorld) request {
			id := w.createTemplate(w.a["access_token"], w.a["waba_id"], fmt.Sprintf("review_%d", w.next()), "en", "Hi")
			return jsonReq("/admin/v1/templates/"+id+"/status", `{"status":"PAUSED"}`)
		}},
		"POST /admin/v1/templates/:id/quality": {allow: adminOnly, prep: func(w *permWorld) request {
			id := w.createTemplate(w.a["access_token"], w.a["waba_id"], fmt.Sprintf("quality_%d", w.next()), "en", "Hi")
			return jsonReq("/admin/v1/templates/"+id+"/quality", `{"quality_score":"RED"}`)
		}},
		"POST /admin/v1/templates/:id/category": {allow: adminOnly, prep: func(w *permWorld) request {
			id := w.createTemplate(w.a["access_token"], w.a["waba_id"], fmt.Sprintf("category_%d", w.next()), "en", "Hi")
			return jsonReq("/admin/v1/templates/"+id+"/category", `{"category":"MARKETING"}`)
		}},
		"POST /admin/v1/phones/:id/display-name": {allow: adminOnly, prep: func(w *permWorld) request {
			// A number of its own whose WABA reviews by hand, with a name pending.
			x := w.createTenant(fmt.Sprintf("+1555006%04d", w.next()))
			w.c.proposeAll(w.t, [][]byte{mustCmd(w.t, raftfsm.CmdSetTemplateReview, raftfsm.SetTemplateReview{WABAID: x["waba_id"], Policy: raftfsm.ReviewManual})})
			if code, out := w.do("POST", "/v21.0/"+x["phone_number_id"]+"?new_display_name=Pending%20Shrub", x["access_token"], ""); code != 200 {
				w.t.Fatalf("display name: %d %s", code, out)
			}
			return jsonReq("/admin/v1/phones/"+x["phone_number_id"]+"/display-name", `{"decision":"APPROVED"}`)
		}},
		"GET /admin/v1/businesses/:id/marketing-cap": {allow: staffRoles, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/businesses/"+w.a["business_id"]+"/marketing-cap", "")
		}},
		"POST /admin/v1/businesses/:id/marketing-cap": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/businesses/"+w.a["business_id"]+"/marketing-cap", `{"limit":3,"window":"24h"}`)
		}},
		"POST /admin/v1/phones/:id/oba": {allow: adminOnly, prep: func(w *permWorld) request {
			x := w.createTenant(fmt.Sprintf("+1555007%04d", w.next()))
			if code, out := w.do("POST", "/v21.0/"+x["phone_number_id"]+"/official_business_account?business_website_url=https://x.example&primary_country_of_operation=US&primary_language=en_US",
				x["access_token"], ""); code != 200 {
				w.t.Fatalf("OBA request: %d %s", code, out)
			}
			return jsonReq("/admin/v1/phones/"+x["phone_number_id"]+"/oba", `{"decision":"APPROVED"}`)
		}},
		"POST /admin/v1/wabas/:id/template-review": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/wabas/"+w.a["waba_id"]+"/template-review", `{"policy":"approve"}`)
		}},
		"POST /admin/v1/phones/:id/limits": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/phones/"+w.a["phone_number_id"]+"/limits", `{"throughput_mps":50}`)
		}},
		"GET /admin/v1/stats": {allow: staffRoles, prep: fixed("/admin/v1/stats", "")},
		"GET /admin/v1/integrity": {allow: staffRoles, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/integrity?phone="+w.a["phone_number_id"], "")
		}},
		"GET /admin/v1/billing":       {allow: staffRoles, prep: fixed("/admin/v1/billing?month=2026-11", "")},
		"GET /admin/v1/billing/rates": {allow: staffRoles, prep: fixed("/admin/v1/billing/rates", "")},
		"PUT /admin/v1/billing/rates": {allow: adminOnly, prep: fixed("/admin/v1/billing/rates", `{"currency":"EUR","marketing":0.05}`)},
		"POST /admin/v1/phones/:id/tier": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/phones/"+w.a["phone_number_id"]+"/tier", `{"tier":"TIER_10K"}`)
		}},
		"GET /admin/v1/backup": {allow: adminOnly, prep: func(w *permWorld) request {
			return request{path: "/admin/v1/backup", header: map[string]string{
				web.HeaderBackupKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}}
		}},
		"GET /admin/v1/businesses/:id/consumers/export": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			return jsonReq(biz(w)+"/consumers/export?wa_id=15551234567", "")
		}},
		"GET /admin/v1/businesses/:id/conversations": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			return jsonReq(biz(w)+"/conversations?phone_number_id="+w.a["phone_number_id"], "")
		}},
		"POST /admin/v1/businesses/:id/consumers/erase": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			return jsonReq(biz(w)+"/consumers/erase", `{"wa_id":"15551234567"}`)
		}},
		"POST /admin/v1/phones/:id/retention": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/phones/"+w.a["phone_number_id"]+"/retention", `{"retention_hours":24}`)
		}},

		"GET /admin/v1/sandbox/phones":           {allow: businessAdminsAndAdmin, prep: fixed("/admin/v1/sandbox/phones", "")},
		"POST /admin/v1/sandbox/phones":          {allow: businessAdminsAndAdmin, prep: fixed("/admin/v1/sandbox/phones", `{"number":"4915550001","name":"P"}`)},
		"POST /admin/v1/sandbox/phones/:id/send": {allow: businessAdminsAndAdmin, prep: fixed("/admin/v1/sandbox/phones/4915550001/send", `{"to":"15550031000","type":"text","text":"x"}`)},
		"GET /admin/v1/sandbox/phones/:id/inbox": {allow: businessAdminsAndAdmin, prep: fixed("/admin/v1/sandbox/phones/4915550001/inbox", "")},
		"GET /admin/v1/sandbox/phones/:id/sent":  {allow: businessAdminsAndAdmin, prep: fixed("/admin/v1/sandbox/phones/4915550001/sent", "")},
		"GET /openapi.json":                      {allow: everyone, prep: fixed("/openapi.json", "")},
		"GET /admin/v1/webhooks/events":          {allow: []string{pAdmin, pOperator, pBAdminA, pBAdminB}, prep: fixed("/admin/v1/webhooks/events?limit=1", "")},
		"GET /admin/v1/cluster/events":           {allow: staffRoles, prep: fixed("/admin/v1/cluster/events?limit=1", "")},
		"POST /admin/v1/console/invites":         {allow: adminOnly, prep: fixed("/admin/v1/console/invites", `{"role":"operator"}`)},
		"GET /admin/v1/console/users":            {allow: adminOnly, prep: fixed("/admin/v1/console/users", "")},
		"POST /admin/v1/console/users/:id": {allow: adminOnly, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/console/users/"+w.consoleUser(), `{"disabled":true}`)
		}},

		"GET " + node:    {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w), "") }},
		"DELETE " + node: {allow: apiA, prep: func(w *permWorld) request { return jsonReq("/v21.0/"+w.media(), "") }},
		"POST " + node:   {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w), `{"pin":"123456"}`) }},
		"POST " + node + "/media": {allow: apiA, prep: func(w *permWorld) request {
			body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("text/plain", []byte("x"), 100)})
			return request{path: pn(w) + "/media", body: body, size: n, ctype: ct}
		}},
		"GET /v1/media/download/:id<regex(^[0-9]{1,32}$)>": {allow: apiA, prep: func(w *permWorld) request {
			code, out := w.send("GET", "/v21.0/"+w.media(), w.a["access_token"], nil)
			var m struct{ URL string }
			if code != 200 || json.Unmarshal(out, &m) != nil {
				w.t.Fatalf("media info: %d %s", code, out)
			}
			u, err := url.Parse(m.URL)
			if err != nil {
				w.t.Fatal(err)
			}
			return request{path: u.RequestURI()}
		}},
		"POST " + node + "/messages": {allow: apiA, prep: func(w *permWorld) request {
			name := fmt.Sprintf("send_%d", w.next())
			w.createTemplate(w.a["access_token"], w.a["waba_id"], name, "en", "Hi")
			return jsonReq(pn(w)+"/messages", `{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"`+name+`","language":{"code":"en"}}}`)
		}},
		"POST " + node + "/subscribed_apps": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(waba(w)+"/subscribed_apps", `{"override_callback_uri":"`+w.hook+`","verify_token":"v"}`)
		}},
		"GET " + node + "/subscribed_apps": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(waba(w)+"/subscribed_apps", "") }},
		"DELETE " + node + "/subscribed_apps": {allow: apiA, prep: func(w *permWorld) request {
			if code, out := w.send("POST", waba(w)+"/subscribed_apps", w.a["access_token"],
				&[]request{jsonReq("", `{"override_callback_uri":"`+w.hook+`","verify_token":"v"}`)}[0]); code != 200 {
				w.t.Fatalf("subscribe: %d %s", code, out)
			}
			return jsonReq(waba(w)+"/subscribed_apps", "")
		}},
		"GET " + node + "/phone_numbers": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(waba(w)+"/phone_numbers", "") }},
		"GET " + node + "/template_analytics": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq("/v21.0"+w.templateAnalyticsPath(), "")
		}},
		"POST " + node + "/subscriptions": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq("/v21.0/"+w.a["app_id"]+"/subscriptions", `{"object":"whatsapp_business_account","callback_url":"`+w.hook+`","verify_token":"v","fields":"messages"}`)
		}},
		"GET " + node + "/subscriptions":    {allow: apiA, prep: func(w *permWorld) request { return jsonReq("/v21.0/"+w.a["app_id"]+"/subscriptions", "") }},
		"DELETE " + node + "/subscriptions": {allow: apiA, prep: func(w *permWorld) request { return jsonReq("/v21.0/"+w.a["app_id"]+"/subscriptions", "") }},
		"POST " + node + "/uploads": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq("/v21.0/"+w.a["app_id"]+"/uploads?file_name=a.png&file_length=8&file_type=image/png", "")
		}},
		`POST /upload\::session`: {allow: apiA, prep: func(w *permWorld) request {
			r := w.uploadSession(8)
			r.body, r.size = strings.NewReader("\x89PNG\r\n\x1a\n"), 8
			r.header = map[string]string{"file_offset": "0"}
			return r
		}},
		`GET /upload\::session`: {allow: apiA, prep: func(w *permWorld) request { return w.uploadSession(8) }},
		// A profile picture is public by its signed, expiring URL.
		"GET /v1/profile_picture/:phone<regex(^[0-9]{1,32}$)>": {allow: everyone, prep: func(w *permWorld) request {
			return request{path: w.profilePicture()}
		}},
		// A QR image is public by its signed URL (it is meant to be printed).
		"GET /v1/qr/:phone<regex(^[0-9]{1,32}$)>/:file": {allow: everyone, prep: func(w *permWorld) request {
			r := jsonReq("/v21.0/"+w.a["phone_number_id"]+"/message_qrdls", `{"prefilled_message":"Hi","generate_qr_image":"SVG"}`)
			code, out := w.send("POST", r.path, w.a["access_token"], &r)
			var q struct {
				URL string `json:"qr_image_url"`
			}
			if code != 200 || json.Unmarshal(out, &q) != nil {
				w.t.Fatalf("qr code: %d %s", code, out)
			}
			u, err := url.Parse(q.URL)
			if err != nil {
				w.t.Fatal(err)
			}
			return request{path: u.RequestURI()}
		}},
		"GET /oauth/access_token": {allow: everyone, prep: func(w *permWorld) request {
			return jsonReq("/oauth/access_token?grant_type=client_credentials&client_id="+w.a["app_id"]+"&client_secret="+w.a["app_secret"], "")
		}},
		"POST " + node + "/register": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/register", `{"messaging_product":"whatsapp","pin":"123456"}`)
		}},
		"POST " + node + "/deregister": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/deregister", `{"messaging_product":"whatsapp"}`)
		}},
		"POST " + node + "/conversational_automation": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/conversational_automation", `{"enable_welcome_message":true}`)
		}},
		"GET " + node + "/whatsapp_commerce_settings": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/whatsapp_commerce_settings", "") }},
		"POST " + node + "/whatsapp_commerce_settings": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/whatsapp_commerce_settings", `{"is_cart_enabled":true}`)
		}},
		"GET " + node + "/settings": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/settings", "") }},
		"POST " + node + "/settings": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/settings", `{"calling":{"status":"ENABLED"}}`)
		}},
		"POST " + node + "/message_qrdls": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls", `{"prefilled_message":"Hi"}`)
		}},
		"GET " + node + "/message_qrdls":       {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/message_qrdls", "") }},
		"GET " + node + "/message_qrdls/:code": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/message_qrdls/"+w.qrCode(), "") }},
		"DELETE " + node + "/message_qrdls": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls?code_id="+w.qrCode(), "")
		}},
		"DELETE " + node + "/message_qrdls/:code": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/message_qrdls/"+w.qrCode(), "")
		}},
		"POST " + node + "/official_business_account": {allow: apiA, prep: func(w *permWorld) request {
			w.resetOBA()
			return jsonReq(pn(w)+"/official_business_account", `{"business_website_url":"https://a.example","primary_country_of_operation":"US","primary_language":"en_US"}`)
		}},
		"POST " + node + "/request_code": {allow: apiA, prep: func(w *permWorld) request {
			w.pendingCode("")
			return jsonReq(pn(w)+"/request_code?code_method=SMS&language=en_US", "")
		}},
		"POST " + node + "/verify_code": {allow: apiA, prep: func(w *permWorld) request {
			w.pendingCode("135790")
			return jsonReq(pn(w)+"/verify_code", `{"code":"135790"}`)
		}},
		"GET /admin/v1/businesses/:id/verification-codes": {allow: businessAdmin, scoped: true, prep: func(w *permWorld) request {
			return jsonReq("/admin/v1/businesses/"+w.a["business_id"]+"/verification-codes", "")
		}},
		"GET " + node + "/block_users": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/block_users", "") }},
		"POST " + node + "/block_users": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/block_users", `{"messaging_product":"whatsapp","block_users":[{"user":"+15551230000"}]}`)
		}},
		"DELETE " + node + "/block_users": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/block_users", `{"messaging_product":"whatsapp","block_users":[{"user":"+15551230000"}]}`)
		}},
		"GET " + node + "/whatsapp_business_profile": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(pn(w)+"/whatsapp_business_profile", "") }},
		"POST " + node + "/whatsapp_business_profile": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(pn(w)+"/whatsapp_business_profile", `{"messaging_product":"whatsapp","about":"hello"}`)
		}},
		"GET " + node + "/message_templates": {allow: apiA, prep: func(w *permWorld) request { return jsonReq(waba(w)+"/message_templates", "") }},
		"POST " + node + "/message_templates": {allow: apiA, prep: func(w *permWorld) request {
			return jsonReq(waba(w)+"/message_templates", fmt.Sprintf(`{"name":"new_%d","language":"en","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, w.next()))
		}},
		"DELETE " + node + "/message_templates": {allow: apiA, prep: func(w *permWorld) request {
			name := fmt.Sprintf("gone_%d", w.next())
			w.createTemplate(w.a["access_token"], w.a["waba_id"], name, "en", "Hi")
			return jsonReq(waba(w)+"/message_templates?name="+name, "")
		}},
	}
}

// stateWithoutAudit is the FSM's data except the applied index and the
// audit log.
func stateWithoutAudit(t *testing.T, h *harness) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(dumpFSM(t, h), "\n") {
		if !strings.HasPrefix(l, "audit ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPermissionMatrix calls every route registered on the app as every
// principal: allowed calls succeed, denied ones answer 401 code 190 (no or
// unknown credentials), 403 code 10 (wrong role) or — for another
// business's object — exactly what a missing object answers, and change
// nothing but the audit log. Every non-GET admin call by an admin-kind
// token leaves exactly one audit record.
func TestPermissionMatrix(t *testing.T) {
	w := newPermWorld(t)
	expect := permRoutes()
	seen := map[string]bool{}
	for _, r := range w.app.GetRoutes(true) {
		method := r.Method
		if method == "HEAD" {
			method = "GET" // Fiber serves every GET route for HEAD as well
		}
		key := method + " " + r.Path
		exp, ok := expect[key]
		if !ok {
			t.Errorf("route %s %s has no entry in the permission matrix", r.Method, r.Path)
			continue
		}
		seen[key] = true
		admin := strings.HasPrefix(r.Path, "/admin/")
		graphRoute := !admin && r.Path != "/healthz" && r.Path != "/readyz"
		for _, p := range principals {
			req := exp.prep(w)
			before := stateWithoutAudit(t, w.harness)
			auditBefore, _ := w.c.FSM().AuditLog(nil, 1<<20)
			code, body := w.send(r.Method, req.path, w.tokens[p], &req)
			auditAfter, _ := w.c.FSM().AuditLog(nil, 1<<20)
			where := fmt.Sprintf("%s %s as %s", r.Method, req.path, p)
			allowed := slices.Contains(exp.allow, p)
			switch {
			case allowed:
				if code/100 != 2 {
					t.Errorf("%s: %d %s, want allowed", where, code, body)
				}
			case p == pNone:
				w.expectError(where, r.Method, code, body, 401, 190)
			case graphRoute && p == pAPIB, admin && exp.scoped && p == pBAdminB && slices.Contains(exp.allow, pBAdminA):
				// Another business's object: the answer for a missing one.
				w.expectError(where, r.Method, code, body, 400, 100)
				if r.Method != "HEAD" && admin {
					missing := strings.Replace(req.path, w.a["business_id"], "999999999999999", 1)
					mreq := exp.prep(w)
					mreq.path = missing
					mcode, mbody := w.send(r.Method, missing, "admin-tok", &mreq)
					if mcode != code || normalizeEnvelope(t, mbody) != normalizeEnvelope(t, body) {
						t.Errorf("%s: foreign business %d %s answers unlike a missing one %d %s", where, code, body, mcode, mbody)
					}
					before = stateWithoutAudit(t, w.harness)
				}
			default:
				w.expectError(where, r.Method, code, body, 403, 10)
			}
			if !allowed && stateWithoutAudit(t, w.harness) != before {
				t.Errorf("%s: a denied call changed the state", where)
			}
			wantRecords := 0
			if admin && r.Method != "GET" && r.Method != "HEAD" && (p == pAdmin || p == pOperator || p == pBAdminA || p == pBAdminB) {
				wantRecords = 1
			}
			added := auditAfter[len(auditBefore):]
			if n := len(added); n != wantRecords {
				t.Errorf("%s: %d audit records, want %d", where, n, wantRecords)
			} else if wantRecords == 1 {
				rec := added[0].Record
				wantOutcome := map[bool]string{true: "ok", false: "denied"}[allowed]
				if code == 400 {
					wantOutcome = "failed"
				}
				if rec.Outcome != wantOutcome || rec.Status != code || rec.Action == "" || rec.ActorID == "" || rec.At == 0 {
					t.Errorf("%s: audit record %+v, want outcome %s status %d", where, rec, wantOutcome, code)
				}
			}
		}
	}
	for key := range expect {
		if !seen[key] {
			t.Errorf("matrix entry %s matches no registered route", key)
		}
	}
	// The audit log holds ids, never a token. (The harness's admin and
	// operator token ids embed their values, so only the tokens waedge
	// issued itself are checked.)
	var sb bytes.Buffer
	entries, _ := w.c.FSM().AuditLog(nil, 1<<20)
	for _, e := range entries {
		fmt.Fprintf(&sb, "%+v\n", e.Record)
	}
	for _, p := range []string{pBAdminA, pBAdminB, pAPIA, pAPIB} {
		if tok := w.tokens[p]; strings.Contains(sb.String(), tok) {
			t.Errorf("the audit log holds the token of %s", p)
		}
	}
}

func (w *permWorld) expectError(where, method string, code int, body []byte, status, gcode int) {
	w.t.Helper()
	if code != status {
		w.t.Errorf("%s: %d %s, want %d", where, code, body, status)
		return
	}
	if method == "HEAD" {
		return
	}
	if e := decodeEnvelope(w.t, body); e.Error.Code != gcode {
		w.t.Errorf("%s: code %d, want %d (%s)", where, e.Error.Code, gcode, body)
	}
}

func normalizeEnvelope(t *testing.T, body []byte) string {
	e := decodeEnvelope(t, body)
	e.Error.FBTraceID = ""
	return fmt.Sprintf("%+v", e)
}

// TestOpenAPIMatchesRoutes: /openapi.json lists every registered route
// once, and the roles it names for each are the ones the permission
// matrix (written by hand, independently of the code's table) allows.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	w := newPermWorld(t)
	code, out := w.send("GET", "/openapi.json", "", nil)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Roles []string `json:"x-waedge-roles"`
		}
	}
	if code != 200 || json.Unmarshal(out, &doc) != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %d %.200s", code, out)
	}
	roleOf := map[string]string{pAdmin: "admin", pOperator: "operator", pBAdminA: "business_admin", pAPIA: "api"}
	expect := permRoutes()
	seen := 0
	for _, r := range w.app.GetRoutes(true) {
		if r.Method == "HEAD" {
			continue
		}
		path := regexp.MustCompile(`:([A-Za-z_]+)(<regex\([^>]*\)>)?`).ReplaceAllString(r.Path, "{$1}")
		path = strings.ReplaceAll(path, `\:`, ":")
		op, ok := doc.Paths[path][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("%s %s (%s) is not in the OpenAPI document", r.Method, r.Path, path)
			continue
		}
		seen++
		var want []string
		if exp := expect[r.Method+" "+r.Path]; !slices.Equal(exp.allow, everyone) {
			for _, p := range exp.allow {
				if name := roleOf[p]; name != "" {
					want = append(want, name)
				}
			}
		}
		got := slices.Clone(op.Roles)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: document names roles %v, the permission matrix allows %v", r.Method, r.Path, got, want)
		}
	}
	total := 0
	for _, ops := range doc.Paths {
		total += len(ops)
	}
	if total != seen {
		t.Errorf("the document has %d operations, the app %d routes", total, seen)
	}
}

// templateAnalyticsPath confirms template analytics for business A's WABA
// and returns a template_analytics request for one of its templates (the
// unversioned path).
func (w *permWorld) templateAnalyticsPath() string {
	w.t.Helper()
	if code, out := w.send("POST", "/v21.0/"+w.a["waba_id"]+"?is_enabled_for_insights=true", w.a["access_token"], nil); code != 200 {
		w.t.Fatalf("enable insights: %d %s", code, out)
	}
	id := w.createTemplate(w.a["access_token"], w.a["waba_id"], fmt.Sprintf("analytics_%d", w.next()), "en", "Hi")
	now := time.Now().Unix()
	return fmt.Sprintf("/%s/template_analytics?start=%d&end=%d&granularity=DAILY&template_ids=[%s]", w.a["waba_id"], now-86400, now, id)
}
