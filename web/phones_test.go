package web_test

import (
	"strings"
	"testing"
	"time"
)

func TestPhoneNumbers(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550008000")
	b := h.createTenant("+15550009000")
	pn, tok := a["phone_number_id"], a["access_token"]

	code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"/phone_numbers", tok, "")
	if code != 200 || !strings.Contains(string(out), `"id":"`+pn+`"`) || !strings.Contains(string(out), `"quality_rating":"GREEN"`) {
		t.Fatalf("list: %d %s", code, out)
	}
	code, out = h.do("GET", "/v21.0/"+pn+"?fields=status,is_pin_enabled", tok, "")
	if code != 200 || string(out) != `{"id":"`+pn+`","is_pin_enabled":false,"status":"CONNECTED"}` {
		t.Fatalf("fields: %d %s", code, out)
	}
	if code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"/phone_numbers", b["access_token"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign list: %d %s", code, out)
	}

	// Deregistered numbers cannot send (133010); registering sets the PIN.
	h.openWindow(pn, "15551234567", time.Now())
	send := func() (int, []byte) {
		return h.do("POST", "/v21.0/"+pn+"/messages", tok, `{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`)
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/deregister", tok, `{"messaging_product":"whatsapp"}`); code != 200 {
		t.Fatalf("deregister: %d %s", code, out)
	}
	if code, out := send(); code != 400 || decodeEnvelope(t, out).Error.Code != 133010 {
		t.Fatalf("send while deregistered: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/register", tok, `{"messaging_product":"whatsapp","pin":"12345"}`); code != 400 || decodeEnvelope(t, out).Error.Code != 131009 {
		t.Fatalf("short pin: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/register", tok, `{"messaging_product":"whatsapp","pin":"123456"}`); code != 200 {
		t.Fatalf("register: %d %s", code, out)
	}
	if code, out := send(); code != 200 {
		t.Fatalf("send after register: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/register", tok, `{"messaging_product":"whatsapp","pin":"654321"}`); code != 400 || decodeEnvelope(t, out).Error.Code != 133005 {
		t.Fatalf("wrong pin: %d %s", code, out)
	}
	// Two-step PIN change, then the new PIN registers.
	if code, out := h.do("POST", "/v21.0/"+pn, tok, `{"pin":"111111"}`); code != 200 {
		t.Fatalf("set pin: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/register", tok, `{"messaging_product":"whatsapp","pin":"111111"}`); code != 200 {
		t.Fatalf("register with new pin: %d %s", code, out)
	}
	// 10 register/deregister calls per 72 h (4 so far, the wrong PIN counts), then 133016.
	for i := 0; i < 6; i++ {
		if code, out := h.do("POST", "/v21.0/"+pn+"/deregister", tok, ""); code != 200 {
			t.Fatalf("deregister %d: %d %s", i, code, out)
		}
	}
	if code, out := h.do("POST", "/v21.0/"+pn+"/register", tok, `{"messaging_product":"whatsapp","pin":"111111"}`); code != 400 || decodeEnvelope(t, out).Error.Code != 133016 {
		t.Fatalf("rate limit: %d %s", code, out)
	}

	// Business profile.
	url := "/v21.0/" + pn + "/whatsapp_business_profile"
	if code, out := h.do("POST", url, tok, `{"messaging_product":"whatsapp","about":"We sell","websites":["https://a.com"],"vertical":"RETAIL"}`); code != 200 {
		t.Fatalf("profile update: %d %s", code, out)
	}
	code, out = h.do("GET", url, tok, "")
	if code != 200 || !strings.Contains(string(out), `"about":"We sell"`) || !strings.Contains(string(out), `"vertical":"RETAIL"`) {
		t.Fatalf("profile: %d %s", code, out)
	}
	for _, bad := range []string{
		`{"messaging_product":"whatsapp","about":""}`,
		`{"messaging_product":"whatsapp","websites":["a","b","c"]}`,
		`{"messaging_product":"whatsapp","vertical":"SPACE"}`,
		`{"messaging_product":"whatsapp","colour":"red"}`,
	} {
		if code, out := h.do("POST", url, tok, bad); code != 400 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
	if code, _ := h.do("GET", url, b["access_token"], ""); code != 400 {
		t.Fatal("foreign profile visible")
	}
}
