package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTemplateAnalytics: after the WABA confirms template analytics (what
// was sent before is not counted),
// GET /{waba-id}/template_analytics (and the template_analytics field, in
// Graph's modifier form and in Meta's nested "?" form) answers daily sent,
// delivered and read counts of a template from the replicated counters in
// Meta's shape; the metric_types filter; and Meta's validation, every
// refusal code 100.
func TestTemplateAnalytics(t *testing.T) {
	h := newHarness(t)
	a := statsTenant(t, h, "+15550147000")
	b := statsTenant(t, h, "+15550148000")
	tok, waba := a["access_token"], a["waba_id"]
	day := time.Now().UTC()
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Unix()
	tplID := func(w string) string {
		ts, err := h.c.FSM().Templates(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range ts {
			if tp.Name == "promo" {
				return tp.ID
			}
		}
		t.Fatal("no promo template")
		return ""
	}
	promo, other := tplID(waba), tplID(b["waba_id"])
	query := func(ids string, extra string) string {
		return fmt.Sprintf("start=%d&end=%d&granularity=DAILY&template_ids=%s%s", start-86400, start+86400, url.QueryEscape(ids), extra)
	}
	edge := "/v21.0/" + waba + "/template_analytics?"

	code, out := h.do("GET", edge+query("["+promo+"]", ""), tok, "")
	if code != 400 || graphCode(out) != 100 || !strings.Contains(string(out), "is_enabled_for_insights") {
		t.Fatalf("before the confirmation: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+waba+"?is_enabled_for_insights=false", tok, ""); code != 400 || graphCode(out) != 100 {
		t.Fatalf("disable: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+waba+"?is_enabled_for_insights=true", b["access_token"], ""); code == 200 {
		t.Fatalf("another business confirmed the WABA: %d %s", code, out)
	}
	h.deliverPromos(t, a) // before the confirmation: not counted
	if code, out := h.do("POST", "/v21.0/"+waba+"?is_enabled_for_insights=true", tok, ""); code != 200 || string(out) != `{"id":"`+waba+`"}` {
		t.Fatalf("enable: %d %s", code, out)
	}
	at := h.deliverPromos(t, a) // counted: promo 2 sent, 2 delivered, 1 read
	day = time.UnixMilli(at).UTC()
	start = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Unix()

	type point struct {
		TemplateID            string `json:"template_id"`
		Start, End            int64
		Sent, Delivered, Read *int64
		Clicked               *[]any
		Cost                  []struct {
			Type  string
			Value float64
		}
	}
	type answer struct {
		Data []struct {
			Granularity string  `json:"granularity"`
			ProductType string  `json:"product_type"`
			DataPoints  []point `json:"data_points"`
		}
		Paging struct {
			Cursors struct{ Before, After string }
		}
	}
	check := func(what string, out []byte) answer {
		t.Helper()
		var r answer
		if err := json.Unmarshal(out, &r); err != nil || len(r.Data) != 1 || r.Data[0].Granularity != "DAILY" || r.Data[0].ProductType != "cloud_api" ||
			len(r.Data[0].DataPoints) != 2 || r.Paging.Cursors.After == "" {
			t.Fatalf("%s: %s", what, out)
		}
		before, today := r.Data[0].DataPoints[0], r.Data[0].DataPoints[1]
		if before.TemplateID != promo || before.Start != start-86400 || before.End != start || today.Start != start || today.End != start+86400 {
			t.Fatalf("%s: days %s", what, out)
		}
		return r
	}
	code, out = h.do("GET", edge+query("["+promo+"]", ""), tok, "")
	if code != 200 {
		t.Fatalf("template_analytics: %d %s", code, out)
	}
	r := check("edge", out)
	today, before := r.Data[0].DataPoints[1], r.Data[0].DataPoints[0]
	if today.Sent == nil || *today.Sent != 2 || *today.Delivered != 2 || *today.Read != 1 || today.Clicked == nil || len(*today.Clicked) != 0 ||
		*before.Sent != 0 || *before.Read != 0 || today.Cost != nil {
		t.Fatalf("counts: %s", out)
	}

	code, out = h.do("GET", edge+query("['"+promo+"']", "&metric_types="+url.QueryEscape("['SENT','COST']")), tok, "")
	if code != 200 {
		t.Fatalf("metric_types: %d %s", code, out)
	}
	today = check("metric_types", out).Data[0].DataPoints[1]
	if today.Sent == nil || *today.Sent != 2 || today.Delivered != nil || today.Read != nil || today.Clicked != nil ||
		len(today.Cost) == 0 || today.Cost[0].Type != "amount_spent" {
		t.Fatalf("metric_types SENT, COST: %s", out)
	}

	field := fmt.Sprintf("template_analytics.start(%d).end(%d).granularity(DAILY).template_ids([%s])", start-86400, start+86400, promo)
	code, out = h.do("GET", "/v21.0/"+waba+"?fields="+url.QueryEscape(field), tok, "")
	var f struct {
		ID                string          `json:"id"`
		TemplateAnalytics json.RawMessage `json:"template_analytics"`
	}
	if code != 200 || json.Unmarshal(out, &f) != nil || f.ID != waba {
		t.Fatalf("field: %d %s", code, out)
	}
	if today := check("field", f.TemplateAnalytics).Data[0].DataPoints[1]; *today.Read != 1 {
		t.Fatalf("field counts: %s", out)
	}
	// Meta's documented form: ?fields=template_analytics?start=…&end=…
	code, out = h.do("GET", "/v21.0/"+waba+"?fields=template_analytics?"+query("["+promo+"]", ""), tok, "")
	if code != 200 || json.Unmarshal(out, &f) != nil || f.ID != waba {
		t.Fatalf("nested field: %d %s", code, out)
	}
	if today := check("nested field", f.TemplateAnalytics).Data[0].DataPoints[1]; *today.Delivered != 2 {
		t.Fatalf("nested field counts: %s", out)
	}

	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprint(1000 + i)
	}
	old := time.Now().Add(-100 * 24 * time.Hour).Unix()
	for _, c := range []struct{ name, q, token string }{
		{"no template_ids", fmt.Sprintf("start=%d&end=%d&granularity=DAILY", start, start+86400), tok},
		{"empty template_ids", query("[]", ""), tok},
		{"eleven templates", query("["+strings.Join(eleven, ",")+"]", ""), tok},
		{"not an id", query("[abc]", ""), tok},
		{"granularity", strings.Replace(query("["+promo+"]", ""), "DAILY", "MONTHLY", 1), tok},
		{"no start", fmt.Sprintf("end=%d&granularity=DAILY&template_ids=[%s]", start, promo), tok},
		{"end before start", fmt.Sprintf("start=%d&end=%d&granularity=DAILY&template_ids=[%s]", start, start-10, promo), tok},
		{"more than 90 days ago", fmt.Sprintf("start=%d&end=%d&granularity=DAILY&template_ids=[%s]", old, start, promo), tok},
		{"unknown metric", query("["+promo+"]", "&metric_types=[FOO]"), tok},
		{"another WABA's template", query("["+other+"]", ""), tok},
		{"unknown template", query("[999999]", ""), tok},
		{"another business's token", query("["+promo+"]", ""), b["access_token"]},
	} {
		code, out := h.do("GET", edge+c.q, c.token, "")
		if code != 400 || graphCode(out) != 100 {
			t.Errorf("%s: %d %s, want 400 with 100", c.name, code, out)
		}
	}
	// The same answer for another WABA's template and for none (invariant 7).
	_, o1 := h.do("GET", edge+query("["+other+"]", ""), tok, "")
	_, o2 := h.do("GET", edge+query("[999999]", ""), tok, "")
	type graphErr struct {
		Error struct {
			Message   string
			Code      int
			ErrorData struct{ Details string } `json:"error_data"`
		}
	}
	var e1, e2 graphErr
	_, _ = json.Unmarshal(o1, &e1), json.Unmarshal(o2, &e2)
	e1.Error.ErrorData.Details = strings.ReplaceAll(e1.Error.ErrorData.Details, other, "X")
	e2.Error.ErrorData.Details = strings.ReplaceAll(e2.Error.ErrorData.Details, "999999", "X")
	if e1 != e2 || e1.Error.Code != 100 {
		t.Fatalf("another WABA's template is told apart:\n%s\n%s", o1, o2)
	}
}
