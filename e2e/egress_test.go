package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an HTTP listener on one loopback address that counts the
// requests it gets; it answers a verification handshake and serves a PNG.
type recorder struct {
	url  string
	hits atomic.Int64
}

func newRecorder(t *testing.T, ip string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	r := &recorder{url: "http://" + ln.Addr().String()}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2000)...)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if c := req.URL.Query().Get("hub.challenge"); c != "" {
			_, _ = w.Write([]byte(c))
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// egressTenant starts a node with extra flags, creates a business and has
// a hosted phone of the embedded sandbox write to it (opening the window).
func egressTenant(t *testing.T, name, phone, consumer string, flags ...string) (*proc, tenantCreated, string) {
	t.Helper()
	p := newProc(t, name, flags...)
	p.start()
	p.waitReady(20 * time.Second)
	var ten tenantCreated
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code, err := doJSON(ctx, "POST", p.url("/admin/v1/tenants"), p.adminToken(),
		map[string]string{"name": name, "phone": "+" + phone}, &ten); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	rl := sandboxOf(t, p)
	sandbox(t, rl, nil, "create", "--number", consumer, "--name", "Eve")
	waitFor(t, "the phone reaches the business", 30*time.Second, func() bool {
		_, _, err := cli(t, append([]string{"sandbox", "phone", "send", "--number", consumer, "--to", phone, "--text", "hi"}, rl.flags()...)...)
		return err == nil
	})
	return p, ten, rl.addr
}

// graphError is a Graph error envelope without its per-request trace id.
type graphError struct {
	Message, Type string
	Code          int
	ErrorData     struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string
	} `json:"error_data"`
}

