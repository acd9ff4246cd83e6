package raftfsm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

const dayMS = 24 * 60 * 60 * 1000

// st0 is 2026-03-10 00:00:00 UTC.
const st0 = int64(1773100800000)

func statMsgKey(n int) []byte {
	k := make([]byte, 16)
	k[8], k[14], k[15] = 0xAA, byte(n>>8), byte(n)
	return k
}

// statsLog is a tenant (phone 3001, WABA 2001) with an approved MARKETING
// template "promo"/en, an inbound text, a reply inside the window, a
// template outside it and their statuses (across a day boundary).
func statsLog(t testing.TB) [][]byte {
	return [][]byte{
		tenantCmd(t, 1, "+15551234567"),
		cmd(t, CmdCreateTemplate, CreateTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
			Name: "promo", Language: "en", Category: "MARKETING", CreatedAt: st0}}),
		cmd(t, CmdSetTemplateStatus, SetTemplateStatus{ID: "77", Status: "APPROVED", At: st0}),
		cmd(t, CmdRecordInbound, RecordInbound{Key: statMsgKey(1), IDRef: MessageIDRef("in1"), PhoneNumberID: "3001",
			PeerRef: "refA", Type: "text", ReceivedAt: st0 + 1000}),
		cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(2), IDRef: MessageIDRef("o1"), PhoneNumberID: "3001", BusinessID: "1001",
			PeerRef: "refA", Type: "text", RequireWindow: true, CreatedAt: st0 + 2000}),
		cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(3), IDRef: MessageIDRef("o2"), PhoneNumberID: "3001", BusinessID: "1001",
			PeerRef: "refB", Type: "template", TemplateName: "promo", TemplateLanguage: "en", CreatedAt: st0 + 3000}),
		cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
			{IDRef: MessageIDRef("o1"), Status: StatusSent, At: st0 + 4000},
			{IDRef: MessageIDRef("o2"), Status: StatusSent, At: st0 + 4000},
			{IDRef: MessageIDRef("o1"), Status: StatusDelivered, At: st0 + 5000},
		}}),
		// A receipt that jumps straight to read, the next day: delivered
		// and read both count once, on that day.
		cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
			{IDRef: MessageIDRef("o2"), Status: StatusRead, At: st0 + dayMS + 1},
			{IDRef: MessageIDRef("o2"), Status: StatusDelivered, At: st0 + dayMS + 2}, // backwards: ignored
		}}),
		// A template whose name is unknown is priced as service; it fails.
		cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(4), IDRef: MessageIDRef("o3"), PhoneNumberID: "3001", BusinessID: "1001",
			PeerRef: "refC", Type: "template", TemplateName: "gone", TemplateLanguage: "en", CreatedAt: st0 + dayMS + 3}),
		cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Failed: []StatusUpdate{
			{IDRef: MessageIDRef("o3"), Status: StatusFailed, At: st0 + dayMS + 4}}}),
	}
}

func statLines(t *testing.T, f *FSM, phones []string, from, to string) string {
	t.Helper()
	rows, err := f.Stats(phones, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s %s %s %s %s %d\n", r.PhoneNumberID, r.Day, r.Direction, r.Type, r.Status, r.Category, r.Count)
	}
	return b.String()
}

func TestStatsCounters(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	for _, c := range statsLog(t) {
		a.mustApply(c)
	}
	want := `3001 2026-03-10 in text received service 1
3001 2026-03-10 out template accepted marketing 1
3001 2026-03-10 out template sent marketing 1
3001 2026-03-10 out text accepted service 1
3001 2026-03-10 out text delivered service 1
3001 2026-03-10 out text sent service 1
3001 2026-03-11 out template accepted service 1
3001 2026-03-11 out template delivered marketing 1
3001 2026-03-11 out template failed service 1
3001 2026-03-11 out template read marketing 1
`
	if got := statLines(t, a.f, nil, "", ""); got != want {
		t.Fatalf("stats:\n%s\nwant:\n%s", got, want)
	}
	if got := statLines(t, a.f, []string{"3001"}, "2026-03-11", "2026-03-11"); got != want[strings.Index(want, "3001 2026-03-11"):] {
		t.Fatalf("day range:\n%s", got)
	}
	if got := statLines(t, a.f, []string{"9999"}, "", ""); got != "" {
		t.Fatalf("other phone: %q", got)
	}
	// No consumer reference or number appears in the stats bucket.
	if d := dumpOf(t, a.f); strings.Contains(d, fmt.Sprintf("%x", "refA")) && !strings.Contains(d, "distinct") {
		t.Fatal("consumer reference outside the rolling sets")
	}
	// Counters outlive the messages: expire everything.
	a.mustApply(cmd(t, CmdExpire, Expire{Now: st0 + 40*dayMS}))
	if a.f.MessageCount() != 0 {
		t.Fatal("messages not expired")
	}
	if got := statLines(t, a.f, nil, "", ""); got != want {
		t.Fatalf("stats after expiry:\n%s", got)
	}
}

