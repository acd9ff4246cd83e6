package raftfsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

// t0 is a fixed "now" of the tests (unix ms), on a day boundary.
var t0 = int64(20000) * dayMs

// retentionFixture is an FSM with two tenants: phone 3001 (default
// retention, 30 days) and phone 3002 (set to 1 hour), both subscribed to
// webhooks.
func retentionFixture(t *testing.T) *applier {
	t.Helper()
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(tenantCmd(t, 2, "+15552222222"))
	for _, w := range []string{"2001", "2002"} {
		n := w[3:]
		a.mustApply(cmd(t, CmdSetSubscription, SetSubscription{WABAID: w, BusinessID: "100" + n, AppID: "400" + n, CallbackURL: "http://x"}))
	}
	a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3002", Hours: 1}))
	return a
}

var seq uint64

func msgKey(at int64) []byte {
	seq++
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], uint64(at)*uint64(time.Millisecond))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k[:]
}

// inbound records an inbound message (with window and webhook event) at
// time at; it returns the wamid.
func (a *applier) inbound(phone, consumer string, at int64) string {
	a.t.Helper()
	key := msgKey(at)
	wamid := fmt.Sprintf("wamid.%s.%s.%d.%d", phone, consumer, at, seq)
	a.mustApply(cmd(a.t, CmdRecordInbound, RecordInbound{Key: key, IDRef: MessageIDRef(wamid), PhoneNumberID: phone,
		PeerRef: "ref-" + consumer, PeerSealed: []byte("sealed"), Type: "text", Content: []byte("c"), ReceivedAt: at,
		Event: &OutboxEvent{Key: key, Body: []byte("sealed-body"), CreatedAt: at}}))
	return wamid
}

// outbound accepts an outbound template message at time at.
func (a *applier) outbound(phone, business, consumer string, at int64) string {
	a.t.Helper()
	wamid := fmt.Sprintf("wamid.out.%s.%d.%d", phone, at, seq)
	a.mustApply(cmd(a.t, CmdAcceptMessage, AcceptMessage{Key: msgKey(at), IDRef: MessageIDRef(wamid), PhoneNumberID: phone,
		BusinessID: business, PeerRef: "ref-" + consumer, Type: "template", Content: []byte("c"), CreatedAt: at}))
	return wamid
}

func (a *applier) expire(now int64, budget int) ExpireResult {
	a.t.Helper()
	r := a.apply(cmd(a.t, CmdExpire, Expire{Now: now, Budget: budget}))
	if r.Err != nil {
		a.t.Fatal(r.Err)
	}
	er, err := DecodeExpireResult(r.Value)
	if err != nil {
		a.t.Fatal(err)
	}
	return er
}

func bucketLen(t *testing.T, f *FSM, b []byte) int {
	t.Helper()
	n := 0
	if err := f.View(func(tx *bolt.Tx) error { n = tx.Bucket(b).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRetentionBounds(t *testing.T) {
	a := retentionFixture(t)
	for _, h := range []int{-1, 721, 100000} {
		before := dumpOf(t, a.f)
		if r := a.apply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3001", Hours: h})); !errors.Is(r.Err, ErrInvalid) {
			t.Fatalf("hours %d: %v", h, r.Err)
		}
		if after := dumpOf(t, a.f); stripMeta(after) != stripMeta(before) {
			t.Fatalf("hours %d: failed command changed state", h)
		}
	}
	if r := a.apply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "9999", Hours: 2})); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("unknown phone: %v", r.Err)
	}
	for h, want := range map[int]time.Duration{0: 720 * time.Hour, 1: time.Hour, 24: 24 * time.Hour, 720: 720 * time.Hour} {
		a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3001", Hours: h}))
		if p, _ := a.f.Phone("3001"); p.EffectiveRetention() != want {
			t.Fatalf("hours %d: retention %v, want %v", h, p.EffectiveRetention(), want)
		}
	}
	for d, want := range map[time.Duration]time.Duration{0: MaxRetention, time.Minute: time.Hour, 90 * time.Minute: 2 * time.Hour,
		365 * 24 * time.Hour: MaxRetention} {
		if got := NormalizeRetention(d); got != want {
			t.Fatalf("NormalizeRetention(%v) = %v, want %v", d, got, want)
		}
	}
}

