package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/web"
)

// recordingCluster wraps the fake to observe what the admin API asks.
type recordingCluster struct {
	*fakeCluster
	mu        sync.Mutex
	ttl       time.Duration
	hadDL     bool
	blockStat bool
}

func (r *recordingCluster) CreateJoinToken(ctx context.Context, ttl time.Duration) (string, error) {
	r.mu.Lock()
	r.ttl = ttl
	_, r.hadDL = ctx.Deadline()
	r.mu.Unlock()
	return r.fakeCluster.CreateJoinToken(ctx, ttl)
}

// Status blocks until the request deadline when blockStat is set; a
// request without a deadline fails the test through a distinct error.
func (r *recordingCluster) Status(ctx context.Context) (cluster.Status, error) {
	if !r.blockStat {
		return r.fakeCluster.Status(ctx)
	}
	if _, ok := ctx.Deadline(); !ok {
		return cluster.Status{}, errors.New("no deadline on the request context")
	}
	<-ctx.Done()
	return cluster.Status{}, fmt.Errorf("failed to read status: %w", ctx.Err())
}

var traceRE = regexp.MustCompile(`"fbtrace_id":"[^"]*"`)

func blankTrace(b []byte) string {
	return traceRE.ReplaceAllString(string(b), `"fbtrace_id":"-"`)
}

func TestEnvelopeExact(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"no token", "GET", "/admin/v1/cluster", "", "", 401,
			`{"error":{"message":"(#190) Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"error_data":{"messaging_product":"whatsapp","details":""},"fbtrace_id":"-"}}`},
		{"operator writes", "POST", "/admin/v1/cluster/transfer-leadership", "operator-tok", "", 403,
			`{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10,"error_data":{"messaging_product":"whatsapp","details":"an admin token is required"},"fbtrace_id":"-"}}`},
		{"unknown path", "GET", "/nope/nope", "", "", 400,
			`{"error":{"message":"(#100) Unknown path components","type":"OAuthException","code":100,"error_data":{"messaging_product":"whatsapp","details":""},"fbtrace_id":"-"}}`},
		{"missing node", "DELETE", "/admin/v1/cluster/nodes/n9", "admin-tok", "", 400,
			`{"error":{"message":"(#100) Unsupported get request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation","type":"GraphMethodException","code":100,"error_data":{"messaging_product":"whatsapp","details":"no cluster member has this id"},"fbtrace_id":"-"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := h.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status || blankTrace(b) != tc.want {
				t.Fatalf("got %d %s\nwant %d %s", resp.StatusCode, b, tc.status, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
			e := decodeEnvelope(t, b)
			if id := resp.Header.Get("X-Request-Id"); id == "" || id != e.Error.FBTraceID {
				t.Fatalf("X-Request-Id %q, fbtrace_id %q", id, e.Error.FBTraceID)
			}
		})
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	h := newHarness(t)
	_, a := h.do("GET", "/admin/v1/cluster", "", "")
	_, b := h.do("GET", "/admin/v1/cluster", "", "")
	if decodeEnvelope(t, a).Error.FBTraceID == decodeEnvelope(t, b).Error.FBTraceID {
		t.Fatal("two requests share a fbtrace_id")
	}
}

func TestClusterAdmin(t *testing.T) {
	h := newHarness(t)
	rc := &recordingCluster{fakeCluster: h.c}
	now := time.Unix(1_800_000_000, 0)
	h.app = web.New(web.Deps{Cluster: rc, Sealer: h.sealer, Now: func() time.Time { return now }})

	code, b := h.do("GET", "/admin/v1/cluster", "operator-tok", "")
	var st cluster.Status
	if code != 200 || json.Unmarshal(b, &st) != nil || st.NodeID != "n1" || len(st.Members) != 1 || !st.Members[0].Leader {
		t.Fatalf("status: %d %s", code, b)
	}

	for _, tc := range []struct {
		body  string
		code  int
		ttl   time.Duration
		gcode int
	}{
		{"", 200, 24 * time.Hour, 0},
		{`{}`, 200, 24 * time.Hour, 0},
		{`{"ttl_seconds":3600}`, 200, time.Hour, 0},
		{`{"ttl_seconds":604800}`, 200, 7 * 24 * time.Hour, 0},
		{`{"ttl_seconds":604801}`, 400, 0, 100},
		{`{"ttl_seconds":-5}`, 400, 0, 100},
		{`{"ttl_seconds":"1h"}`, 400, 0, 100},
		{`{"ttl":3600}`, 400, 0, 100},
	} {
		rc.ttl, rc.hadDL = 0, false
		code, b := h.do("POST", "/admin/v1/cluster/join-tokens", "admin-tok", tc.body)
		if code != tc.code {
			t.Fatalf("join-token %q: %d %s", tc.body, code, b)
		}
		if code != 200 {
			if e := decodeEnvelope(t, b); e.Error.Code != tc.gcode {
				t.Fatalf("join-token %q: code %d", tc.body, e.Error.Code)
			}
			if rc.ttl != 0 {
				t.Fatalf("join-token %q reached the cluster", tc.body)
			}
			continue
		}
		var out struct {
			JoinToken string `json:"join_token"`
			ExpiresAt int64  `json:"expires_at"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.JoinToken != "wjt1.test" || out.ExpiresAt != now.Add(tc.ttl).Unix() {
			t.Fatalf("join-token %q: %s", tc.body, b)
		}
		if rc.ttl != tc.ttl || !rc.hadDL {
			t.Fatalf("join-token %q: cluster got ttl %v deadline %v", tc.body, rc.ttl, rc.hadDL)
		}
	}

	if code, b := h.do("DELETE", "/admin/v1/cluster/nodes/n2", "admin-tok", ""); code != 200 || string(b) != `{"success":true}` {
		t.Fatalf("remove: %d %s", code, b)
	}
	if len(h.c.removed) != 1 || h.c.removed[0] != "n2" {
		t.Fatalf("removed %v", h.c.removed)
	}
	if code, b := h.do("POST", "/admin/v1/cluster/transfer-leadership", "admin-tok", ""); code != 200 || string(b) != `{"success":true}` {
		t.Fatalf("transfer: %d %s", code, b)
	}
}

