package web_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/web"
)

// TestRequestVerifyCode: request_code (query parameters, as Meta's
// example) makes the number NOT_VERIFIED and shows the pending code to
// the business's admins only; wrong codes answer 136025 and the fifth
// voids the code; requests are rate limited with 136024; an expired code
// answers 136025 and shows EXPIRED; the right code makes the number
// VERIFIED. Another business's number answers like a missing one and
// changes nothing.
func TestRequestVerifyCode(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Egress: loopback, Now: clock})
	a := h.createTenant("+15550038300")
	b := h.createTenant("+15550038400")
	tok, pn := a["access_token"], "/v21.0/"+a["phone_number_id"]
	bAdmin := h.mintBusinessAdmin(a["business_id"])

	status := func() string {
		t.Helper()
		code, out := h.do("GET", pn+"?fields=code_verification_status", tok, "")
		var v struct {
			S string `json:"code_verification_status"`
		}
		if code != 200 || json.Unmarshal(out, &v) != nil {
			t.Fatalf("status: %d %s", code, out)
		}
		code, out = h.do("GET", "/v21.0/"+a["waba_id"]+"/phone_numbers", tok, "")
		if code != 200 || !strings.Contains(string(out), `"code_verification_status":"`+v.S+`"`) {
			t.Fatalf("phone list disagrees with %s: %s", v.S, out)
		}
		return v.S
	}
	pending := func() (code string) {
		t.Helper()
		c, out := h.do("GET", "/admin/v1/businesses/"+a["business_id"]+"/verification-codes", bAdmin, "")
		var v struct {
			Data []struct {
				PhoneNumberID string `json:"phone_number_id"`
				Code          string `json:"code"`
				Method        string `json:"code_method"`
			} `json:"data"`
		}
		if c != 200 || json.Unmarshal(out, &v) != nil || len(v.Data) > 1 {
			t.Fatalf("verification codes: %d %s", c, out)
		}
		if len(v.Data) == 0 {
			return ""
		}
		if v.Data[0].PhoneNumberID != a["phone_number_id"] || len(v.Data[0].Code) != 6 {
			t.Fatalf("verification codes: %s", out)
		}
		return v.Data[0].Code
	}
	expect := func(what, path, body string, status, gcode int) {
		t.Helper()
		c, out := h.do("POST", path, tok, body)
		if c != status || (gcode != 0 && decodeEnvelope(t, out).Error.Code != gcode) {
			t.Fatalf("%s: %d %s, want %d code %d", what, c, out, status, gcode)
		}
	}

	if s := status(); s != "VERIFIED" {
		t.Fatalf("a new number is %s", s)
	}
	expect("verify before any request", pn+"/verify_code", `{"code":"123456"}`, 400, 136025)
	expect("no code_method", pn+"/request_code?language=en_US", "", 400, 100)
	expect("bad code_method", pn+"/request_code?code_method=EMAIL&language=en_US", "", 400, 100)
	expect("no language", pn+"/request_code?code_method=SMS", "", 400, 100)
	if pending() != "" || status() != "VERIFIED" {
		t.Fatal("a refused request changed the state")
	}
	expect("request", pn+"/request_code?code_method=SMS&language=en_US", "", 200, 0)
	first := pending()
	if first == "" || status() != "NOT_VERIFIED" {
		t.Fatalf("after request: code %q status %s", first, status())
	}
	// The operator does not see codes; another business's admin sees none of A's.
	if c, _ := h.do("GET", "/admin/v1/businesses/"+a["business_id"]+"/verification-codes", "operator-tok", ""); c != 403 {
		t.Fatalf("operator reads codes: %d", c)
	}
	if c, out := h.do("GET", "/admin/v1/businesses/"+a["business_id"]+"/verification-codes", h.mintBusinessAdmin(b["business_id"]), ""); c != 400 || strings.Contains(string(out), first) {
		t.Fatalf("another business's admin reads codes: %d %s", c, out)
	}
	// Another business's token: like a missing number, nothing changes.
	for _, p := range []string{"/request_code?code_method=SMS&language=en_US", "/verify_code?code=" + first} {
		if c, out := h.do("POST", pn+p, b["access_token"], ""); c != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("foreign %s: %d %s", p, c, out)
		}
	}
	if pending() != first || status() != "NOT_VERIFIED" {
		t.Fatal("a foreign call changed the state")
	}
	expect("second request within a minute", pn+"/request_code", `{"code_method":"VOICE","language":"de"}`, 400, 136024)
	if pending() != first {
		t.Fatal("a rate-limited request replaced the code")
	}
	wrong := "000000"
	if first == wrong {
		wrong = "111111"
	}
	for i := 1; i < 5; i++ {
		expect("wrong code", pn+"/verify_code", `{"code":"`+wrong+`"}`, 400, 136025)
	}
	expect("fifth wrong code", pn+"/verify_code", "code="+wrong, 400, 136025)
	if pending() != "" {
		t.Fatal("five wrong codes left the code live")
	}
	expect("right code after it was voided", pn+"/verify_code", `{"code":"`+first+`"}`, 400, 136025)

	advance(time.Minute)
	expect("new request", pn+"/request_code", `code_method=VOICE&language=pt_BR`, 200, 0)
	second := pending()
	advance(10 * time.Minute)
	if s := status(); s != "EXPIRED" || pending() != "" {
		t.Fatalf("after ten minutes: %s", s)
	}
	expect("expired code", pn+"/verify_code", `{"code":"`+second+`"}`, 400, 136025)

	advance(time.Minute)
	expect("third request", pn+"/request_code?code_method=SMS&language=en", "", 200, 0)
	expect("right code", pn+"/verify_code?code="+pending(), "", 200, 0)
	if s := status(); s != "VERIFIED" || pending() != "" {
		t.Fatalf("after verification: %s", s)
	}
}
