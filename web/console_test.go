package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/waedge/waedge/console"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/web"
)

// consoleWorld is an app serving the console, with a clock the test moves.
type consoleWorld struct {
	*harness
	mu  sync.Mutex
	now time.Time
}

func newConsoleWorld(t *testing.T) *consoleWorld {
	w := &consoleWorld{harness: newHarness(t), now: time.Unix(1_800_000_000, 0)}
	clock := func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }
	w.app = web.New(web.Deps{Cluster: w.c, Sealer: w.sealer, Egress: loopback, Now: clock,
		Console: fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>console</title>")}}})
	return w
}

func (w *consoleWorld) advance(d time.Duration) { w.mu.Lock(); w.now = w.now.Add(d); w.mu.Unlock() }

// call is one request with optional cookie, CSRF token and extra headers.
type call struct {
	method, path, body, cookie, csrf, bearer string
	header                                   map[string]string
}

func (w *consoleWorld) send(c call) (int, []byte, *http.Response) {
	w.t.Helper()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, rd)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: c.cookie})
	}
	if c.csrf != "" {
		req.Header.Set(console.HeaderCSRF, c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := w.app.Test(req, -1)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp
}

// signedIn is a browser session: its cookie and CSRF token.
type signedIn struct{ cookie, csrf string }

// user invites (as the cluster admin) and signs up a console user.
func (w *consoleWorld) user(name, role, business string) signedIn {
	w.t.Helper()
	body, _ := json.Marshal(map[string]string{"role": role, "business_id": business})
	code, out, _ := w.send(call{method: "POST", path: "/admin/v1/console/invites", body: string(body), bearer: "admin-tok"})
	var link struct{ URL string }
	if code != 200 || json.Unmarshal(out, &link) != nil || !strings.Contains(link.URL, "#accept=") {
		w.t.Fatalf("invite: %d %s", code, out)
	}
	secret := link.URL[strings.Index(link.URL, "#accept=")+len("#accept="):]
	body, _ = json.Marshal(map[string]string{"link": secret, "name": name, "password": "password of " + name})
	code, out, resp := w.send(call{method: "POST", path: "/console/api/accept", body: string(body)})
	if code != 200 {
		w.t.Fatalf("accept: %d %s", code, out)
	}
	return w.session(resp, out)
}

func (w *consoleWorld) session(resp *http.Response, out []byte) signedIn {
	w.t.Helper()
	var s struct {
		SignedIn bool   `json:"signed_in"`
		CSRF     string `json:"csrf_token"`
	}
	if json.Unmarshal(out, &s) != nil || !s.SignedIn || s.CSRF == "" {
		w.t.Fatalf("session answer %s", out)
	}
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				w.t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
			}
			return signedIn{cookie: c.Value, csrf: s.CSRF}
		}
	}
	w.t.Fatalf("no session cookie in %v", resp.Header)
	return signedIn{}
}

func (w *consoleWorld) signIn(name, password string) (int, []byte, *http.Response) {
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	return w.send(call{method: "POST", path: "/console/api/sign-in", body: string(body)})
}

