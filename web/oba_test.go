package web_test

import (
	"strings"
	"testing"
)

// TestOfficialBusinessAccount: a number requests the Official Business
// Account badge (Meta's parameters, as JSON or a query), an operator
// rejects it — account_alerts OBA_REJECTED, a new request within 30 days
// refused — and, for another number, approves it: OBA_APPROVED and
// is_official_business_account true. Bad requests are 100 and change
// nothing; another business's number is not found.
func TestOfficialBusinessAccount(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550149000")
	b := h.createTenant("+15550149100")
	view := func(x map[string]string) string {
		t.Helper()
		code, out := h.do("GET", "/v21.0/"+x["phone_number_id"]+"?fields=official_business_account,is_official_business_account", x["access_token"], "")
		if code != 200 {
			t.Fatalf("view: %d %s", code, out)
		}
		return string(out)
	}
	if v := view(a); !strings.Contains(v, `"oba_status":"NOT_STARTED"`) || !strings.Contains(v, `"is_official_business_account":false`) {
		t.Fatalf("before a request: %s", v)
	}
	edge := func(x map[string]string) string {
		return "/v21.0/" + x["phone_number_id"] + "/official_business_account"
	}
	for _, bad := range []string{
		`{"primary_country_of_operation":"US","primary_language":"en_US"}`,
		`{"business_website_url":"ftp://shrub.example","primary_country_of_operation":"US","primary_language":"en_US"}`,
		`{"business_website_url":"https://shrub.example","primary_language":"en_US"}`,
		`{"business_website_url":"https://shrub.example","primary_country_of_operation":"US","primary_language":"en_US","supporting_links":["javascript:x"]}`,
	} {
		if code, out := h.do("POST", edge(a), a["access_token"], bad); code != 400 || graphCode(out) != 100 {
			t.Fatalf("bad request %s: %d %s", bad, code, out)
		}
	}
	decide := func(x map[string]string, decision string) (int, []byte) {
		return h.do("POST", "/admin/v1/phones/"+x["phone_number_id"]+"/oba", "admin-tok", `{"decision":"`+decision+`"}`)
	}
	if code, out := decide(a, "APPROVED"); code != 400 {
		t.Fatalf("decision without a request: %d %s", code, out)
	}
	req := `{"business_website_url":"https://shrub.example","primary_country_of_operation":"US","primary_language":"en_US",` +
		`"supporting_links":["https://news.example/shrub"],"parent_business_or_brand":"Shrub Group"}`
	if code, out := h.do("POST", edge(a), b["access_token"], req); code != 400 || graphCode(out) != 100 {
		t.Fatalf("another business's number: %d %s", code, out)
	}
	if code, out := h.do("POST", edge(a), a["access_token"], req); code != 200 || string(out) != `{"success":true}` {
		t.Fatalf("request: %d %s", code, out)
	}
	if v := view(a); !strings.Contains(v, `"oba_status":"PENDING"`) {
		t.Fatalf("after the request: %s", v)
	}
	if code, out := h.do("POST", edge(a), a["access_token"], req); code != 400 || !strings.Contains(string(out), "pending") {
		t.Fatalf("second request while pending: %d %s", code, out)
	}
	before := h.subscribeEcho(t, a["access_token"], a["waba_id"])
	if code, out := decide(a, "REJECTED"); code != 200 {
		t.Fatalf("reject: %d %s", code, out)
	}
	body := string(h.onlyNewEvent(t, a["waba_id"], before))
	want := `"changes":[{"value":{"entity_type":"PHONE_NUMBER","entity_id":"` + a["phone_number_id"] +
		`","alert_info":{"alert_severity":"CRITICAL","alert_status":"ACTIVE","alert_type":"OBA_REJECTED","alert_description":"`
	if !strings.Contains(body, want) || !strings.Contains(body, `"field":"account_alerts"`) || !strings.Contains(body, `"id":"`+a["waba_id"]+`"`) {
		t.Fatalf("rejection webhook %s\nwant %s", body, want)
	}
	if v := view(a); !strings.Contains(v, `"oba_status":"REJECTED"`) || !strings.Contains(v, `"is_official_business_account":false`) {
		t.Fatalf("after the rejection: %s", v)
	}
	if code, out := h.do("POST", edge(a)+"?business_website_url=https://shrub.example&primary_country_of_operation=US&primary_language=en_US",
		a["access_token"], ""); code != 400 || !strings.Contains(string(out), "30 days") {
		t.Fatalf("request right after a rejection: %d %s", code, out)
	}

	if code, out := h.do("POST", edge(b)+"?business_website_url=https://b.example&primary_country_of_operation=DE&primary_language=de_DE",
		b["access_token"], ""); code != 200 {
		t.Fatalf("request as a query: %d %s", code, out)
	}
	before = h.subscribeEcho(t, b["access_token"], b["waba_id"])
	if code, out := decide(b, "approved"); code != 200 || !strings.Contains(string(out), `"oba_status":"APPROVED"`) {
		t.Fatalf("approve: %d %s", code, out)
	}
	body = string(h.onlyNewEvent(t, b["waba_id"], before))
	if !strings.Contains(body, `"alert_severity":"INFORMATIONAL","alert_status":"NONE","alert_type":"OBA_APPROVED"`) ||
		!strings.Contains(body, `"entity_id":"`+b["phone_number_id"]+`"`) {
		t.Fatalf("approval webhook %s", body)
	}
	if v := view(b); !strings.Contains(v, `"oba_status":"APPROVED"`) || !strings.Contains(v, `"is_official_business_account":true`) {
		t.Fatalf("after the approval: %s", v)
	}
	if code, out := decide(b, "MAYBE"); code != 400 {
		t.Fatalf("bad decision: %d %s", code, out)
	}
	if code, out := h.do("POST", edge(b)+"?business_website_url=https://b.example&primary_country_of_operation=DE&primary_language=de_DE",
		b["access_token"], ""); code != 400 {
		t.Fatalf("request on an official number: %d %s", code, out)
	}
}
