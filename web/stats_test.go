package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// proposeAll applies cmds as one Raft entry (one transaction).
func (c *fakeCluster) proposeAll(t *testing.T, cmds [][]byte) {
	t.Helper()
	rs, err := c.ProposeEntry(cmds)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("command %d: %v", i, r.Err)
		}
	}
}

func mustCmd(t *testing.T, typ raftfsm.CommandType, payload any) []byte {
	t.Helper()
	b, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// statsTenant: a registered number with an approved MARKETING template
// "promo"/en_US.
func statsTenant(t *testing.T, h *harness, phone string) map[string]string {
	a := h.createTenant(phone)
	if code, out := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/register", a["access_token"], `{"messaging_product":"whatsapp","pin":"123456"}`); code != 200 {
		t.Fatalf("register: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/message_templates", a["access_token"],
		`{"name":"promo","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"Sale!"}]}`); code != 200 {
		t.Fatalf("template: %d %s", code, out)
	}
	return a
}

func (h *harness) sendTemplate(a map[string]string, to string) (int, string) {
	h.t.Helper()
	code, out := h.do("POST", "/v21.0/"+a["phone_number_id"]+"/messages", a["access_token"],
		`{"messaging_product":"whatsapp","to":"`+to+`","type":"template","template":{"name":"promo","language":{"code":"en_US"}}}`)
	if code != 200 {
		return code, string(out)
	}
	var r struct{ Messages []struct{ ID string } }
	_ = json.Unmarshal(out, &r)
	return code, r.Messages[0].ID
}

// deliverPromos sends the promo template to three consumers and marks
// the first two delivered (one of them read) now; it returns when.
func (h *harness) deliverPromos(t *testing.T, a map[string]string) int64 {
	var ids []string
	for _, to := range []string{"15551230001", "15551230002", "15551230003"} {
		code, id := h.sendTemplate(a, to)
		if code != 200 {
			t.Fatalf("send: %d %s", code, id)
		}
		ids = append(ids, id)
	}
	at := time.Now().UnixMilli()
	h.c.proposeAll(t, [][]byte{mustCmd(t, raftfsm.CmdMessageStatuses, raftfsm.MessageStatuses{PhoneNumberID: a["phone_number_id"],
		Updates: []raftfsm.StatusUpdate{
			{IDRef: raftfsm.MessageIDRef(ids[0]), Status: raftfsm.StatusSent, At: at},
			{IDRef: raftfsm.MessageIDRef(ids[1]), Status: raftfsm.StatusSent, At: at},
			{IDRef: raftfsm.MessageIDRef(ids[0]), Status: raftfsm.StatusDelivered, At: at},
			{IDRef: raftfsm.MessageIDRef(ids[1]), Status: raftfsm.StatusRead, At: at},
		}})})
	return at
}

func TestAnalyticsBillingAndStats(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550007000")
	b := statsTenant(t, h, "+15550008000")
	at := h.deliverPromos(t, a)
	day := time.UnixMilli(at).UTC()
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Unix()
	month := day.Format("2006-01")

	// analytics in Meta's shape.
	q := fmt.Sprintf("analytics.start(%d).end(%d).granularity(DAY)", start-86400, start+86400)
	code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+q, a["access_token"], "")
	if code != 200 {
		t.Fatalf("analytics: %d %s", code, out)
	}
	var an struct {
		ID        string `json:"id"`
		Analytics struct {
			PhoneNumbers []string `json:"phone_numbers"`
			Granularity  string   `json:"granularity"`
			DataPoints   []struct {
				Start, End, Sent, Delivered int64
			} `json:"data_points"`
		} `json:"analytics"`
	}
	if err := json.Unmarshal(out, &an); err != nil || an.ID != a["waba_id"] || an.Analytics.Granularity != "DAY" ||
		len(an.Analytics.PhoneNumbers) != 1 || an.Analytics.PhoneNumbers[0] != "15550007000" || len(an.Analytics.DataPoints) != 2 {
		t.Fatalf("analytics shape: %s", out)
	}
	if p := an.Analytics.DataPoints[1]; p.Start != start || p.End != start+86400 || p.Sent != 2 || p.Delivered != 2 {
		t.Fatalf("today's point: %+v (%s)", p, out)
	}
	if p := an.Analytics.DataPoints[0]; p.Sent != 0 || p.Delivered != 0 {
		t.Fatalf("yesterday: %+v", p)
	}
	// conversation_analytics with the rate card.
	if code, out := h.do("PUT", "/admin/v1/billing/rates", "operator-tok", `{"marketing":0.05}`); code != 403 {
		t.Fatalf("operator set rates: %d %s", code, out)
	}
	if code, out := h.do("PUT", "/admin/v1/billing/rates", "admin-tok", `{"currency":"EUR","marketing":0.05,"utility":0.01}`); code != 200 {
		t.Fatalf("set rates: %d %s", code, out)
	}
	q = fmt.Sprintf("conversation_analytics.start(%d).end(%d).granularity(DAILY).dimensions([\"CONVERSATION_CATEGORY\",\"PHONE\"])", start, start+86400)
	code, out = h.do("GET", "/v21.0/"+a["waba_id"]+"?fields=id,name,"+q, a["access_token"], "")
	if code != 200 || !strings.Contains(string(out), `"data_points":[{"conversation":2,"conversation_category":"MARKETING","cost":0.1,"end":`+fmt.Sprint(start+86400)+`,"phone_number":"15550007000","start":`+fmt.Sprint(start)+`}]`) {
		t.Fatalf("conversation_analytics: %d %s", code, out)
	}
	// Strict expressions: error 100 in the Graph envelope.
	for _, bad := range []string{
		"analytics.start(1).end(2)",                           // no granularity
		"analytics.start(5).end(2).granularity(DAY)",          // end before start
		"analytics.start(1).end(2).granularity(HALF_HOUR)",    // not kept
		"analytics.start(1).end(2).granularity(DAY).color(1)", // unknown modifier
		"analytics.start(1.end(2)",                            // unbalanced
		"secrets",                                             // unknown field
		"analytics.start(1).start(2).end(3).granularity(DAY)", // twice
		"analytics.start(0).end(999999999).granularity(DAY)",  // too many points
	} {
		code, out := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+strings.ReplaceAll(bad, " ", "%20"), a["access_token"], "")
		if e := decodeEnvelope(t, out); code != 400 || e.Error.Code != 100 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
	// Tenant isolation: another business's WABA answers like a missing one.
	_, missing := h.do("GET", "/v21.0/99999999?fields=id", b["access_token"], "")
	code, foreign := h.do("GET", "/v21.0/"+a["waba_id"]+"?fields="+q, b["access_token"], "")
	ef, em := decodeEnvelope(t, foreign), decodeEnvelope(t, missing)
	ef.Error.FBTraceID, em.Error.FBTraceID = "", ""
	ef.Error.ErrorData.Details = strings.ReplaceAll(ef.Error.ErrorData.Details, a["waba_id"], "X")
	em.Error.ErrorData.Details = strings.ReplaceAll(em.Error.ErrorData.Details, "99999999", "X")
	if code != 400 || ef != em || strings.Contains(string(foreign), "conversation") {
		t.Fatalf("foreign WABA: %d %s vs %s", code, foreign, missing)
	}
	// Billing: delivered template messages (the read one counts as delivered).
	code, out = h.do("GET", "/admin/v1/billing?month="+month+"&business="+a["business_id"], "operator-tok", "")
	if code != 200 || !strings.Contains(string(out), `"category":"marketing","delivered":2,"rate":"0.05","amount":"0.1"`) ||
		!strings.Contains(string(out), `"currency":"EUR"`) || !strings.Contains(string(out), `"total":"0.1"`) {
		t.Fatalf("billing: %d %s", code, out)
	}
	code, out = h.do("GET", "/admin/v1/billing?month="+month+"&format=csv", "admin-tok", "")
	want := "business,month,category,delivered,rate,amount,currency\n" + a["business_id"] + "," + month + ",marketing,2,0.05,0.1,EUR\n"
	if code != 200 || string(out) != want {
		t.Fatalf("billing csv: %d %q", code, out)
	}
	for _, bad := range []string{"month=2026-13", "month=" + month + "&business=nope", "month=" + month + "&format=xml"} {
		if code, out := h.do("GET", "/admin/v1/billing?"+bad, "admin-tok", ""); code == 200 {
			t.Fatalf("%s: %s", bad, out)
		}
	}
	// Admin statistics: counts only, no consumer numbers.
	code, out = h.do("GET", "/admin/v1/stats?business="+a["business_id"]+"&from="+day.Format("2006-01-02"), "operator-tok", "")
	if code != 200 || !strings.Contains(string(out), `"status":"accepted","pricing_category":"marketing","count":3`) ||
		!strings.Contains(string(out), `"status":"read","pricing_category":"marketing","count":1`) || strings.Contains(string(out), "1555123") {
		t.Fatalf("stats: %d %s", code, out)
	}
	if code, _ := h.do("GET", "/admin/v1/stats?from=yesterday", "admin-tok", ""); code != 400 {
		t.Fatalf("bad from: %d", code)
	}
	if code, _ := h.do("GET", "/admin/v1/stats", a["access_token"], ""); code != 403 {
		t.Fatalf("business token on admin stats: %d", code)
	}
}

