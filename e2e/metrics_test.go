package e2e

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// scrape GETs url with token (none when empty) and returns status and body.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBlackBoxMetrics: a node with traffic (a business, an inbound and an
// outbound message) serves /metrics on its HTTP port to the admin token
// only and on --metrics-addr without a token, and no business name,
// consumer or business number, phone-number id, token or message text
// appears anywhere in it.
func TestBlackBoxMetrics(t *testing.T) {
	const name, business, consumer = "Metrics Pickle Bakery", "15550007300", "4915200007300"
	const text = "herring-and-gherkins-secret-text"
	metricsAddr := freeAddr(t)
	p, ten, _ := egressTenant(t, name, business, consumer, "--metrics-addr", metricsAddr)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code, err := doJSON(ctx, "POST", p.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken, map[string]any{
		"messaging_product": "whatsapp", "to": consumer, "type": "text", "text": map[string]string{"body": text}}, nil); err != nil || code != 200 {
		t.Fatalf("send: %d %v", code, err)
	}

	if code, _ := scrape(t, p.url("/metrics"), ""); code != 401 {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code, _ := scrape(t, p.url("/metrics"), ten.AccessToken); code != 403 {
		t.Errorf("/metrics with a business API token: %d, want 403", code)
	}
	var body string
	waitFor(t, "outbound and inbound text messages counted", 20*time.Second, func() bool {
		code, b := scrape(t, p.url("/metrics"), p.adminToken())
		body = b
		return code == 200 && strings.Contains(b, `waedge_messages_total{direction="out",status="accepted",type="text"}`) &&
			strings.Contains(b, `waedge_messages_total{direction="in",status="received",type="text"}`)
	})
	code, open := scrape(t, "http://"+metricsAddr+"/metrics", "")
	if code != 200 {
		t.Fatalf("--metrics-addr: %d", code)
	}
	for _, want := range []string{"waedge_http_requests_total{method=\"POST\",route=\"/:node/messages\",status=\"200\"}",
		"waedge_raft_state{state=\"leader\"} 1", "waedge_fsm_bytes", "waedge_signal_sessions", "go_goroutines"} {
		if !strings.Contains(open, want) {
			t.Errorf("metrics lack %s:\n%s", want, open)
		}
	}
	for _, page := range []string{body, open} {
		for _, secret := range []string{name, "Pickle", business, consumer, ten.PhoneNumberID, ten.WABAID, ten.BusinessID,
			ten.AccessToken, p.adminToken(), text} {
			if strings.Contains(page, secret) {
				t.Errorf("metrics contain %q", secret)
			}
		}
	}
}

// TestMetricsAddrLoopbackOnly: --metrics-addr serves without a token, so a
// non-loopback address is refused at start unless explicitly allowed.
func TestMetricsAddrLoopbackOnly(t *testing.T) {
	out, err := exec.Command(binary, "serve", "--data-dir", t.TempDir(), "--metrics-addr", "0.0.0.0:0").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "loopback") {
		t.Fatalf("non-loopback --metrics-addr: %v\n%s", err, out)
	}
}