func TestStatsDeterministicAcrossBatches(t *testing.T) {
	cmds := statsLog(t)
	var dumps []string
	for _, group := range []int{1, 3, len(cmds)} {
		f := openFSM(t)
		idx := uint64(0)
		for i := 0; i < len(cmds); i += group {
			// group commands in one entry, and two entries per batch
			idx++
			e := entry(idx, cmds[i:min(i+group, len(cmds))]...)
			f.ApplyBatch([]*raft.Log{e})
		}
		dumps = append(dumps, statLines(t, f, nil, "", ""))
	}
	for i := range dumps {
		if dumps[i] != dumps[0] || dumps[i] == "" {
			t.Fatalf("grouping %d differs:\n%s\n---\n%s", i, dumps[0], dumps[i])
		}
	}
}

// tierFixture: phone 3001 at TIER_250 with an approved UTILITY template.
func tierFixture(t *testing.T) *applier {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(cmd(t, CmdCreateTemplate, CreateTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "bill", Language: "en", Category: "UTILITY", CreatedAt: st0}}))
	a.mustApply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: Tier250}))
	// Hundreds of sends a millisecond apart: above the default 80 msg/s.
	a.mustApply(cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 100000}))
	return a
}

func templateTo(t testing.TB, n int, ref string, at int64) []byte {
	return cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(n), IDRef: MessageIDRef(fmt.Sprint("t", n)), PhoneNumberID: "3001",
		BusinessID: "1001", PeerRef: ref, Type: "template", TemplateName: "bill", TemplateLanguage: "en", CreatedAt: at})
}

func TestMessagingTierEnforced(t *testing.T) {
	a := tierFixture(t)
	if r := a.apply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: "TIER_7"})); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("unknown tier: %v", r.Err)
	}
	// 250 distinct consumers in one entry (one transaction).
	var batch [][]byte
	for i := 0; i < 250; i++ {
		batch = append(batch, templateTo(t, i+1, fmt.Sprint("ref", i), st0+int64(i)))
	}
	a.idx++
	for i, r := range results(t, a.f.Apply(entry(a.idx, batch...))) {
		if r.Err != nil {
			t.Fatalf("send %d: %v", i, r.Err)
		}
	}
	if n := a.f.ReachedToday("3001", st0+1000); n != 250 {
		t.Fatalf("reached %d", n)
	}
	before := stateOf(t, a.f)
	// The 251st distinct consumer is refused and nothing changes.
	if r := a.apply(templateTo(t, 1000, "ref-new", st0+1000)); !errors.Is(r.Err, ErrMessagingLimit) {
		t.Fatalf("over the limit: %v", r.Err)
	}
	if after := stateOf(t, a.f); after != before {
		t.Fatal("refusal left state behind")
	}
	// A consumer already reached may be messaged again.
	if r := a.apply(templateTo(t, 1001, "ref7", st0+2000)); r.Err != nil {
		t.Fatalf("repeat consumer: %v", r.Err)
	}
	// A template inside the customer service window is not business-initiated.
	a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: statMsgKey(1002), IDRef: MessageIDRef("in"), PhoneNumberID: "3001",
		PeerRef: "ref-open", Type: "text", ReceivedAt: st0 + 3000}))
	if r := a.apply(templateTo(t, 1003, "ref-open", st0+4000)); r.Err != nil {
		t.Fatalf("inside the window: %v", r.Err)
	}
	// Raising the tier admits the new consumer.
	a.mustApply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: Tier1K}))
	if r := a.apply(templateTo(t, 1004, "ref-new", st0+5000)); r.Err != nil {
		t.Fatalf("after raising the tier: %v", r.Err)
	}
	a.mustApply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: Tier250}))
	if r := a.apply(templateTo(t, 1005, "ref-new2", st0+6000)); !errors.Is(r.Err, ErrMessagingLimit) {
		t.Fatalf("back at 250: %v", r.Err)
	}
	// 24 hours after the first sends, their consumers no longer count.
	if r := a.apply(templateTo(t, 1006, "ref-new2", st0+dayMS+300)); r.Err != nil {
		t.Fatalf("a day later: %v", r.Err)
	}
	// Left in the set: ref7 (st0+2000), ref-new and ref-new2; ref-open never counted.
	if n := a.f.ReachedToday("3001", st0+dayMS+300); n != 3 {
		t.Fatalf("reached %d a day later", n)
	}
}