func TestMessagingLimitAndQualityFields(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550009000")
	pid := a["phone_number_id"]
	code, out := h.do("GET", "/v21.0/"+pid+"?fields=quality_rating,messaging_limit_tier", a["access_token"], "")
	if code != 200 || string(out) != `{"id":"`+pid+`","messaging_limit_tier":"TIER_1K","quality_rating":"GREEN"}` {
		t.Fatalf("phone fields: %d %s", code, out)
	}
	if code, out := h.do("POST", "/admin/v1/phones/"+pid+"/tier", "admin-tok", `{"tier":"TIER_9"}`); code != 400 {
		t.Fatalf("bad tier: %d %s", code, out)
	}
	if code, out := h.do("POST", "/admin/v1/phones/"+pid+"/tier", "admin-tok", `{"tier":"TIER_250"}`); code != 200 {
		t.Fatalf("set tier: %d %s", code, out)
	}
	if code, out := h.do("POST", "/admin/v1/phones/"+pid+"/limits", "admin-tok", `{"throughput_mps":100000}`); code != 200 {
		t.Fatalf("set limits: %d %s", code, out)
	}
	// 249 consumers reached with templates in the last 24 hours…
	now := time.Now()
	var cmds [][]byte
	for i := 0; i < 249; i++ {
		k := make([]byte, 16)
		k[0], k[14], k[15] = 1, byte(i>>8), byte(i)
		cmds = append(cmds, mustCmd(t, raftfsm.CmdAcceptMessage, raftfsm.AcceptMessage{Key: k, IDRef: fmt.Sprint("pre", i),
			PhoneNumberID: pid, BusinessID: a["business_id"], PeerRef: fmt.Sprint("ref", i), Type: "template",
			TemplateName: "promo", TemplateLanguage: "en_US", CreatedAt: now.Add(-time.Hour).UnixMilli()}))
	}
	h.c.proposeAll(t, cmds)
	// …the 250th is at the limit and accepted, the 251st refused with 131064.
	if code, out := h.sendTemplate(a, "15557770250"); code != 200 {
		t.Fatalf("250th: %d %s", code, out)
	}
	before := h.c.FSM().MessageCount()
	code, body := h.sendTemplate(a, "15557770251")
	if e := decodeEnvelope(t, []byte(body)); code != 400 || e.Error.Code != 131064 {
		t.Fatalf("251st: %d %s", code, body)
	}
	if h.c.FSM().MessageCount() != before {
		t.Fatal("refused send stored a message")
	}
	// Someone already reached may still be messaged.
	if code, out := h.sendTemplate(a, "15557770250"); code != 200 {
		t.Fatalf("repeat: %d %s", code, out)
	}
	if code, out := h.do("GET", "/admin/v1/integrity?phone="+pid, "operator-tok", ""); code != 200 ||
		!strings.Contains(string(out), `"reached_24h":250`) || !strings.Contains(string(out), `"messaging_limit_tier":"TIER_250"`) {
		t.Fatalf("integrity: %d %s", code, out)
	}
}