// TestConsoleCSRF: a session reads the admin API with its cookie alone,
// but every state-changing call needs the session's CSRF token; a sign-in
// posted from another site or as a form is refused.
func TestConsoleCSRF(t *testing.T) {
	w := newConsoleWorld(t)
	s := w.user("root", raftfsm.TokenAdmin, "")
	if code, out, _ := w.send(call{method: "GET", path: "/admin/v1/cluster", cookie: s.cookie}); code != 200 {
		t.Fatalf("read with the session cookie: %d %s", code, out)
	}
	before := stateWithoutAudit(t, w.harness)
	for _, csrf := range []string{"", "wrong", s.csrf + "x"} {
		code, out, _ := w.send(call{method: "POST", path: "/admin/v1/tenants", body: `{"name":"X","phone":"+15550090000"}`,
			cookie: s.cookie, csrf: csrf})
		if code != 403 || decodeEnvelope(t, out).Error.Code != 10 {
			t.Fatalf("POST with CSRF token %q: %d %s, want 403 code 10", csrf, code, out)
		}
	}
	if stateWithoutAudit(t, w.harness) != before {
		t.Fatal("a request without its CSRF token changed the state")
	}
	other := w.user("other", raftfsm.TokenAdmin, "")
	if code, _, _ := w.send(call{method: "POST", path: "/admin/v1/tenants", body: `{"name":"X","phone":"+15550090000"}`,
		cookie: s.cookie, csrf: other.csrf}); code != 403 {
		t.Fatalf("another session's CSRF token accepted: %d", code)
	}
	if code, out, _ := w.send(call{method: "POST", path: "/admin/v1/tenants", body: `{"name":"X","phone":"+15550090000"}`,
		cookie: s.cookie, csrf: s.csrf}); code != 200 {
		t.Fatalf("POST with the CSRF token: %d %s", code, out)
	}
	entries, _ := w.c.FSM().AuditLog(nil, 1000)
	var created []raftfsm.AuditRecord
	for _, e := range entries {
		if e.Record.Action == "tenant.create" {
			created = append(created, e.Record)
		}
	}
	if len(created) != 1 || !strings.HasPrefix(created[0].ActorID, "console:cu-") || created[0].ActorKind != raftfsm.TokenAdmin {
		t.Fatalf("audit records of the console's tenant.create: %+v", created)
	}
	// Sign-in from another site, or as an HTML form, is refused.
	body := `{"name":"root","password":"password of root"}`
	if code, out, _ := w.send(call{method: "POST", path: "/console/api/sign-in", body: body,
		header: map[string]string{"Sec-Fetch-Site": "cross-site"}}); code != 403 {
		t.Fatalf("cross-site sign-in: %d %s", code, out)
	}
	if code, out, _ := w.send(call{method: "POST", path: "/console/api/sign-in", body: body,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}); code != 400 {
		t.Fatalf("form sign-in: %d %s", code, out)
	}
	// Sign-out needs the CSRF token too, then the cookie is dead.
	if code, _, _ := w.send(call{method: "POST", path: "/console/api/sign-out", cookie: s.cookie}); code != 403 {
		t.Fatalf("sign-out without CSRF token: %d", code)
	}
	if code, _, _ := w.send(call{method: "POST", path: "/console/api/sign-out", cookie: s.cookie, csrf: s.csrf}); code != 200 {
		t.Fatalf("sign-out: %d", code)
	}
	if code, _, _ := w.send(call{method: "GET", path: "/admin/v1/cluster", cookie: s.cookie}); code != 401 {
		t.Fatalf("cookie after sign-out: %d, want 401", code)
	}
}

// TestConsoleLockout: MaxFailures wrong passwords lock the name — even the
// right password is refused (429 with Retry-After) — until LockoutFor has
// passed.
func TestConsoleLockout(t *testing.T) {
	w := newConsoleWorld(t)
	w.user("root", raftfsm.TokenAdmin, "")
	for i := 0; i < console.MaxFailures; i++ {
		if code, out, _ := w.signIn("root", "not the password"); code != 401 || decodeEnvelope(t, out).Error.Code != 190 {
			t.Fatalf("wrong password %d: %d %s", i, code, out)
		}
	}
	code, out, resp := w.signIn("ROOT", "password of root")
	if code != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password while locked: %d %s (Retry-After %q), want 429", code, out, resp.Header.Get("Retry-After"))
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Fatal("a locked sign-in set a cookie")
	}
	w.advance(console.LockoutFor + time.Second)
	if code, out, _ := w.signIn("root", "password of root"); code != 200 {
		t.Fatalf("after the lockout: %d %s", code, out)
	}
	// An unknown name answers exactly like a wrong password.
	_, unknown, _ := w.signIn("nobody", "whatever password")
	_, wrong, _ := w.signIn("root", "whatever password")
	if normalizeEnvelope(t, unknown) != normalizeEnvelope(t, wrong) {
		t.Fatalf("unknown user %s answers unlike a wrong password %s", unknown, wrong)
	}
}

