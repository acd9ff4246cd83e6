package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/web"
)

// fakeCluster is a one-node cluster over a real FSM (fsmtest.Direct),
// with the rest of cluster.Cluster answered as a single healthy leader.
type fakeCluster struct {
	*fsmtest.Direct
	ready   atomic.Bool
	removed []string
}

func newFake(t *testing.T) *fakeCluster {
	c := &fakeCluster{Direct: fsmtest.Open(t)}
	c.ready.Store(true)
	return c
}

func (c *fakeCluster) Status(context.Context) (cluster.Status, error) {
	return cluster.Status{NodeID: "n1", State: "Leader", LeaderID: "n1", Members: []cluster.Member{{ID: "n1", Leader: true}}}, nil
}

func (c *fakeCluster) CreateJoinToken(context.Context, time.Duration) (string, error) {
	return "wjt1.test", nil
}

func (c *fakeCluster) RemoveNode(_ context.Context, id string) error {
	if id != "n2" {
		return cluster.ErrNodeNotFound
	}
	c.removed = append(c.removed, id)
	return nil
}

func (c *fakeCluster) TransferLeadership(context.Context) error { return nil }
func (c *fakeCluster) Ready() bool                              { return c.ready.Load() }
func (c *fakeCluster) CaughtUp() bool                           { return c.ready.Load() }

func (c *fakeCluster) token(t *testing.T, tok, kind, business string) {
	t.Helper()
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdCreateToken, raftfsm.CreateToken{
		TokenID: "id-" + tok, Hash: sha256.Sum256([]byte(tok)), Kind: kind, BusinessID: business})
	if r, _ := c.Propose(context.Background(), cmd); r.Err != nil {
		t.Fatal(r.Err)
	}
}

type harness struct {
	t      *testing.T
	app    *fiber.App
	c      *fakeCluster
	sealer *seal.Sealer
}

func newHarness(t *testing.T) *harness {
	c := newFake(t)
	c.token(t, "admin-tok", raftfsm.TokenAdmin, "")
	c.token(t, "operator-tok", raftfsm.TokenOperator, "")
	h := &harness{t: t, c: c, sealer: seal.New(c, testKEK(), nil)}
	return h.withApp()
}

// testKEK is the cluster key of every harness.
func testKEK() keyring.KEK {
	var kek keyring.KEK
	kek[0] = 7
	return kek
}

func (h *harness) withApp() *harness {
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Egress: loopback})
	return h
}

func (h *harness) do(method, path, token, body string) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.send(req)
}