// subscribe asks for a callback and returns the status and error.
func subscribe(t *testing.T, p *proc, ten tenantCreated, callback string) (int, graphError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"override_callback_uri": callback, "verify_token": "v"})
	req, _ := http.NewRequestWithContext(ctx, "POST", p.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ten.AccessToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("subscribe %s: %v", callback, err)
	}
	defer resp.Body.Close()
	var out struct{ Error graphError }
	if resp.StatusCode != 200 {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("subscribe %s: %d, not an error envelope: %v", callback, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out.Error
}

// sendLink sends an image by link and returns its wamid (the send must be
// accepted whatever the link).
func sendLink(t *testing.T, p *proc, ten tenantCreated, to, link string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resp struct{ Messages []struct{ ID string } }
	code, err := doJSON(ctx, "POST", p.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken,
		map[string]any{"messaging_product": "whatsapp", "to": to, "type": "image", "image": map[string]string{"link": link}}, &resp)
	if err != nil || code != 200 || len(resp.Messages) != 1 {
		t.Fatalf("send link %s: %d %v", link, code, err)
	}
	return resp.Messages[0].ID
}

// TestBlackBoxEgressRefusedByDefault: a node started without --egress-allow
// never contacts a listener on 127.0.0.1 — not for a callback subscription
// (refused with the one uniform error, like every other internal or
// unreachable callback, and nothing stored) and not for a media link (the
// send is accepted, then the message fails).
func TestBlackBoxEgressRefusedByDefault(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1")
	const business, consumer = "15550007100", "4915200007100"
	p, ten, relay := egressTenant(t, "closed", business, consumer)

	code, want := subscribe(t, p, ten, rec.url+"/hook")
	if code != 400 || want.Code != 2200 {
		t.Fatalf("subscription to 127.0.0.1: %d %+v", code, want)
	}
	_, port, _ := net.SplitHostPort(rec.url[len("http://"):])
	for _, cb := range []string{"http://localhost:" + port, "http://[::1]:" + port, "http://[::ffff:127.0.0.1]:" + port,
		"http://169.254.169.254/latest/meta-data/", p.url("/healthz"), "http://" + relay + "/", "http://127.0.0.1:1/"} {
		if c, e := subscribe(t, p, ten, cb); c != code || e != want {
			t.Errorf("subscription to %s: %d %+v, want %d %+v", cb, c, e, code, want)
		}
	}
	var subs struct{ Data []json.RawMessage }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := doJSON(ctx, "GET", p.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken, nil, &subs); err != nil || c != 200 || len(subs.Data) != 0 {
		t.Fatalf("subscriptions after refusals: %d %v %d", c, err, len(subs.Data))
	}

	sendLink(t, p, ten, consumer, rec.url+"/x.png")
	// No receiver can be subscribed here: the statistics show the failure.
	waitFor(t, "the image message failed", 30*time.Second, func() bool {
		var st struct {
			Data []struct{ Direction, Type, Status string }
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c, err := doJSON(ctx, "GET", p.url("/admin/v1/stats"), p.adminToken(), nil, &st); err != nil || c != 200 {
			return false
		}
		return slices.ContainsFunc(st.Data, func(r struct{ Direction, Type, Status string }) bool {
			return r.Type == "image" && r.Status == "failed"
		})
	})
	if n := rec.hits.Load(); n != 0 {
		t.Fatalf("the listener on 127.0.0.1 was contacted %d times", n)
	}
}

// TestBlackBoxEgressAllowList: with --egress-allow 127.0.0.1/32 the
// receiver and a media server on 127.0.0.1 are reached, while a media
// server on 127.0.0.3 (outside the range) and the node's own HTTP and relay
// addresses (inside it) are not: those sends are accepted, then fail with 131053 by webhook.
func TestBlackBoxEgressAllowList(t *testing.T) {
	hook := newRawHook(t)
	media := newRecorder(t, "127.0.0.1")
	inside := newRecorder(t, "127.0.0.3")
	const business, consumer = "15550007200", "4915200007200"
	p, ten, relay := egressTenant(t, "open", business, consumer, "--egress-allow", "127.0.0.1/32")

	if code, e := subscribe(t, p, ten, hook.srv.URL); code != 200 {
		t.Fatalf("subscription to the allowed receiver: %d %+v", code, e)
	}
	// The node's own HTTP address is in the allowed range and still refused.
	if code, e := subscribe(t, p, ten, p.url("/healthz")); code != 400 || e.Code != 2200 {
		t.Fatalf("subscription to the node itself: %d %+v", code, e)
	}
	failedWith := func(wamid string) int {
		code := 0
		hook.find(func(e hookEvent) bool {
			for _, s := range e.Statuses {
				if s.ID == wamid && s.Status == "failed" && len(s.Errors) > 0 {
					code = s.Errors[0].Code
				}
			}
			return code != 0
		})
		return code
	}
	// The node's and its relay's health endpoints answer 200 to anyone: a
	// fetch that reached them would be delivered, not failed.
	for _, link := range []string{inside.url + "/x.png", "http://" + relay + "/healthz", p.url("/healthz")} {
		wamid := sendLink(t, p, ten, consumer, link)
		waitFor(t, "failed status of "+link, 30*time.Second, func() bool { return failedWith(wamid) != 0 })
		if c := failedWith(wamid); c != 131053 {
			t.Fatalf("%s failed with %d, want 131053", link, c)
		}
	}
	if n := inside.hits.Load(); n != 0 {
		t.Fatalf("the media server on 127.0.0.3 was contacted %d times", n)
	}
	wamid := sendLink(t, p, ten, consumer, media.url+"/x.png")
	waitFor(t, "the allowed image is delivered", 30*time.Second, func() bool { return hook.status(wamid, "delivered") })
	if media.hits.Load() == 0 {
		t.Fatal("the allowed media server was not contacted")
	}
}

// TestEgressAllowFlagValidated: a malformed --egress-allow stops the node
// before it starts (exit 2), naming the flag.
func TestEgressAllowFlagValidated(t *testing.T) {
	_, stderr, err := cli(t, "serve", "--data-dir", t.TempDir(), "--http-addr", freeAddr(t), "--egress-allow", "10.0.0.0/8,nonsense")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr, "--egress-allow") {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
}