// TestConsoleSessionExpiry: a session ends after its lifetime, and at once
// when its user is disabled.
func TestConsoleSessionExpiry(t *testing.T) {
	w := newConsoleWorld(t)
	s := w.user("root", raftfsm.TokenAdmin, "")
	ops := w.user("olga", raftfsm.TokenOperator, "")
	w.advance(console.DefaultSessionTTL - time.Minute)
	if code, _, _ := w.send(call{method: "GET", path: "/admin/v1/cluster", cookie: s.cookie}); code != 200 {
		t.Fatalf("session before its end: %d", code)
	}
	w.advance(2 * time.Minute)
	code, out, _ := w.send(call{method: "GET", path: "/admin/v1/cluster", cookie: s.cookie})
	if code != 401 || decodeEnvelope(t, out).Error.Code != 190 {
		t.Fatalf("expired session: %d %s, want 401 code 190", code, out)
	}
	if _, out, _ := w.send(call{method: "GET", path: "/console/api/session", cookie: s.cookie}); !strings.Contains(string(out), `"signed_in":false`) {
		t.Fatalf("expired session still signed in: %s", out)
	}
	// Disable the operator: their (still valid) session stops at once.
	code, out, resp := w.signIn("root", "password of root")
	if code != 200 {
		t.Fatalf("sign in again: %d %s", code, out)
	}
	s = w.session(resp, out)
	var olgaID string
	us, _ := w.c.FSM().ConsoleUsers()
	for _, u := range us {
		if u.Name == "olga" {
			olgaID = u.ID
		}
	}
	if code, out, _ := w.send(call{method: "POST", path: "/admin/v1/console/users/" + olgaID, body: `{"disabled":true}`,
		cookie: s.cookie, csrf: s.csrf}); code != 200 {
		t.Fatalf("disable: %d %s", code, out)
	}
	if code, _, _ := w.send(call{method: "GET", path: "/admin/v1/cluster", cookie: ops.cookie}); code != 401 {
		t.Fatalf("disabled user's session: %d, want 401", code)
	}
	if code, _, _ := w.signIn("olga", "password of olga"); code != 401 {
		t.Fatalf("disabled user signed in: %d", code)
	}
}

// TestConsoleRoles: a session has exactly its user's role on the admin
// API: the operator reads the cluster but no business's templates,
// webhooks or consumer data; a business admin sees their own business and
// another one answers like a missing one.
func TestConsoleRoles(t *testing.T) {
	w := newConsoleWorld(t)
	a := w.createTenant("+15550081000")
	b := w.createTenant("+15550082000")
	op := w.user("olga", raftfsm.TokenOperator, "")
	ba := w.user("bea", raftfsm.TokenBusinessAdmin, a["business_id"])
	get := func(s signedIn, path string) (int, []byte) {
		code, out, _ := w.send(call{method: "GET", path: path, cookie: s.cookie})
		return code, out
	}
	for _, tc := range []struct {
		s    signedIn
		who  string
		path string
		want int
	}{
		{op, "operator", "/admin/v1/cluster", 200},
		{op, "operator", "/admin/v1/businesses/" + a["business_id"], 200},
		{op, "operator", "/admin/v1/businesses/" + a["business_id"] + "/templates", 403},
		{op, "operator", "/admin/v1/businesses/" + a["business_id"] + "/webhooks", 403},
		{op, "operator", "/admin/v1/businesses/" + a["business_id"] + "/consumers/export?wa_id=15551234567", 403},
		{op, "operator", "/admin/v1/console/users", 403},
		{ba, "business admin", "/admin/v1/businesses/" + a["business_id"] + "/templates", 200},
		{ba, "business admin", "/admin/v1/businesses/" + b["business_id"], 400},
		{ba, "business admin", "/admin/v1/cluster", 403},
		{ba, "business admin", "/admin/v1/console/users", 403},
	} {
		if code, out := get(tc.s, tc.path); code != tc.want {
			t.Errorf("%s GET %s: %d %s, want %d", tc.who, tc.path, code, out, tc.want)
		}
	}
	_, foreign := get(ba, "/admin/v1/businesses/"+b["business_id"])
	_, missing := get(ba, "/admin/v1/businesses/999999999999")
	if normalizeEnvelope(t, foreign) != normalizeEnvelope(t, missing) {
		t.Errorf("another business %s answers unlike a missing one %s", foreign, missing)
	}
	// A session cannot invite (admin only), even with its CSRF token.
	if code, out, _ := w.send(call{method: "POST", path: "/admin/v1/console/invites", body: `{"role":"admin"}`,
		cookie: op.cookie, csrf: op.csrf}); code != 403 {
		t.Errorf("operator invites an admin: %d %s", code, out)
	}
	// The console's files carry the strict CSP; / leads to the console.
	code, _, resp := w.send(call{method: "GET", path: "/console/"})
	if code != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self';") ||
		strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Errorf("console: %d CSP %q", code, resp.Header.Get("Content-Security-Policy"))
	}
	if code, _, resp := w.send(call{method: "GET", path: "/"}); code != 302 || !strings.HasSuffix(resp.Header.Get("Location"), "/console/") {
		t.Errorf("/: %d → %q, want a redirect to the console", code, resp.Header.Get("Location"))
	}
}
