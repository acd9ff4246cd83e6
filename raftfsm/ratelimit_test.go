package raftfsm

import (
	"errors"
	"fmt"
	"testing"
)

// textTo is a free-form message n to the consumer ref at at, with an open
// window (RequireWindow off: the limits are what is under test).
func textTo(t testing.TB, n int, ref string, at int64) []byte {
	return cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(n), IDRef: MessageIDRef(fmt.Sprint("x", n)), PhoneNumberID: "3001",
		BusinessID: "1001", PeerRef: ref, Type: "text", CreatedAt: at})
}

// TestPairRateIsMetas: a burst of 45 to one consumer, then one per 6 s;
// a refused message spends nothing; other consumers are unaffected.
func TestPairRateIsMetas(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	n := 0
	send := func(ref string, at int64) error {
		n++
		return a.apply(textTo(t, n, ref, at)).Err
	}
	for i := 0; i < DefaultPairBurst; i++ {
		// 45 within 45 ms (what they earn back meanwhile is negligible).
		if err := send("ref0", st0+int64(i)); err != nil {
			t.Fatalf("burst message %d: %v", i+1, err)
		}
	}
	last := st0 + int64(DefaultPairBurst-1)
	if err := send("ref0", last+1); !errors.Is(err, ErrPairRate) {
		t.Fatalf("46th message: %v, want the pair limit", err)
	}
	if err := send("ref1", last+2); err != nil {
		t.Fatalf("another consumer: %v", err)
	}
	// The burst is paid back at one message per 6 s.
	if err := send("ref0", last+5900); !errors.Is(err, ErrPairRate) {
		t.Fatalf("after 5.9 s: %v, want the pair limit", err)
	}
	if err := send("ref0", last+6000); err != nil {
		t.Fatalf("after 6 s: %v", err)
	}
	if err := send("ref0", last+6001); !errors.Is(err, ErrPairRate) {
		t.Fatalf("right after: %v, want the pair limit", err)
	}
}