func TestTenantListShape(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15557770000")
	code, b := h.do("GET", "/admin/v1/tenants", "admin-tok", "")
	var out struct {
		Data []map[string]any `json:"data"`
	}
	if code != 200 || json.Unmarshal(b, &out) != nil || len(out.Data) != 1 {
		t.Fatalf("list: %d %s", code, b)
	}
	want := map[string]any{"business_id": a["business_id"], "waba_id": a["waba_id"], "phone_number_id": a["phone_number_id"],
		"display_phone_number": "+15557770000", "name": "Acme"}
	if fmt.Sprint(out.Data[0]) != fmt.Sprint(want) {
		t.Fatalf("row %v, want exactly %v", out.Data[0], want)
	}
}

func TestRequestDeadline(t *testing.T) {
	h := newHarness(t)
	rc := &recordingCluster{fakeCluster: h.c, blockStat: true}
	h.app = web.New(web.Deps{Cluster: rc, Sealer: h.sealer, RequestTimeout: 20 * time.Millisecond})
	code, b := h.do("GET", "/admin/v1/cluster", "admin-tok", "")
	if code != 503 || decodeEnvelope(t, b).Error.Code != 2 {
		t.Fatalf("timed-out request: %d %s", code, b)
	}
}

func TestBodyLimitAndMethod(t *testing.T) {
	h := newHarness(t)
	// Bodies are streamed (for media uploads); withBodyLimit rejects an
	// oversized body of any other route from its Content-Length, once
	// fasthttp has prefetched the body's first 8 KiB. A real listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = h.app.Listener(ln) }()
	t.Cleanup(func() { _ = h.app.ShutdownWithTimeout(5 * time.Second); <-done })
	for _, tc := range []struct {
		size        int
		code, gcode int
	}{
		{4<<20 - 200, 400, 131008}, // within the limit: read, and found empty
		{4<<20 + 1, 413, 100},
	} {
		// Raw HTTP: the server answers 413 without reading the body and
		// closes, which an http.Client still writing the body reports as a
		// reset instead of the answer; here the body is written
		// concurrently and write errors are ignored.
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /admin/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-tok\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", tc.size)
		go func(size int) { _, _ = io.WriteString(conn, strings.Repeat(" ", size)) }(tc.size)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		_ = conn.Close()
		e := decodeEnvelope(t, b)
		if resp.StatusCode != tc.code || e.Error.Code != tc.gcode || resp.Header.Get("X-Request-Id") != e.Error.FBTraceID {
			t.Fatalf("body of %d bytes: %d %s", tc.size, resp.StatusCode, b)
		}
	}
	code, b := h.do("PUT", "/healthz", "", "")
	if code != 405 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("wrong method: %d %s", code, b)
	}
}

