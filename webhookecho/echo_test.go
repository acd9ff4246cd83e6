package webhookecho

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEcho: the handshake is answered only with the right verify token;
// a correctly signed event is printed on one line; an unsigned or wrongly
// signed one is refused and not printed.
func TestEcho(t *testing.T) {
	var out, log bytes.Buffer
	srv := httptest.NewServer(Handler("tok", "s3cr3t", &out, &log))
	defer srv.Close()
	get := func(q string) (int, string) {
		resp, err := http.Get(srv.URL + "/hook?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=12345"); code != 200 || body != "12345" {
		t.Fatalf("handshake: %d %q", code, body)
	}
	if code, body := get("hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345"); code != 403 || strings.Contains(body, "12345") {
		t.Fatalf("wrong token: %d %q", code, body)
	}
	post := func(body, sig string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/hook", strings.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	event := `{"object":"whatsapp_business_account","entry":[]}`
	m := hmac.New(sha256.New, []byte("s3cr3t"))
	m.Write([]byte(event))
	good := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if code := post(event, good); code != 200 {
		t.Fatalf("signed event: %d", code)
	}
	if code := post(`{"forged":true}`, good); code != 401 {
		t.Fatalf("wrong signature: %d", code)
	}
	if code := post(event, ""); code != 401 {
		t.Fatalf("no signature: %d", code)
	}
	if out.String() != event+"\n" {
		t.Fatalf("printed %q", out.String())
	}
	if !strings.Contains(log.String(), "refused") {
		t.Fatalf("log %q", log.String())
	}
}
