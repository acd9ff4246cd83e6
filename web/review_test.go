package web_test

import (
	"strings"
	"testing"

	"github.com/waedge/waedge/raftfsm"
)

// TestDisplayNameReview: under the manual review policy a display-name
// change waits as PENDING_REVIEW (verified_name unchanged, no webhook)
// until the admin API decides; a rejection keeps the old name and
// queues phone_number_name_update REJECTED with its reason, an approval
// changes verified_name with APPROVED; under the reject policy a request
// is declined at once.
func TestDisplayNameReview(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550143000")
	tok, pn, waba := a["access_token"], "/v21.0/"+a["phone_number_id"], a["waba_id"]
	decide := "/admin/v1/phones/" + a["phone_number_id"] + "/display-name"
	policy := func(p string) {
		t.Helper()
		if code, out := h.do("POST", "/admin/v1/wabas/"+waba+"/template-review", "admin-tok", `{"policy":"`+p+`"}`); code != 200 {
			t.Fatalf("policy %s: %d %s", p, code, out)
		}
	}
	view := func() string {
		_, out := h.do("GET", pn+"?fields=verified_name,name_status,new_display_name,new_name_status", tok, "")
		return string(out)
	}
	if v := view(); !strings.Contains(v, `"new_name_status":"NONE"`) || !strings.Contains(v, `"name_status":"APPROVED"`) {
		t.Fatalf("before any change: %s", v)
	}
	policy("manual")
	before := h.subscribeEcho(t, tok, waba)
	if code, out := h.do("POST", pn+"?new_display_name=Lucky%20Shrub", tok, ""); code != 200 || string(out) != `{"success":true}` {
		t.Fatalf("change: %d %s", code, out)
	}
	if v := view(); strings.Contains(v, `"verified_name":"Lucky Shrub"`) || !strings.Contains(v, `"new_display_name":"Lucky Shrub"`) ||
		!strings.Contains(v, `"new_name_status":"PENDING_REVIEW"`) {
		t.Fatalf("pending: %s", v)
	}
	if evs, _ := h.c.FSM().Outbox(0); len(evs) != before {
		t.Fatal("a webhook was queued before the decision")
	}
	for _, bad := range []string{`{"decision":"MAYBE"}`, `{}`} {
		if code, out := h.do("POST", decide, "admin-tok", bad); code != 400 {
			t.Fatalf("%s: %d %s", bad, code, out)
		}
	}
	if code, out := h.do("POST", decide, tok, `{"decision":"APPROVED"}`); code != 403 {
		t.Fatalf("a business token decides: %d %s", code, out)
	}
	if code, out := h.do("POST", decide, "admin-tok", `{"decision":"REJECTED","reason":"NAME_NOT_MATCHING_BUSINESS"}`); code != 200 {
		t.Fatalf("reject: %d %s", code, out)
	}
	body := string(h.onlyNewEvent(t, waba, before))
	if !strings.Contains(body, `"value":{"display_phone_number":"15550143000","decision":"REJECTED","requested_verified_name":"Lucky Shrub","rejection_reason":"NAME_NOT_MATCHING_BUSINESS"},"field":"phone_number_name_update"`) {
		t.Fatalf("rejection webhook %s", body)
	}
	if v := view(); strings.Contains(v, `"verified_name":"Lucky Shrub"`) || !strings.Contains(v, `"new_name_status":"DECLINED"`) {
		t.Fatalf("declined: %s", v)
	}
	if code, _ := h.do("POST", decide, "admin-tok", `{"decision":"APPROVED"}`); code != 400 {
		t.Fatalf("a decided name decided again: %d", code)
	}

	if code, out := h.do("POST", pn, tok, `{"new_display_name":"Lucky Shrub Garden"}`); code != 200 {
		t.Fatalf("second change: %d %s", code, out)
	}
	queued, _ := h.c.FSM().Outbox(0)
	n := len(queued)
	if code, out := h.do("POST", decide, "admin-tok", `{"decision":"approved"}`); code != 200 {
		t.Fatalf("approve: %d %s", code, out)
	}
	body = string(h.onlyNewEvent(t, waba, n))
	if !strings.Contains(body, `"decision":"APPROVED","requested_verified_name":"Lucky Shrub Garden","rejection_reason":null`) {
		t.Fatalf("approval webhook %s", body)
	}
	if v := view(); !strings.Contains(v, `"verified_name":"Lucky Shrub Garden"`) || !strings.Contains(v, `"new_name_status":"APPROVED"`) {
		t.Fatalf("approved: %s", v)
	}

	policy("reject")
	evs, _ := h.c.FSM().Outbox(0)
	if code, out := h.do("POST", pn, tok, `{"new_display_name":"Shrub Deluxe"}`); code != 200 {
		t.Fatalf("third change: %d %s", code, out)
	}
	body = string(h.onlyNewEvent(t, waba, len(evs)))
	if !strings.Contains(body, `"decision":"REJECTED","requested_verified_name":"Shrub Deluxe"`) {
		t.Fatalf("policy rejection webhook %s", body)
	}
	if v := view(); !strings.Contains(v, `"verified_name":"Lucky Shrub Garden"`) || !strings.Contains(v, `"new_name_status":"DECLINED"`) {
		t.Fatalf("declined by policy: %s", v)
	}
}

