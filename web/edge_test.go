package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/web"
)

// serveEdge serves the harness's cluster with d on a real listener and
// returns its address; logs go to the returned buffer.
func serveEdge(t *testing.T, h *harness, d web.Deps) (string, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	d.Cluster, d.Sealer = h.c, h.sealer
	d.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := web.New(d)
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second); <-done })
	return ln.Addr().String(), logs
}

type edgeResp struct {
	code   int
	header http.Header
	body   []byte
	err    error
}

// send writes head and then body over a fresh connection and reads the
// answer within 10 s. The connection stays open until the answer came,
// whatever of the body was sent.
func send(addr, head string, body io.Reader) edgeResp {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return edgeResp{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return edgeResp{err: err}
	}
	if body != nil {
		go func() { _, _ = io.Copy(conn, body) }()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return edgeResp{err: err}
	}
	b, err := io.ReadAll(resp.Body)
	return edgeResp{code: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func head(method, path, token string, contentLength int, extra ...string) string {
	h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, contentLength)
	if token != "" {
		h += "Authorization: Bearer " + token + "\r\n"
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

// TestRefusedBeforeBody: a request whose token or role is refused is
// answered from its headers while most of its announced 4 MiB body never
// comes — nothing waits for (or buffers) the body of a caller not
// admitted. (fasthttp reads up to 8 KiB of a body before any handler
// runs, so 16 KiB are sent.)
func TestRefusedBeforeBody(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550040000")
	addr, _ := serveEdge(t, h, web.Deps{})
	msgs := "/v21.0/" + a["phone_number_id"] + "/messages"
	cases := []struct {
		name, path, token string
		status, code      int
	}{
		{"graph, no token", msgs, "", 401, 190},
		{"graph, unknown token", msgs, "nope", 401, 190},
		{"graph, admin token", msgs, "admin-tok", 403, 10},
		{"admin, no token", "/admin/v1/tenants", "", 401, 190},
		{"admin, API token", "/admin/v1/tenants", a["access_token"], 403, 10},
		{"admin, operator on an admin-only route", "/admin/v1/tenants", "operator-tok", 403, 10},
	}
	var wg sync.WaitGroup
	results := make([]edgeResp, len(cases))
	took := make([]time.Duration, len(cases))
	for i, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			pr, pw := io.Pipe()
			defer pw.Close()
			go func() { _, _ = pw.Write(make([]byte, 16<<10)) }()
			results[i] = send(addr, head("POST", tc.path, tc.token, 4<<20), pr)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, tc := range cases {
		r := results[i]
		if r.err != nil {
			t.Errorf("%s: no answer without the body: %v", tc.name, r.err)
			continue
		}
		if r.code != tc.status || decodeEnvelope(t, r.body).Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d code %d", tc.name, r.code, r.body, tc.status, tc.code)
		}
		if took[i] > 5*time.Second {
			t.Errorf("%s: answered after %v", tc.name, took[i])
		}
	}
}

// TestBodyBudget: request bodies in flight share one budget. While one
// admitted request holds 64 KiB of a 96 KiB budget, another of 48 KiB is
// refused with 503 code 2 and Retry-After; once the first finished, the
// second passes. A body larger than the whole budget is always refused.
func TestBodyBudget(t *testing.T) {
	h := newHarness(t)
	addr, _ := serveEdge(t, h, web.Deps{MaxBodyInFlight: 96 << 10})
	pad := func(json string, size int) string { return json + strings.Repeat(" ", size-len(json)) }

	first := pad(`{"name":"Budget","phone":"+15550041000"}`, 64<<10)
	second := pad(`{"ttl_seconds":3600}`, 48<<10)
	// The first request's body is held back after 40 KiB, so once admitted
	// it keeps its 64 KiB reserved. A probe admitted just before it would
	// make it the refused one instead: then it starts over.
	var (
		pw      *io.PipeWriter
		answer  chan edgeResp
		refused edgeResp
	)
	deadline := time.Now().Add(20 * time.Second)
	for refused.code != 503 {
		if time.Now().After(deadline) {
			t.Fatalf("a second body was never refused while the first held the budget: %d %s %v", refused.code, refused.body, refused.err)
		}
		if answer == nil {
			var pr *io.PipeReader
			pr, pw = io.Pipe()
			answer = make(chan edgeResp, 1)
			go func(answer chan<- edgeResp) {
				answer <- send(addr, head("POST", "/admin/v1/tenants", "admin-tok", len(first)), pr)
			}(answer)
			if _, err := io.WriteString(pw, first[:40<<10]); err != nil {
				t.Fatal(err)
			}
		}
		refused = send(addr, head("POST", "/admin/v1/cluster/join-tokens", "admin-tok", len(second)), strings.NewReader(second))
		select {
		case r := <-answer:
			if r.code != 503 {
				t.Fatalf("the first request ended early: %d %s %v", r.code, r.body, r.err)
			}
			_ = pw.Close()
			answer, refused = nil, edgeResp{} // refused because a probe held the budget: again
		default:
		}
	}
	if decodeEnvelope(t, refused.body).Error.Code != 2 || refused.header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %v %s", refused.code, refused.header, refused.body)
	}

	if _, err := io.WriteString(pw, first[40<<10:]); err != nil {
		t.Fatal(err)
	}
	if r := <-answer; r.err != nil || r.code != 200 {
		t.Fatalf("the request holding the budget: %d %s %v", r.code, r.body, r.err)
	}
	if r := send(addr, head("POST", "/admin/v1/cluster/join-tokens", "admin-tok", len(second)), strings.NewReader(second)); r.code != 200 {
		t.Fatalf("after the budget was given back: %d %s %v", r.code, r.body, r.err)
	}
	whole := pad(`{"ttl_seconds":3600}`, 100<<10)
	if r := send(addr, head("POST", "/admin/v1/cluster/join-tokens", "admin-tok", len(whole)), strings.NewReader(whole)); r.code != 503 {
		t.Fatalf("a body over the whole budget: %d %s %v", r.code, r.body, r.err)
	}
}

// TestHeaderTooLarge: a head over 8 KiB is answered 431 in the Graph
// envelope and logs no error; one just under passes.
func TestHeaderTooLarge(t *testing.T) {
	h := newHarness(t)
	addr, logs := serveEdge(t, h, web.Deps{})
	r := send(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("a", 9000)+"\r\n\r\n", nil)
	if r.err != nil || r.code != 431 || decodeEnvelope(t, r.body).Error.Code != 100 {
		t.Fatalf("9000-byte header: %d %s %v", r.code, r.body, r.err)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("an oversized header logged an error:\n%s", logs.String())
	}
	r = send(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("a", 7000)+"\r\n\r\n", nil)
	if r.err != nil || r.code != 200 {
		t.Fatalf("7000-byte header: %d %s %v", r.code, r.body, r.err)
	}
}

// TestEncodedBodies: gzip and deflate bodies are decoded within the body
// limit (a small bomb is refused with 413, not inflated into memory);
// broken or trailing encoded data is 400; an encoding waedge does not
// decode is 415.
func TestEncodedBodies(t *testing.T) {
	h := newHarness(t)
	addr, _ := serveEdge(t, h, web.Deps{})
	encode := func(s string, newWriter func(io.Writer) io.WriteCloser) string {
		var b bytes.Buffer
		w := newWriter(&b)
		_, _ = io.WriteString(w, s)
		_ = w.Close()
		return b.String()
	}
	gz := func(s string) string {
		return encode(s, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
	}
	deflate := func(s string) string {
		return encode(s, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
	}
	post := func(body, encoding string) edgeResp {
		return send(addr, head("POST", "/admin/v1/tenants", "admin-tok", len(body), "Content-Encoding: "+encoding), strings.NewReader(body))
	}
	if r := post(gz(`{"name":"Zipped","phone":"+15550042000"}`), "gzip"); r.code != 200 {
		t.Fatalf("gzip JSON: %d %s %v", r.code, r.body, r.err)
	}
	bomb := gz(`{"name":"` + strings.Repeat("a", 64<<20) + `"}`)
	if r := post(bomb, "gzip"); r.code != 413 || decodeEnvelope(t, r.body).Error.Code != 100 {
		t.Fatalf("gzip of 64 MiB (%d bytes sent): %d %s %v", len(bomb), r.code, r.body, r.err)
	}
	if r := post("{}", "br"); r.code != 415 || decodeEnvelope(t, r.body).Error.Code != 100 {
		t.Fatalf("brotli: %d %s %v", r.code, r.body, r.err)
	}
	if r := post("not gzip at all", "gzip"); r.code != 400 || decodeEnvelope(t, r.body).Error.Code != 100 {
		t.Fatalf("broken gzip: %d %s %v", r.code, r.body, r.err)
	}
	if r := post(deflate(`{"name":"Deflated","phone":"+15550042001"}`), "deflate"); r.code != 200 {
		t.Fatalf("deflate JSON: %d %s %v", r.code, r.body, r.err)
	}
	// Bytes after the deflate stream's end are refused, not left for the
	// connection's next request.
	trailing := deflate(`{"name":"Trailing","phone":"+15550042002"}`) + "GET /healthz HTTP/1.1\r\n\r\n"
	if r := post(trailing, "deflate"); r.code != 400 || decodeEnvelope(t, r.body).Error.Code != 100 {
		t.Fatalf("deflate with trailing bytes: %d %s %v", r.code, r.body, r.err)
	}
}

// TestPagingLinksUsePublicURL: paging links are built on Deps.PublicURL
// (with its path prefix), not on the request's Host.
func TestPagingLinksUsePublicURL(t *testing.T) {
	h := newHarness(t)
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, PublicURL: "https://wa.example.com/edge/"})
	a := h.createTenant("+15550043000")
	for _, n := range []string{"t_a", "t_b"} {
		h.createTemplate(a["access_token"], a["waba_id"], n, "en_US", "Hi")
	}
	p := h.page("/v21.0/"+a["waba_id"]+"/message_templates?limit=1", a["access_token"]) // Host: example.com
	u, err := url.Parse(p.Paging.Next)
	if err != nil || u.Scheme != "https" || u.Host != "wa.example.com" || u.Path != "/edge/v21.0/"+a["waba_id"]+"/message_templates" {
		t.Fatalf("next link %q", p.Paging.Next)
	}
}
