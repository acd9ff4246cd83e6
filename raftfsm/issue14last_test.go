package raftfsm

import (
	"testing"

	"github.com/hashicorp/raft"
)

// TestTemplateClicksCounted: a quick-reply tap answering a counted
// template message counts once per tap, on the tap's day, under the
// button's text; a tap whose text is not one of the template's buttons,
// a tap on a free-form message and a repeated proposal count nothing —
// also when the taps come in one batch with other commands.
func TestTemplateClicksCounted(t *testing.T) {
	const t0 = int64(1_767_225_600_000) // 2026-01-01 00:00 UTC
	const day2 = t0 + 24*60*60*1000
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(cmd(t, CmdCreateTenant, tenantPayload(1, "+15551234567")))
	a.mustApply(cmd(t, CmdCreateTemplate, CreateTemplate{Template: Template{ID: "78", WABAID: "2001", BusinessID: "1001",
		Name: "promo", Language: "en", Category: "MARKETING", Status: "APPROVED", CreatedAt: t0,
		Components: []byte(`[{"type":"BODY","text":"Sale"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Yes"},{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Shop","url":"https://x.example"}]}]`)}}))
	a.mustApply(cmd(t, CmdEnableTemplateInsights, EnableTemplateInsights{WABAID: "2001", BusinessID: "1001", At: t0}))
	a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: detKey(t0+1, 1), IDRef: MessageIDRef("tpl"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref", Type: "template", Content: []byte("c"), CreatedAt: t0 + 1, TemplateName: "promo", TemplateLanguage: "en"}))
	inbound := func(n uint64, id string, at int64) []byte {
		return cmd(t, CmdRecordInbound, RecordInbound{Key: detKey(at, n), IDRef: MessageIDRef(id), PhoneNumberID: "3001", PeerRef: "ref",
			Type: "interactive", ReceivedAt: at})
	}
	a.mustApply(inbound(2, "free", t0+2))
	a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: detKey(t0+3, 3), IDRef: MessageIDRef("text"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref", Type: "text", Content: []byte("c"), CreatedAt: t0 + 3, RequireWindow: true}))
	click := func(tap, context, button string) []byte {
		return cmd(t, CmdTemplateClick, TemplateClick{PhoneNumberID: "3001", IDRef: MessageIDRef(tap), ContextIDRef: MessageIDRef(context), Button: button})
	}
	a.idx++
	f.ApplyBatch([]*raft.Log{entry(a.idx,
		inbound(4, "tap1", t0+4), click("tap1", "tpl", "Yes"), click("tap1", "tpl", "Yes"),
		inbound(5, "tap2", t0+5), click("tap2", "tpl", "Yes"),
		inbound(6, "tap3", t0+6), click("tap3", "tpl", "typed by the consumer"),
		inbound(7, "tap4", t0+7), click("tap4", "text", "Yes"),
	)})
	a.mustApply(inbound(8, "tap5", day2+1))
	a.mustApply(click("tap5", "tpl", "Stop"))
	a.mustApply(click("tap5", "tpl", "Stop"))

	rows, err := f.TemplateStats("2001", []string{"78"}, "2026-01-01", "2026-01-02")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		if typ, button, ok := TemplateClickOf(r.Metric); ok {
			got[r.Day+" "+typ+" "+button] = r.Count
		}
	}
	want := map[string]int64{"2026-01-01 quick_reply_button Yes": 2, "2026-01-02 quick_reply_button Stop": 1}
	if len(got) != len(want) || got["2026-01-01 quick_reply_button Yes"] != 2 || got["2026-01-02 quick_reply_button Stop"] != 1 {
		t.Fatalf("clicks %v, want %v", got, want)
	}
}

// TestMarketingSendsCounted: accepted marketing templates are recorded per
// number and consumer, counted from a time on; utility templates,
// free-form messages and messages failed at once are not; expiry removes
// the records with the number's retention.
func TestMarketingSendsCounted(t *testing.T) {
	const t0 = int64(1_767_225_600_000)
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(cmd(t, CmdCreateTenant, tenantPayload(1, "+15551234567")))
	for _, tp := range []Template{
		{ID: "77", WABAID: "2001", BusinessID: "1001", Name: "bill", Language: "en", Category: "UTILITY", Status: "APPROVED", Components: []byte(`[]`), CreatedAt: t0},
		{ID: "78", WABAID: "2001", BusinessID: "1001", Name: "promo", Language: "en", Category: "MARKETING", Status: "APPROVED", Components: []byte(`[]`), CreatedAt: t0},
	} {
		a.mustApply(cmd(t, CmdCreateTemplate, CreateTemplate{Template: tp}))
	}
	send := func(n uint64, ref, name string, at int64) AcceptMessage {
		return AcceptMessage{Key: detKey(at, n), IDRef: MessageIDRef(string(rune('a' + n))), PhoneNumberID: "3001", BusinessID: "1001",
			PeerRef: ref, Type: "template", Content: []byte("c"), CreatedAt: at, TemplateName: name, TemplateLanguage: "en"}
	}
	a.mustApply(EncodeAcceptMessage(send(1, "ref", "promo", t0+1000)))
	a.mustApply(cmd(t, CmdAcceptMessage, send(2, "ref", "promo", t0+2000)))
	a.mustApply(EncodeAcceptMessage(send(3, "ref", "bill", t0+3000)))
	a.mustApply(EncodeAcceptMessage(send(4, "other", "promo", t0+4000)))
	a.mustApply(cmd(t, CmdAcceptFailedMessage, AcceptFailedMessage{Message: send(5, "ref", "promo", t0+5000),
		Event: &OutboxEvent{Key: detKey(t0+5000, 50), Body: []byte("failed"), CreatedAt: t0 + 5000}}))
	refs := map[string]string{"3001": "ref"}
	if n := f.MarketingSends(refs, t0); n != 2 {
		t.Fatalf("marketing sends since t0: %d, want 2", n)
	}
	if n := f.MarketingSends(refs, t0+1500); n != 1 {
		t.Fatalf("marketing sends since t0+1.5s: %d, want 1", n)
	}
	if n := f.MarketingSends(map[string]string{"3001": "other", "3002": "ref"}, t0); n != 1 {
		t.Fatalf("marketing sends of another consumer: %d, want 1", n)
	}
	a.mustApply(cmd(t, CmdExpire, Expire{Now: t0 + 40*24*3600*1000}))
	if n := f.MarketingSends(map[string]string{"3001": "ref"}, 0) + f.MarketingSends(map[string]string{"3001": "other"}, 0); n != 0 {
		t.Fatalf("marketing sends after expiry: %d, want 0", n)
	}
	if st := f.OBA("3001"); st.Status != OBANotStarted {
		t.Fatalf("OBA status %q, want %s", st.Status, OBANotStarted)
	}
}