func integrity(t testing.TB, kind string, n int, at int64, ref string) []byte {
	ev := func(r string) *OutboxEvent {
		k := append(be64(at), 0, 0, 0, 0, 0, 0, 0, r[0])
		return &OutboxEvent{Key: k, Body: []byte("sealed " + r), CreatedAt: at}
	}
	return cmd(t, CmdRecordIntegrity, RecordIntegrity{PhoneNumberID: "3001", Kind: kind, Count: n, At: at, DeliveryRef: ref,
		Events: QualityEvents{Green: ev("G"), Yellow: ev("Y"), Red: ev("R")}})
}

func TestQualityRatingTransitions(t *testing.T) {
	a := tierFixture(t)
	a.mustApply(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: TierUnlimited}))
	a.mustApply(cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
	var batch [][]byte
	for i := 0; i < 100; i++ { // 100 distinct consumers reached
		batch = append(batch, templateTo(t, i+1, fmt.Sprint("ref", i), st0+int64(i)))
	}
	a.idx++
	a.f.Apply(entry(a.idx, batch...))

	outbox := func() []string {
		evs, err := a.f.Outbox(100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, string(e.Body))
		}
		return out
	}
	step := func(c []byte, rating string, changed bool) {
		t.Helper()
		r := a.apply(c)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		res, err := DecodeIntegrityResult(r.Value)
		if err != nil || res.Rating != rating || res.Changed != changed {
			t.Fatalf("got %+v %v, want %s changed=%v", res, err, rating, changed)
		}
		if p, _ := a.f.Phone("3001"); QualityOf(p) != rating {
			t.Fatalf("stored %s", QualityOf(p))
		}
	}
	day := st0 + dayMS
	step(integrity(t, SignalSpamReport, 1, day, "d1"), QualityGreen, false)
	step(integrity(t, SignalBlock, 1, day+1000, "d2"), QualityGreen, false)
	step(integrity(t, SignalSpamReport, 1, day+2000, "d3"), QualityYellow, true) // 3 per 100
	if got := outbox(); len(got) != 1 || got[0] != "sealed Y" {
		t.Fatalf("outbox after YELLOW: %q", got)
	}
	// A redelivered signal is refused and not counted.
	if r := a.apply(integrity(t, SignalSpamReport, 1, day+3000, "d3")); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("redelivery: %v", r.Err)
	}
	step(integrity(t, SignalNewRecipientRate, 1, day+4000, "d4"), QualityYellow, false) // no second webhook
	step(integrity(t, SignalBlock, 2, day+5000, "d5"), QualityRed, true)                // 5 per 100
	step(integrity(t, SignalUnblock, 1, day+6000, "d6"), QualityYellow, true)
	if got := outbox(); len(got) != 3 || got[1] != "sealed R" || got[2] != "sealed Y" {
		t.Fatalf("outbox: %q", got)
	}
	// Eight days later the old signals have left the window (and so have
	// the consumers reached): back to GREEN.
	step(integrity(t, SignalSpamReport, 1, day+8*dayMS, "d7"), QualityGreen, true)
	if got := outbox(); len(got) != 4 || got[3] != "sealed G" {
		t.Fatalf("outbox: %q", got)
	}
	rows, _ := a.f.Integrity("3001", "", "")
	if len(rows) != 5 {
		t.Fatalf("integrity rows %+v", rows)
	}
	if r := a.apply(integrity(t, "hug", 1, day, "x")); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("unknown kind: %v", r.Err)
	}
}

// TestBatchDayIsDay: the batch's cached day is Day at and around
// midnight, back and forth (late proposers), and before 1970.
func TestBatchDayIsDay(t *testing.T) {
	b := &applyBatch{}
	for _, at := range []int64{st0, st0 + dayMS - 1, st0 + dayMS, st0 - 1, st0, 0, -1, -dayMS, -dayMS - 1, st0 + 5*dayMS + 7} {
		if got, want := b.dayOf(at), Day(at); got != want {
			t.Errorf("dayOf(%d) = %s, want %s", at, got, want)
		}
	}
}