// send runs a request through the app and returns status and body.
func (h *harness) send(req *http.Request) (int, []byte) {
	h.t.Helper()
	resp, err := h.app.Test(req, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type envelope struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		ErrorData struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func decodeEnvelope(t *testing.T, b []byte) envelope {
	t.Helper()
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not a Graph error envelope: %s (%v)", b, err)
	}
	if e.Error.Type == "" || e.Error.FBTraceID == "" || e.Error.ErrorData.MessagingProduct != "whatsapp" ||
		!strings.HasPrefix(e.Error.Message, "(#") {
		t.Fatalf("incomplete envelope: %s", b)
	}
	return e
}

func TestHealth(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.do("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := h.do("GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	h.c.ready.Store(false)
	code, b := h.do("GET", "/readyz", "", "")
	if code != 503 || decodeEnvelope(t, b).Error.Code != 2 {
		t.Fatalf("readyz not ready: %d %s", code, b)
	}
}

func TestAdminPermissions(t *testing.T) {
	h := newHarness(t)
	created := h.createTenant("+15551230000")
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/v1/cluster", ""},
		{"POST", "/admin/v1/cluster/join-tokens", `{"ttl_seconds":3600}`},
		{"DELETE", "/admin/v1/cluster/nodes/n2", ""},
		{"POST", "/admin/v1/cluster/transfer-leadership", ""},
		{"POST", "/admin/v1/tenants", `{"name":"X","phone":"+15559990000"}`},
		{"GET", "/admin/v1/tenants", ""},
		{"GET", "/admin/v1/debug/fsm-digest", ""},
	}
	for _, r := range routes {
		for _, tc := range []struct {
			who   string
			token string
			want  int
		}{
			{"none", "", 401},
			{"garbage", "nope", 401},
			{"api token", created["access_token"], 403},
			{"operator", "operator-tok", map[bool]int{true: 200, false: 403}[r.method == "GET" && (r.path == "/admin/v1/cluster" || r.path == "/admin/v1/tenants")]},
			{"admin", "admin-tok", 200},
		} {
			body := r.body
			if strings.Contains(body, "+1555999") {
				body = strings.Replace(body, "0000", "000"+string(rune('0'+len(tc.who)%10)), 1)
			}
			code, b := h.do(r.method, r.path, tc.token, body)
			if code != tc.want {
				t.Fatalf("%s %s as %s: %d %s, want %d", r.method, r.path, tc.who, code, b, tc.want)
			}
			if code >= 400 {
				e := decodeEnvelope(t, b)
				if (code == 401 && e.Error.Code != 190) || (code == 403 && e.Error.Code != 10) {
					t.Fatalf("%s as %s: code %d", r.path, tc.who, e.Error.Code)
				}
			}
		}
	}
}

func (h *harness) createTenant(phone string) map[string]string {
	h.t.Helper()
	code, b := h.do("POST", "/admin/v1/tenants", "admin-tok", `{"name":"Acme","phone":"`+phone+`"}`)
	if code != 200 {
		h.t.Fatalf("create tenant: %d %s", code, b)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatal(err)
	}
	for _, k := range []string{"business_id", "waba_id", "phone_number_id", "display_phone_number", "app_id", "app_secret", "access_token"} {
		if out[k] == "" {
			h.t.Fatalf("missing %s in %s", k, b)
		}
	}
	return out
}

func TestTenants(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15551110000")
	for _, tc := range []struct {
		body  string
		code  int
		gcode int
	}{
		{`{"name":"Dup","phone":"+15551110000"}`, 400, 100},
		{`{"name":"Bad","phone":"5551110000"}`, 400, 100},
		{`{"name":"","phone":"+15551110001"}`, 400, 100},
		{`{}`, 400, 131008},
		{`{"name":"X","phone":"+15551110002","extra":1}`, 400, 100},
		{`not json`, 400, 100},
	} {
		code, b := h.do("POST", "/admin/v1/tenants", "admin-tok", tc.body)
		if code != tc.code || decodeEnvelope(t, b).Error.Code != tc.gcode {
			t.Fatalf("%s: %d %s", tc.body, code, b)
		}
	}
	code, b := h.do("GET", "/admin/v1/tenants", "admin-tok", "")
	if code != 200 || !bytes.Contains(b, []byte(a["phone_number_id"])) {
		t.Fatalf("list: %d %s", code, b)
	}
	for _, secret := range []string{a["access_token"], a["app_secret"]} {
		if bytes.Contains(b, []byte(secret)) {
			t.Fatal("listing leaks a secret")
		}
	}
}

func TestGraphNodeIsolation(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15552220000")
	b := h.createTenant("+15553330000")
	for _, path := range []string{"/v21.0/" + a["phone_number_id"], "/" + a["phone_number_id"], "/v25.0/" + a["phone_number_id"]} {
		code, body := h.do("GET", path, a["access_token"], "")
		if code != 200 || !bytes.Contains(body, []byte(`"display_phone_number":"+15552220000"`)) {
			t.Fatalf("own phone via %s: %d %s", path, code, body)
		}
	}
	// Another business's id answers exactly like a missing one.
	codeForeign, foreign := h.do("GET", "/v21.0/"+b["phone_number_id"], a["access_token"], "")
	codeMissing, missing := h.do("GET", "/v21.0/999999999999999", a["access_token"], "")
	ef, em := decodeEnvelope(t, foreign), decodeEnvelope(t, missing)
	ef.Error.FBTraceID, em.Error.FBTraceID = "", ""
	ef.Error.ErrorData.Details = strings.ReplaceAll(ef.Error.ErrorData.Details, b["phone_number_id"], "ID")
	em.Error.ErrorData.Details = strings.ReplaceAll(em.Error.ErrorData.Details, "999999999999999", "ID")
	if codeForeign != codeMissing || ef != em {
		t.Fatalf("foreign id distinguishable from missing:\n%s\n%s", foreign, missing)
	}
	if code, body := h.do("GET", "/v21.0/"+a["phone_number_id"], "", ""); code != 401 || decodeEnvelope(t, body).Error.Code != 190 {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := h.do("GET", "/v21.0/"+a["phone_number_id"], "admin-tok", ""); code != 403 {
		t.Fatalf("admin token on Graph API: %d %s", code, body)
	}
}

func TestInternalErrorsAreHidden(t *testing.T) {
	h := newHarness(t)
	h.c.Fail(errors.New("bbolt: secret internal detail"))
	code, b := h.do("POST", "/admin/v1/tenants", "admin-tok", `{"name":"X","phone":"+15554440000"}`)
	if code != 500 || bytes.Contains(b, []byte("secret internal detail")) || decodeEnvelope(t, b).Error.Code != 131000 {
		t.Fatalf("internal error: %d %s", code, b)
	}
	h.c.Fail(cluster.ErrNoLeader)
	code, b = h.do("POST", "/admin/v1/tenants", "admin-tok", `{"name":"X","phone":"+15554440000"}`)
	if code != 503 || decodeEnvelope(t, b).Error.Code != 2 {
		t.Fatalf("no leader: %d %s", code, b)
	}
	// Leadership lost mid-commit (as the forwarding RPC reports it): the
	// client is told to retry, not that something broke.
	h.c.Fail(fmt.Errorf("%w: remote", cluster.ErrOutcomeUnknown))
	code, b = h.do("POST", "/admin/v1/tenants", "admin-tok", `{"name":"X","phone":"+15554440000"}`)
	if code != 503 || decodeEnvelope(t, b).Error.Code != 2 {
		t.Fatalf("outcome unknown: %d %s", code, b)
	}
}

func TestPanicBecomes500(t *testing.T) {
	c := newFake(t)
	app := web.New(web.Deps{Cluster: c})
	app.Get("/boom", func(*fiber.Ctx) error { panic("kaboom secret") })
	resp, err := app.Test(httptest.NewRequest("GET", "/boom", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || bytes.Contains(b, []byte("kaboom")) {
		t.Fatalf("panic: %d %s", resp.StatusCode, b)
	}
	decodeEnvelope(t, b)
}

func TestUnknownPath(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("GET", "/admin/v1/nope", "admin-tok", "")
	if code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("unknown path: %d %s", code, b)
	}
	_ = http.MethodGet
}
