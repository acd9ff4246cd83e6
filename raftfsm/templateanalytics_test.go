package raftfsm

import (
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// TestTemplateAnalyticsCounters: nothing is counted before the WABA
// confirms template analytics; then it sends template and free-form messages,
// moves their statuses (also in one batch, and skipping sent) and checks
// the per-template daily counters; expiry removes the message's template
// entry but keeps the counters.
func TestTemplateAnalyticsCounters(t *testing.T) {
	const t0 = int64(1_767_225_600_000) // 2026-01-01 00:00 UTC
	const day2 = t0 + 24*60*60*1000
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(cmd(t, CmdCreateTenant, tenantPayload(1, "+15551234567")))
	for _, tp := range []Template{
		{ID: "77", WABAID: "2001", BusinessID: "1001", Name: "bill", Language: "en", Category: "UTILITY", Status: "APPROVED",
			Components: []byte(`[{"type":"BODY","text":"Hi"}]`), CreatedAt: t0},
		{ID: "78", WABAID: "2001", BusinessID: "1001", Name: "promo", Language: "en", Category: "MARKETING", Status: "APPROVED",
			Components: []byte(`[{"type":"BODY","text":"Sale"}]`), CreatedAt: t0},
	} {
		a.mustApply(cmd(t, CmdCreateTemplate, CreateTemplate{Template: tp}))
	}
	// Before the WABA confirms template analytics nothing is counted.
	a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: detKey(t0, 99), IDRef: "early", PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref", Type: "template", Content: []byte("c"), CreatedAt: t0, TemplateName: "bill", TemplateLanguage: "en"}))
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{{IDRef: "early", Status: StatusRead, At: t0}}}))
	a.mustApply(cmd(t, CmdEnableTemplateInsights, EnableTemplateInsights{WABAID: "2001", BusinessID: "1001", At: t0}))
	send := func(n uint64, name, typ string, at int64) {
		a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: detKey(at, n), IDRef: MessageIDRef(name + typ + string(rune('a'+n))),
			PhoneNumberID: "3001", BusinessID: "1001", PeerRef: "ref", Type: typ, Content: []byte("c"), CreatedAt: at,
			TemplateName: name, TemplateLanguage: "en", RequireWindow: typ != "template"}))
	}
	status := func(n uint64, name, typ, st string, at int64) StatusUpdate {
		return StatusUpdate{IDRef: MessageIDRef(name + typ + string(rune('a'+n))), Status: st, At: at}
	}
	send(1, "bill", "template", t0+1)
	send(2, "bill", "template", t0+2)
	send(3, "promo", "template", t0+3)
	a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: detKey(t0, 9), IDRef: "in", PhoneNumberID: "3001", PeerRef: "ref", Type: "text", ReceivedAt: t0}))
	send(4, "", "text", t0+4)
	// One entry of several commands: sent and delivered of message 1, read
	// of message 2 straight away (counts sent, delivered and read), the
	// free-form message's statuses (not a template: nothing).
	a.idx++
	f.ApplyBatch([]*raft.Log{entry(a.idx,
		cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{status(1, "bill", "template", StatusSent, t0+10)}}),
		EncodeMessageStatuses(MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
			status(1, "bill", "template", StatusDelivered, t0+11), status(2, "bill", "template", StatusRead, t0+12),
			status(4, "", "text", StatusDelivered, t0+12)}}),
	)})
	// The next day: message 1 read, message 3 sent; a repeated status counts nothing.
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		status(1, "bill", "template", StatusRead, day2+1), status(3, "promo", "template", StatusSent, day2+2),
		status(3, "promo", "template", StatusSent, day2+3)}}))

	rows, err := f.TemplateStats("2001", []string{"77", "78"}, "2026-01-01", "2026-01-02")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.TemplateID+" "+r.Day+" "+r.Metric] = r.Count
	}
	want := map[string]int64{
		"77 2026-01-01 sent": 2, "77 2026-01-01 delivered": 2, "77 2026-01-01 read": 1,
		"77 2026-01-02 read": 1,
		"78 2026-01-02 sent": 1,
	}
	if len(got) != len(want) {
		t.Fatalf("counters %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("counters %v, want %v", got, want)
		}
	}
	if rows, _ := f.TemplateStats("2001", []string{"77"}, "2026-01-02", "2026-01-02"); len(rows) != 1 || rows[0].Metric != TemplateMetricRead {
		t.Fatalf("one day: %v", rows)
	}
	if rows, _ := f.TemplateStats("2002", []string{"77"}, "2026-01-01", "2026-01-02"); len(rows) != 0 {
		t.Fatalf("another WABA sees %v", rows)
	}

	tagged := func() int {
		n := 0
		_ = f.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(bucketTemplateMsgs).Stats().KeyN
			return nil
		})
		return n
	}
	if n := tagged(); n != 3 {
		t.Fatalf("%d template entries, want 3 (one per template message)", n)
	}
	a.mustApply(cmd(t, CmdExpire, Expire{Now: t0 + 40*24*60*60*1000}))
	if n := tagged(); n != 0 || f.MessageCount() != 0 {
		t.Fatalf("after expiry: %d template entries, %d messages", n, f.MessageCount())
	}
	if rows, _ := f.TemplateStats("2001", []string{"77", "78"}, "2026-01-01", "2026-01-02"); len(rows) != 5 {
		t.Fatalf("expiry changed the counters: %v", rows)
	}
}

// TestTemplateInsightsConfirmation: the confirmation is per WABA, refused
// for another business's WABA.
func TestTemplateInsightsConfirmation(t *testing.T) {
	f := openFSM(t)
	a := &applier{t: t, f: f}
	a.mustApply(cmd(t, CmdCreateTenant, tenantPayload(1, "+15551234567")))
	a.mustApply(cmd(t, CmdCreateTenant, tenantPayload(2, "+15552222222")))
	if f.TemplateInsightsEnabled("2001") {
		t.Fatal("enabled before confirmation")
	}
	before := stateOf(t, f)
	if r := a.apply(cmd(t, CmdEnableTemplateInsights, EnableTemplateInsights{WABAID: "2001", BusinessID: "1002", At: 1})); r.Err == nil {
		t.Fatal("another business confirmed the WABA")
	}
	if stateOf(t, f) != before {
		t.Fatal("a refused confirmation changed the state")
	}
	a.mustApply(cmd(t, CmdEnableTemplateInsights, EnableTemplateInsights{WABAID: "2001", BusinessID: "1001", At: 1}))
	if !f.TemplateInsightsEnabled("2001") || f.TemplateInsightsEnabled("2002") {
		t.Fatal("confirmation not per WABA")
	}
}