func stripMeta(dump string) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		if !strings.HasPrefix(l, "meta ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExpireDeletesPastEachPhonesCutoff: messages, their ids and indexes,
// windows and webhook events go exactly when past their own phone's
// retention; everything else stays.
func TestExpireDeletesPastEachPhonesCutoff(t *testing.T) {
	a := retentionFixture(t)
	now := t0
	// Phone 3001 (30 days): one message 31 days old, one 29 days old.
	old1 := a.inbound("3001", "A", now-31*dayMs)
	keep1 := a.inbound("3001", "B", now-29*dayMs)
	out1 := a.outbound("3001", "1001", "B", now-29*dayMs+1)
	// Phone 3002 (1 hour): one message 2 hours old, one 30 minutes old.
	old2 := a.inbound("3002", "C", now-2*hourMs)
	keep2 := a.inbound("3002", "D", now-hourMs/2)
	// A window of 3001 that is 25 hours old (past 24 h) but whose message
	// is kept: the window goes, the message stays.
	keep3 := a.inbound("3001", "E", now-25*hourMs)
	tenants := bucketDump(t, a.f, bucketPhones)

	r := a.expire(now, 0)
	if r.More || r.Deleted == 0 {
		t.Fatalf("result %+v", r)
	}
	for _, id := range []string{old1, old2} {
		if _, err := a.f.MessageByID(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s survived expiry: %v", id, err)
		}
	}
	for _, id := range []string{keep1, out1, keep2, keep3} {
		if _, err := a.f.MessageByID(id); err != nil {
			t.Fatalf("%s deleted too early: %v", id, err)
		}
	}
	if n := bucketLen(t, a.f, bucketMessages); n != 4 {
		t.Fatalf("%d messages left, want 4", n)
	}
	for _, b := range [][]byte{bucketMessageIDs} {
		if n := bucketLen(t, a.f, b); n != 4 {
			t.Fatalf("%s: %d entries left, want 4", b, n)
		}
	}
	// Windows: only D's (30 min, within 3002's hour) is left; B's is 29
	// days old, E's 25 hours; A's and C's went with their messages.
	if n := bucketLen(t, a.f, bucketWindows); n != 1 {
		t.Fatalf("%d windows left, want 1", n)
	}
	if n := bucketLen(t, a.f, bucketWindowsByTime); n != 1 {
		t.Fatalf("%d window index entries left, want 1", n)
	}
	// Outbox: events of A (31 d) and C (2 h) went; B, D, E stay.
	if evs, _ := a.f.Outbox(0); len(evs) != 3 {
		t.Fatalf("%d outbox events left, want 3", len(evs))
	}
	if bucketDump(t, a.f, bucketPhones) != tenants {
		t.Fatal("expiry changed phone records")
	}
	// Running again at the same now deletes nothing.
	if r := a.expire(now, 0); r.Deleted != 0 || r.More {
		t.Fatalf("second run %+v", r)
	}
}

func bucketDump(t *testing.T, f *FSM, b []byte) string {
	t.Helper()
	var out strings.Builder
	for _, l := range strings.Split(dumpOf(t, f), "\n") {
		if strings.HasPrefix(l, string(b)+" ") {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}

// TestExpireBudgetResumable: a small budget deletes at most that much per
// command, reports More, and repeated commands end in the same state as
// one unbounded command.
func TestExpireBudgetResumable(t *testing.T) {
	build := func() *applier {
		a := retentionFixture(t)
		seq = 0
		for i := range 23 {
			a.inbound("3002", fmt.Sprint("c", i), t0-3*hourMs+int64(i))
			a.inbound("3001", fmt.Sprint("d", i), t0-40*dayMs+int64(i))
		}
		a.inbound("3002", "keep", t0-hourMs/2)
		return a
	}
	small, big := build(), build()
	cmds := 0
	for {
		r := small.expire(t0, 7)
		cmds++
		if r.Deleted > 7 {
			t.Fatalf("command %d deleted %d, budget 7", cmds, r.Deleted)
		}
		if !r.More {
			break
		}
		if cmds > 100 {
			t.Fatal("expiry never finishes")
		}
	}
	// 46 messages + 46 windows + 46 events = 138 deletions ≥ 20 commands.
	if cmds < 138/7 {
		t.Fatalf("only %d commands", cmds)
	}
	if r := big.expire(t0, MaxExpireBudget); r.More || r.Deleted != 138 {
		t.Fatalf("unbounded: %+v", r)
	}
	if stripMeta(dumpOf(t, small.f)) != stripMeta(dumpOf(t, big.f)) {
		t.Fatal("resumed expiry ends in another state than one command")
	}
}

// TestDataKeyDestruction: keys go only after their period plus their
// class's retention, only when the command finished its deletions, and a
// late proposer cannot bring a destroyed period back.
func TestDataKeyDestruction(t *testing.T) {
	a := retentionFixture(t)
	at := time.UnixMilli(t0 - 3*hourMs) // 3 hours before now
	hourly := DataKeyID(time.Hour, at)
	daily := DataKeyID(MaxRetention, at)
	day12 := DataKeyID(12*time.Hour, at) // hourly keys, 12 h class
	recent := DataKeyID(time.Hour, time.UnixMilli(t0-30*60*1000))
	if daily != uint32((t0-3*hourMs)/dayMs) {
		t.Fatalf("default class id %d is not the unix day", daily)
	}
	if hourly == daily || hourly == day12 || hourly == recent {
		t.Fatal("key ids collide")
	}
	for _, id := range []uint32{hourly, daily, day12, recent} {
		a.mustApply(cmd(t, CmdPutDataKey, PutDataKey{Day: id, Wrapped: []byte{1}}))
	}
	// Budget exhausted: no key is destroyed yet.
	a.inbound("3002", "x", t0-2*hourMs)
	if r := a.expire(t0, 1); !r.More || len(r.DestroyedKeys) != 0 {
		t.Fatalf("budget-limited run %+v", r)
	}
	var r ExpireResult
	for r = a.expire(t0, 1); r.More; r = a.expire(t0, 1) {
	}
	// The 1 h key of 3 h ago: period ended 2 h ago, + 1 h retention → gone.
	if len(r.DestroyedKeys) != 1 || r.DestroyedKeys[0] != hourly {
		t.Fatalf("destroyed %v, want [%d]", r.DestroyedKeys, hourly)
	}
	if _, err := a.f.DataKey(hourly); !errors.Is(err, ErrNotFound) {
		t.Fatal("destroyed key still stored")
	}
	for _, id := range []uint32{daily, day12, recent} {
		if _, err := a.f.DataKey(id); err != nil {
			t.Fatalf("key %d destroyed too early", id)
		}
	}
	// A late proposer cannot put the destroyed period back.
	if res := a.apply(cmd(t, CmdPutDataKey, PutDataKey{Day: hourly, Wrapped: []byte{2}})); !errors.Is(res.Err, ErrExpired) {
		t.Fatalf("re-adding a destroyed key: %v", res.Err)
	}
	// 31 days on, every one of them is gone.
	r = a.expire(t0+31*dayMs, 0)
	if len(r.DestroyedKeys) != 3 {
		t.Fatalf("destroyed %v", r.DestroyedKeys)
	}
	if ids, _ := a.f.DataKeyIDs(); len(ids) != 0 {
		t.Fatalf("keys left: %v", ids)
	}
	if a.f.ExpiredThrough() != t0+31*dayMs {
		t.Fatal("expired-through mark")
	}
}

// TestExpireHook: the hook sees each CmdExpire's result after commit.
func TestExpireHook(t *testing.T) {
	a := retentionFixture(t)
	var got []ExpireResult
	a.f.SetExpireHook(func(r ExpireResult) {
		// The transaction has committed: reads see the deletion.
		if a.f.MessageCount() != 0 {
			t.Error("hook ran before commit")
		}
		got = append(got, r)
	})
	a.inbound("3002", "x", t0-2*hourMs)
	a.expire(t0, 0)
	if len(got) != 1 || got[0].Deleted != 3 {
		t.Fatalf("hook saw %+v", got)
	}
}

func TestExpireRejectsMissingNow(t *testing.T) {
	a := retentionFixture(t)
	if r := a.apply(cmd(t, CmdExpire, Expire{})); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("expire without now: %v", r.Err)
	}
}

// distinctRefs lists the consumer references held in the distinct-consumer
// sets (in-memory entries and the time index on disk).
func distinctRefs(t *testing.T, f *FSM) []string {
	t.Helper()
	var refs []string
	for _, e := range indexEntries(f.sets.consumerIndex) {
		if e.slot != slotPair && strings.HasPrefix(e.ref, "ref-") {
			refs = append(refs, "distinct:"+e.ref)
		}
	}
	err := f.View(func(tx *bolt.Tx) error {
		// One per set a time-index key holds the consumer in.
		return tx.Bucket(bucketDistinctTimes).ForEach(func(k, v []byte) error {
			if i := strings.LastIndex(string(k), "ref-"); i >= 0 {
				for _, bit := range []byte{distinctBitTier, distinctBitReach} {
					if len(v) == 1 && v[0]&bit != 0 {
						refs = append(refs, string(bucketDistinctTimes)+":"+string(k[i:]))
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// TestExpirePrunesDistinctSets: the expire command drops distinct-consumer
// entries past their rolling window (tier 24 h, reach 7 days) even when the
// number sends nothing more, so a consumer reference does not outlive the
// window; the tier count stays exact.
func TestExpirePrunesDistinctSets(t *testing.T) {
	a := retentionFixture(t)
	a.outbound("3001", "1001", "alice", t0) // a template outside the window: tier and reach
	a.outbound("3001", "1001", "bob", t0+dayMs/2)
	if got := len(distinctRefs(t, a.f)); got != 8 {
		t.Fatalf("%d distinct entries and index entries before expiry, want 8", got)
	}

	a.expire(t0+dayMs+1, 0) // alice's tier entry is past 24 h
	refs := distinctRefs(t, a.f)
	if !slices.Contains(refs, "distinct:ref-alice") || len(refs) != 6 {
		t.Fatalf("after 24 h: %v", refs)
	}
	var live int64
	_ = a.f.View(func(tx *bolt.Tx) error {
		live = counter(tx.Bucket(bucketDistinct), distinctCountKey(setTier, "3001"))
		return nil
	})
	if live != 1 {
		t.Fatalf("tier count %d after pruning, want 1 (bob)", live)
	}

	// Past 7 days both are gone, though their messages (30-day retention)
	// are still stored.
	r := a.expire(t0+8*dayMs, 0)
	if refs := distinctRefs(t, a.f); len(refs) != 0 || r.Deleted != 3 {
		t.Fatalf("after 8 days: %v, deleted %d", refs, r.Deleted)
	}
	if a.f.MessageCount() != 2 {
		t.Fatal("the messages went with the distinct entries")
	}
}