// TestTemplateQualityAndCategory: the admin API plays Meta's template
// rating and re-categorisation; each change queues its webhook in Meta's
// shape (message_template_quality_update, template_category_update), GET
// shows quality_score, later sends are priced by the new category, and an
// unchanged value or a bad one is 131009 and changes nothing.
func TestTemplateQualityAndCategory(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550144000")
	tok, waba := a["access_token"], a["waba_id"]
	id := h.createTemplate(tok, waba, "receipt", "en_US", "Thanks!")
	before := h.subscribeEcho(t, tok, waba)
	q := "/admin/v1/templates/" + id + "/quality"
	if code, out := h.do("POST", q, "admin-tok", `{"quality_score":"yellow"}`); code != 200 {
		t.Fatalf("quality: %d %s", code, out)
	}
	body := string(h.onlyNewEvent(t, waba, before))
	if !strings.Contains(body, `"field":"message_template_quality_update","value":{"previous_quality_score":"UNKNOWN","new_quality_score":"YELLOW","message_template_id":`+id+`,"message_template_name":"receipt","message_template_language":"en_US"}`) {
		t.Fatalf("quality webhook %s", body)
	}
	if _, out := h.do("GET", "/v21.0/"+id+"?fields=quality_score", tok, ""); !strings.Contains(string(out), `"quality_score":{"score":"YELLOW"}`) {
		t.Fatalf("GET quality_score: %s", out)
	}
	for _, bad := range []struct{ path, body string }{{q, `{"quality_score":"YELLOW"}`}, {q, `{"quality_score":"BLUE"}`},
		{"/admin/v1/templates/" + id + "/category", `{"category":"UTILITY"}`}, {"/admin/v1/templates/" + id + "/category", `{"category":"SERVICE"}`}} {
		st, _ := fullState(t, h)
		if code, out := h.do("POST", bad.path, "admin-tok", bad.body); code != 400 || graphCode(out) != 131009 {
			t.Fatalf("%s %s: %d %s", bad.path, bad.body, code, out)
		}
		if after, _ := fullState(t, h); after != st {
			t.Fatalf("%s %s changed the state", bad.path, bad.body)
		}
	}
	evs, _ := h.c.FSM().Outbox(0)
	if code, out := h.do("POST", "/admin/v1/templates/"+id+"/category", "admin-tok", `{"category":"MARKETING"}`); code != 200 {
		t.Fatalf("category: %d %s", code, out)
	}
	body = string(h.onlyNewEvent(t, waba, len(evs)))
	if !strings.Contains(body, `"field":"template_category_update","value":{"message_template_id":`+id+`,"message_template_name":"receipt","message_template_language":"en_US","previous_category":"UTILITY","new_category":"MARKETING"}`) {
		t.Fatalf("category webhook %s", body)
	}
	if _, out := h.do("GET", "/v21.0/"+id+"?fields=category", tok, ""); !strings.Contains(string(out), `"category":"MARKETING"`) {
		t.Fatalf("GET category: %s", out)
	}
}

// TestTierChangeWebhooks: an operator's tier change queues
// business_capability_update with the new limit and
// phone_number_quality_update UPGRADE/DOWNGRADE with the old and new
// limit; setting the same tier again queues nothing.
func TestTierChangeWebhooks(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550145000")
	tok, waba := a["access_token"], a["waba_id"]
	tier := "/admin/v1/phones/" + a["phone_number_id"] + "/tier"
	before := h.subscribeEcho(t, tok, waba)
	bodies := func(from int) string {
		t.Helper()
		evs, _ := h.c.FSM().Outbox(0)
		var out []string
		for _, e := range evs[from:] {
			b, err := h.sealer.Open(raftfsm.WebhookAAD(waba), e.Body)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		return strings.Join(out, "\n")
	}
	if code, out := h.do("POST", tier, "admin-tok", `{"tier":"TIER_UNLIMITED"}`); code != 200 {
		t.Fatalf("tier: %d %s", code, out)
	}
	got := bodies(before)
	if strings.Count(got, "\n") != 1 ||
		!strings.Contains(got, `"value":{"max_daily_conversation_per_phone":-1,"max_daily_conversations_per_business":"TIER_UNLIMITED"},"field":"business_capability_update"`) ||
		!strings.Contains(got, `"value":{"display_phone_number":"15550145000","event":"UPGRADE","old_limit":"TIER_1K","current_limit":"TIER_UNLIMITED"}`) {
		t.Fatalf("upgrade webhooks:\n%s", got)
	}
	evs, _ := h.c.FSM().Outbox(0)
	if code, out := h.do("POST", tier, "admin-tok", `{"tier":"TIER_250"}`); code != 200 {
		t.Fatalf("tier: %d %s", code, out)
	}
	if got := bodies(len(evs)); !strings.Contains(got, `"max_daily_conversation_per_phone":250,"max_daily_conversations_per_business":"TIER_250"`) ||
		!strings.Contains(got, `"event":"DOWNGRADE","old_limit":"TIER_UNLIMITED","current_limit":"TIER_250"`) {
		t.Fatalf("downgrade webhooks:\n%s", got)
	}
	evs, _ = h.c.FSM().Outbox(0)
	if code, out := h.do("POST", tier, "admin-tok", `{"tier":"TIER_250"}`); code != 200 {
		t.Fatalf("same tier: %d %s", code, out)
	}
	if after, _ := h.c.FSM().Outbox(0); len(after) != len(evs) {
		t.Fatal("an unchanged tier queued webhooks")
	}
}
