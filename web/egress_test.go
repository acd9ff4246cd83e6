package web_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/web"
)

// loopback is the egress policy of tests whose webhook receivers run on
// 127.0.0.1: the range is allowed explicitly, never by default.
var loopback = egress.New(egress.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

// TestCallbackVerificationUniformError: whatever makes a callback fail —
// refused by the egress policy, connection refused, an error status, a
// wrong challenge, a redirect — the subscription gets the very same Graph
// error and nothing is stored; refused receivers are never contacted.
func TestCallbackVerificationUniformError(t *testing.T) {
	var hits atomic.Int64
	echo := func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}
	good := httptest.NewServer(http.HandlerFunc(echo))
	defer good.Close()
	serve := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	wrong := serve(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("nope")) })
	status := serve(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	redirect := serve(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, good.URL+"/?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(good.Listener.Addr().String())

	h := newHarness(t)
	a := h.createTenant("+15550003100")
	path := "/v21.0/" + a["waba_id"] + "/subscribed_apps"
	subscribe := func(callback string) (int, envelope) {
		t.Helper()
		code, out := h.do("POST", path, a["access_token"], `{"override_callback_uri":"`+callback+`","verify_token":"tok"}`)
		if code == 200 {
			return code, envelope{}
		}
		e := decodeEnvelope(t, out)
		e.Error.FBTraceID = ""
		return code, e
	}

	// The default policy: internal receivers, however spelled, are refused
	// before any connection.
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer})
	wantCode, want := subscribe(good.URL)
	if wantCode != 400 || want.Error.Code != 2200 {
		t.Fatalf("refused callback: %d %+v", wantCode, want)
	}
	cases := []string{good.URL, "http://localhost:" + port, "http://[::1]:" + port, "http://[::ffff:127.0.0.1]:" + port,
		"http://169.254.169.254/latest/meta-data", "http://10.0.0.1:" + port, "http://0.0.0.0:" + port}
	for _, cb := range cases {
		if code, e := subscribe(cb); code != wantCode || e != want {
			t.Errorf("%s: %d %+v, want %d %+v", cb, code, e, wantCode, want)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("a refused receiver was contacted %d times", hits.Load())
	}
	// Allowed range: unreachable, error status, wrong answer and redirect
	// answer exactly the same.
	h.withApp()
	for _, cb := range []string{closed, status, wrong, redirect} {
		if code, e := subscribe(cb); code != wantCode || e != want {
			t.Errorf("%s: %d %+v, want %d %+v", cb, code, e, wantCode, want)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("the verification followed a redirect")
	}
	if _, err := h.c.FSM().Subscription(a["waba_id"]); err == nil {
		t.Fatal("a failed verification stored a subscription")
	}
	// And the allowed receiver itself passes.
	if code, e := subscribe(good.URL); code != 200 || hits.Load() != 1 {
		t.Fatalf("allowed receiver: %d %+v", code, e)
	}
}