// TestThroughputIsExact: 80 messages in one second to different consumers,
// the 81st refused, configurable per number.
func TestThroughputIsExact(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	for i := 0; i < DefaultThroughputMPS; i++ {
		if r := a.apply(textTo(t, i+1, fmt.Sprint("ref", i), st0)); r.Err != nil {
			t.Fatalf("message %d: %v", i+1, r.Err)
		}
	}
	if r := a.apply(textTo(t, 100, "ref-x", st0)); !errors.Is(r.Err, ErrThroughput) {
		t.Fatalf("81st: %v, want the throughput limit", r.Err)
	}
	// 12.5 ms earns one message at 80/s.
	if r := a.apply(textTo(t, 101, "ref-y", st0+13)); r.Err != nil {
		t.Fatalf("after refill: %v", r.Err)
	}
	a.mustApply(cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 2, PairBurst: 1}))
	base := st0 + 10_000
	if r := a.apply(textTo(t, 102, "ref-z", base)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := a.apply(textTo(t, 103, "ref-z", base+1000)); !errors.Is(r.Err, ErrPairRate) {
		t.Fatalf("pair burst 1: %v", r.Err)
	}
	if r := a.apply(textTo(t, 104, "ref-w", base+1)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := a.apply(textTo(t, 105, "ref-v", base+2)); !errors.Is(r.Err, ErrThroughput) {
		t.Fatalf("2 msg/s: %v", r.Err)
	}
}

// TestIdlePairBucketsArePruned: a pair bucket idle for a day goes.
func TestIdlePairBucketsArePruned(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(textTo(t, 1, "ref0", st0))
	a.mustApply(textTo(t, 2, "ref1", st0+1))
	if n := a.f.RateLimitEntries(); n != 3 {
		t.Fatalf("%d entries, want the number's and two pairs", n)
	}
	a.mustApply(textTo(t, 3, "ref2", st0+rateIdleMillis+10))
	if n := a.f.RateLimitEntries(); n != 2 {
		t.Fatalf("%d entries after a day, want the number's and the new pair", n)
	}
}

// TestClosedWindowFailsByWebhook: a free-form send outside the window
// without the proposer's 131047 event is refused and changes nothing
// (mutation window-closed-bumps-stats); with it, it is stored failed, its
// event queued, nothing queued for the network.
func TestClosedWindowFailsByWebhook(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "https://example.com/h", At: st0}))
	ev := &OutboxEvent{Key: statMsgKey(900), Body: []byte("failed"), CreatedAt: st0}
	c := AcceptMessage{Key: statMsgKey(1), IDRef: MessageIDRef("closed"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref0", Type: "text", RequireWindow: true, CreatedAt: st0}
	before := stateOf(t, a.f)
	if r := a.apply(cmd(t, CmdAcceptMessage, c)); !errors.Is(r.Err, ErrWindowClosed) {
		t.Fatalf("without an event: %v", r.Err)
	}
	if stateOf(t, a.f) != before {
		t.Fatal("the refused message changed the state")
	}
	c.ClosedWindowEvent = ev
	a.mustApply(cmd(t, CmdAcceptMessage, c))
	m, err := a.f.MessageByID("closed")
	if err != nil || m.Status != StatusFailed {
		t.Fatalf("message %+v %v", m, err)
	}
	out, err := a.f.Outbox(10)
	if err != nil || len(out) != 1 || string(out[0].Body) != "failed" || out[0].PhoneNumberID != "3001" {
		t.Fatalf("outbox %+v %v", out, err)
	}
	if p, err := a.f.PendingOutbound(nil, 10); err != nil || len(p) != 0 {
		t.Fatalf("queued for the network: %d %v", len(p), err)
	}
}

// TestPairBucketUsedSinceMoves: a pair bucket whose key is a day old but
// which was used since is not dropped: it moves to the key of its last
// use, and goes only once idle for a day from there.
func TestPairBucketUsedSinceMoves(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	ref0 := ratePairKey("3001", "ref0")
	a.mustApply(textTo(t, 1, "ref0", st0))
	a.mustApply(textTo(t, 2, "ref0", st0+20*60*60*1000))
	if at, _ := a.f.pairs.at(ref0); at != st0 {
		t.Fatalf("a use moved the key to %d", at)
	}
	a.mustApply(textTo(t, 3, "ref1", st0+rateIdleMillis+10))
	if at, ok := a.f.pairs.at(ref0); !ok || at != st0+20*60*60*1000 {
		t.Fatalf("after a day: key %d (kept %v), want moved to its last use", at, ok)
	}
	a.mustApply(textTo(t, 4, "ref2", st0+20*60*60*1000+rateIdleMillis+20))
	if _, ok := a.f.pairs.at(ref0); ok {
		t.Fatal("idle for a day and still there")
	}
	if _, ok := a.f.pairs.at(ratePairKey("3001", "ref1")); !ok {
		t.Fatal("a bucket younger than a day was dropped")
	}
	if n := a.f.RateLimitEntries(); n != 3 {
		t.Fatalf("%d entries, want the number's, ref1's and ref2's", n)
	}
}

// TestIdleBucketIsFull: a pair bucket unused for a day counts as full
// whether or not it was pruned yet, even when its burst takes longer than
// a day to earn back (1441 messages at one a minute): pruning changes no
// decision.
func TestIdleBucketIsFull(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 100_000, PairPerMinute: 1, PairBurst: 1441}))
	n := 0
	burst := func(at int64, count int) []Result {
		var cmds [][]byte
		for range count {
			n++
			cmds = append(cmds, textTo(t, n, "ref0", at))
		}
		a.idx++
		return results(t, a.f.Apply(entry(a.idx, cmds...)))
	}
	refusedAt := func(rs []Result) int {
		for i, r := range rs {
			if r.Err != nil {
				if !errors.Is(r.Err, ErrPairRate) {
					t.Fatal(r.Err)
				}
				return i
			}
		}
		return -1
	}
	if i := refusedAt(burst(st0, 1442)); i != 1441 {
		t.Fatalf("first burst refused at %d, want 1441", i)
	}
	// Exactly a day later: the bucket is still stored (nothing pruned it).
	if i := refusedAt(burst(st0+rateIdleMillis, 1442)); i != 1441 {
		t.Fatalf("a day later refused at %d, want 1441 (a full bucket)", i)
	}
}
