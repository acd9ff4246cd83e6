package web_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// TestConversationsList: a number's conversations are listed newest first
// with the consumer's number and message count, paged by cursor; the
// operator is refused, and another business's number answers like a
// missing one.
func TestConversationsList(t *testing.T) {
	h := newMediaHarness(t)
	a, b := h.a, h.b
	text := func(s string) cloudapi.InboundMessage {
		return cloudapi.InboundMessage{Type: "text", Text: &cloudapi.InboundText{Body: s}}
	}
	h.recordInbound(a["phone_number_id"], "15551230001", text("first"))
	h.advance(time.Second) // distinct milliseconds
	h.recordInbound(a["phone_number_id"], "15551230002", text("second"))
	h.advance(time.Second) // distinct milliseconds
	h.recordInbound(a["phone_number_id"], "15551230001", text("third"))
	h.advance(time.Second) // distinct milliseconds
	h.recordInbound(a["phone_number_id"], "15551230003", text("fourth"))
	h.recordInbound(b["phone_number_id"], "15551239999", text("to B"))

	type page struct {
		Data []struct {
			PhoneNumberID string `json:"phone_number_id"`
			WAID          string `json:"wa_id"`
			Messages      int    `json:"messages"`
			LastAt        int64  `json:"last_at"`
			LastDirection string `json:"last_direction"`
		} `json:"data"`
		Paging struct {
			Cursors struct {
				After string `json:"after"`
			} `json:"cursors"`
		} `json:"paging"`
	}
	list := func(token, business, phone, query string) (int, page, []byte) {
		code, out := h.do("GET", "/admin/v1/businesses/"+business+"/conversations?phone_number_id="+phone+query, token, "")
		var p page
		_ = json.Unmarshal(out, &p)
		return code, p, out
	}
	code, p1, out := list("admin-tok", a["business_id"], a["phone_number_id"], "&limit=2")
	if code != 200 || len(p1.Data) != 2 || p1.Data[0].WAID != "15551230003" || p1.Data[1].WAID != "15551230001" ||
		p1.Data[1].Messages != 2 || p1.Data[0].LastDirection != "in" || p1.Paging.Cursors.After == "" {
		t.Fatalf("first page: %d %s", code, out)
	}
	code, p2, out := list("admin-tok", a["business_id"], a["phone_number_id"], "&limit=2&after="+url.QueryEscape(p1.Paging.Cursors.After))
	if code != 200 || len(p2.Data) != 1 || p2.Data[0].WAID != "15551230002" || p2.Data[0].Messages != 1 || p2.Paging.Cursors.After != "" {
		t.Fatalf("second page: %d %s", code, out)
	}
	if code, _, out := list("operator-tok", a["business_id"], a["phone_number_id"], ""); code != 403 {
		t.Fatalf("operator: %d %s, want 403", code, out)
	}
	if code, _, out := list("admin-tok", a["business_id"], b["phone_number_id"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("another business's number: %d %s, want the answer for a missing one", code, out)
	}
	if code, _, out := list("admin-tok", a["business_id"], a["phone_number_id"], "&after=garbage"); code != 400 {
		t.Fatalf("bad cursor: %d %s", code, out)
	}
}