func TestConsole(t *testing.T) {
	h := newHarness(t)
	console := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html><title>waedge console</title>")},
		"app.js":     {Data: []byte("console.log(1)")},
	}
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Console: console})
	for _, tc := range []struct{ path, want string }{
		{"/console/", "waedge console"},
		{"/console/index.html", "waedge console"},
		{"/console/app.js", "console.log(1)"},
		{"/console/members/n2", "waedge console"}, // client-side route falls back to index.html
	} {
		resp, err := h.app.Test(httptest.NewRequest("GET", tc.path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, b)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("%s: CSP %q", tc.path, csp)
		}
	}
	// Without a console the path is just unknown.
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer})
	if code, b := h.do("GET", "/console/", "", ""); code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("no console: %d %s", code, b)
	}
}

// captureHandler keeps every log record as text.
type captureHandler struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(&c.buf, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&c.buf, " %s=%v", a.Key, a.Value)
		return true
	})
	c.buf.WriteByte('\n')
	return nil
}
func (c *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureHandler) WithGroup(string) slog.Handler      { return c }
func (c *captureHandler) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func TestAccessLogKeepsSecretsOut(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15558880000")
	logs := &captureHandler{}
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Logger: slog.New(logs)})

	if code, b := h.do("GET", "/v21.0/"+a["phone_number_id"]+"?fields=display_phone_number&phone=15550001111", a["access_token"], ""); code != 200 {
		t.Fatalf("get phone: %d %s", code, b)
	}
	h.c.Fail(errors.New("bbolt: disk on fire"))
	if code, _ := h.do("POST", "/admin/v1/tenants", "admin-tok", `{"name":"Secret Name","phone":"+15559990000"}`); code != 500 {
		t.Fatalf("internal failure answered %d", code)
	}
	out := logs.String()
	for _, secret := range []string{a["access_token"], "admin-tok", a["phone_number_id"], "15550001111", "15559990000", "Secret Name", "fields="} {
		if strings.Contains(out, secret) {
			t.Fatalf("log carries %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"method=GET", "status=200", "latency=", "route=/:node", "disk on fire", "status=500"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestForeignIDIsIndistinguishable compares raw answers: another business's
// phone number id and a missing id differ only in the id the caller sent
// (echoed in details, as Graph does) and the trace id.
func TestForeignIDIsIndistinguishable(t *testing.T) {
	h := newHarness(t)
	mine := h.createTenant("+15556660000")
	other := h.createTenant("+15556660001")
	missing := "100000000000000"
	if len(missing) != len(other["phone_number_id"]) {
		t.Fatalf("test ids differ in length: %q %q", missing, other["phone_number_id"])
	}
	answer := func(id string) (int, string, http.Header) {
		req := httptest.NewRequest("GET", "/v21.0/"+id+"?fields=id,display_phone_number", nil)
		req.Header.Set("Authorization", "Bearer "+mine["access_token"])
		resp, err := h.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Header.Del("X-Request-Id")
		resp.Header.Del("Date")
		return resp.StatusCode, strings.ReplaceAll(blankTrace(b), id, "ID"), resp.Header
	}
	cf, bf, hf := answer(other["phone_number_id"])
	cm, bm, hm := answer(missing)
	if cf != 400 || cf != cm || bf != bm || fmt.Sprint(hf) != fmt.Sprint(hm) {
		t.Fatalf("foreign and missing ids answer differently:\n%d %v %s\n%d %v %s", cf, hf, bf, cm, hm, bm)
	}
	if !strings.Contains(bf, `"code":100`) || !strings.Contains(bf, "GraphMethodException") {
		t.Fatalf("not the ErrObjectNotFound envelope: %s", bf)
	}
}
