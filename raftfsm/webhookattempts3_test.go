package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// msgpackInts are the integers at the edges of every msgpack integer form.
var msgpackInts = []int64{0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, math.MaxInt32, math.MaxInt32 + 1,
	math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64,
	1700000000000, -1700000000000}

// msgpackStrs are strings at the edges of every msgpack string form.
var msgpackStrs = []string{"", "a", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 255),
	strings.Repeat("s", 256), strings.Repeat("s", 65535), strings.Repeat("s", 65536)}

func pick[T any](r *rand.Rand, vs []T) T { return vs[r.IntN(len(vs))] }

func randBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return []byte(pick(r, msgpackStrs))
}

// TestWebhookLogEntryBytesAsMarshal: the hand-written log entry is
// marshal's bytes for every form of every field.
func TestWebhookLogEntryBytesAsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		e := WebhookLogEntry{WABAID: pick(r, msgpackStrs), BusinessID: pick(r, msgpackStrs), CreatedAt: pick(r, msgpackInts),
			Attempts: int(pick(r, msgpackInts)), LastStatus: pick(r, msgpackStrs), LastAttemptAt: pick(r, msgpackInts),
			Outcome: pick(r, msgpackStrs), Body: randBytes(r), PhoneNumberID: pick(r, msgpackStrs), Group: pick(r, msgpackStrs)}
		if got, want := encodeWebhookLogEntry(&e), marshal(e); !bytes.Equal(got, want) {
			t.Fatalf("entry %d: encoded %x…, marshal %x…", i, got[:min(len(got), 64)], want[:min(len(want), 64)])
		}
	}
}

// TestOutboxRecordAsUnmarshal: readOutboxRecord (and viewOutboxRecord,
// its aliasing form) decodes what marshal writes without the msgpack
// decoder, to the same value; other encodings
// of a record (integers as unsigned, fields unknown or repeated, strings
// as nil) and broken ones give what unmarshal gives.
func TestOutboxRecordAsUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	same := func(t *testing.T, v []byte, fast bool) {
		t.Helper()
		var want OutboxEvent
		werr := unmarshal(v, &want)
		got, gerr := readOutboxRecord(v)
		if (werr == nil) != (gerr == nil) || werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%x: got %s, %v; unmarshal %s, %v", v[:min(len(v), 64)], brief(got), gerr, brief(want), werr)
		}
		if _, ok := readOutboxRecordFast(v); ok != fast {
			t.Fatalf("%x: fast path %v, want %v", v[:min(len(v), 64)], ok, fast)
		}
		if werr == nil {
			if got := viewOutboxRecord(v); !reflect.DeepEqual(got, want) {
				t.Fatalf("%x: viewed %s; unmarshal %s", v[:min(len(v), 64)], brief(got), brief(want))
			}
		}
	}
	for i := 0; i < 3000; i++ {
		e := OutboxEvent{Key: randBytes(r), WABAID: pick(r, msgpackStrs), BusinessID: pick(r, msgpackStrs),
			PhoneNumberID: pick(r, msgpackStrs), Body: randBytes(r), CreatedAt: pick(r, msgpackInts),
			Attempts: int(pick(r, msgpackInts)), NextAt: pick(r, msgpackInts), LastStatus: pick(r, msgpackStrs),
			LastAttemptAt: pick(r, msgpackInts), Group: pick(r, msgpackStrs), Held: r.IntN(2) == 0}
		same(t, marshal(e), true)
	}
	rec := marshal(OutboxEvent{Key: []byte("k"), WABAID: "2001", Attempts: 200, Body: []byte("b")})
	other := func(from, to string) []byte {
		t.Helper()
		if !bytes.Contains(rec, []byte(from)) {
			t.Fatalf("%q not in the record", from)
		}
		return bytes.Replace(rec, []byte(from), []byte(to), 1)
	}
	same(t, other("\xa8Attempts\xd1\x00\xc8", "\xa8Attempts\xcc\xc8"), false) // uint8
	same(t, other("\xa6WABAID\xa42001", "\xa6WABAIX\xa42001"), false)         // unknown field
	same(t, other("\xa6WABAID\xa42001", "\xa6WABAID\xc0"), false)             // nil string
	same(t, other("\xa6WABAID\xa42001", "\xa8Attempts\x05"), false)           // repeated field
	same(t, other("\xa4Body\xc4\x01b", "\xa4Body\xa1b"), false)               // bytes as a string
	same(t, append(bytes.Clone(rec), 0), false)                               // trailing byte
	for i := range rec {
		same(t, rec[:i], false) // truncated
	}
}

// brief describes e without its (possibly long) strings.
func brief(e OutboxEvent) string {
	return fmt.Sprintf("key %v/%d body %v/%d strings %d %d %d %d %d ints %d %d %d %d held %v", e.Key == nil, len(e.Key),
		e.Body == nil, len(e.Body), len(e.WABAID), len(e.BusinessID), len(e.PhoneNumberID), len(e.LastStatus), len(e.Group),
		e.CreatedAt, e.Attempts, e.NextAt, e.LastAttemptAt, e.Held)
}

func TestWebhookAttemptsEncoding(t *testing.T) {
	c := WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(1), Delivered: true, Status: "200", At: 5},
		{Key: statMsgKey(2), Status: "503", At: -7, NextAt: 1700000000000},
		{Key: statMsgKey(3), GiveUp: true, Status: "unreadable", At: 9},
	}}
	enc := EncodeWebhookAttempts(c)
	if got, err := DecodeWebhookAttempts(enc[3:]); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if got, err := DecodeWebhookAttempts(EncodeWebhookAttempts(WebhookAttempts{})[3:]); err != nil || got.Attempts != nil {
		t.Fatalf("empty round: %+v, %v", got, err)
	}
	for i := range enc[3:] {
		if _, err := DecodeWebhookAttempts(enc[3 : 3+i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

func FuzzDecodeWebhookAttempts(f *testing.F) {
	f.Add(EncodeWebhookAttempts(WebhookAttempts{Attempts: []WebhookAttempt{{Key: statMsgKey(1), Delivered: true, Status: "200", At: 5}}})[3:])
	f.Add(EncodeWebhookAttempts(WebhookAttempts{})[3:])
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a count far beyond the input
	f.Add([]byte{1, 1, 0, 4, 0, 0, 0})             // flags with an unknown bit
	f.Fuzz(func(t *testing.T, b []byte) { checkCanonical(t, b, DecodeWebhookAttempts, EncodeWebhookAttempts) })
}

// webhookRoundFixture queues events on a fresh state machine: two
// messages with three status events each (all but the oldest held), and
// one event of no message.
func webhookRoundFixture(t *testing.T) *applier {
	a := twoSentMessages(t)
	ev := func(n int) *OutboxEvent {
		return &OutboxEvent{Key: statMsgKey(100 + n), Body: []byte(fmt.Sprint("sealed event ", n)), CreatedAt: st0 + int64(n)}
	}
	var ups []StatusUpdate
	for i, s := range []string{StatusSent, StatusDelivered, StatusRead} {
		ups = append(ups, StatusUpdate{IDRef: MessageIDRef("m1"), Status: s, At: st0 + int64(i), Event: ev(2 * i)},
			StatusUpdate{IDRef: MessageIDRef("m2"), Status: s, At: st0 + int64(i), Event: ev(2*i + 1)})
	}
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: ups}))
	a.mustApply(cmd(t, CmdSetUserPreference, SetUserPreference{PhoneNumberID: "3001", PeerRef: "ref9", Stop: true, At: st0 + 9, Event: ev(9)}))
	return a
}

// TestWebhookRoundV3AsV2: a round in the binary command leaves exactly
// the state CmdWebhookAttemptsV2 leaves — events delivered, failed (with
// their back-off), given up and already gone; each group's next event
// released; the log entries with their bodies, byte for byte.
func TestWebhookRoundV3AsV2(t *testing.T) {
	round := WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(100), Delivered: true, Status: "200", At: st0 + 50},
		{Key: statMsgKey(101), Status: "503", At: st0 + 51, NextAt: st0 + 1051},
		{Key: statMsgKey(102), Delivered: true, Status: "200", At: st0 + 52}, // released by the first
		{Key: statMsgKey(109), GiveUp: true, Status: "not_subscribed", At: st0 + 53},
		{Key: statMsgKey(100), Delivered: true, Status: "200", At: st0 + 54}, // already gone
		{Key: statMsgKey(555), Delivered: true, Status: "200", At: st0 + 54}, // never queued
	}}
	v2, v3 := webhookRoundFixture(t), webhookRoundFixture(t)
	before := stateOf(t, v3.f)
	v2.mustApply(cmd(t, CmdWebhookAttemptsV2, round))
	v3.mustApply(EncodeWebhookAttempts(round))
	after := stateOf(t, v3.f)
	if after == before {
		t.Fatal("the round changed nothing")
	}
	if want := stateOf(t, v2.f); after != want {
		t.Fatalf("state after v3:\n%s\nafter v2:\n%s", after, want)
	}
	var got []string
	if err := v3.f.WebhookLog(func(k []byte, e WebhookLogEntry) bool {
		got = append(got, fmt.Sprintf("%s %s %s", e.Body, e.Outcome, e.LastStatus))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"sealed event 9 dropped not_subscribed", "sealed event 2 delivered 200", "sealed event 0 delivered 200"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
}

// TestWebhookRoundV3PrunesOncePerRound: the log's entries queued more than
// WebhookLogKeep before the round's latest finish go, up to 16 per event
// the round logs; younger ones stay.
func TestWebhookRoundV3PrunesOncePerRound(t *testing.T) {
	a := webhookRoundFixture(t)
	f := a.f
	// 40 old entries (queued before the fixture's events, keys in the
	// same order), logged through the outbox as events of no message.
	for i := 0; i < 40; i++ {
		a.mustApply(cmd(t, CmdSetUserPreference, SetUserPreference{PhoneNumberID: "3001", PeerRef: "ref9", Stop: i%2 == 0, At: st0 - 1000,
			Event: &OutboxEvent{Key: statMsgKey(10 + i), Body: []byte("old"), CreatedAt: st0 - 1000}}))
	}
	var old []WebhookAttempt
	for i := 0; i < 40; i++ {
		old = append(old, WebhookAttempt{Key: statMsgKey(10 + i), Delivered: true, Status: "200", At: st0 + 20})
	}
	a.mustApply(EncodeWebhookAttempts(WebhookAttempts{Attempts: old}))
	count := func() (n int) {
		if err := f.WebhookLog(func([]byte, WebhookLogEntry) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 40 {
		t.Fatalf("%d entries logged, want 40", n)
	}
	week := WebhookLogKeep.Milliseconds()
	// One event logged a week later: 16 old entries go (and not the new one).
	a.mustApply(EncodeWebhookAttempts(WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(109), Delivered: true, Status: "200", At: st0 - 500 + week}}}))
	if n := count(); n != 40+1-16 {
		t.Fatalf("%d entries after one event a week later, want %d", n, 40+1-16)
	}
	// Two events, the later one deciding the horizon: 32 more may go, 24 old are left.
	a.mustApply(EncodeWebhookAttempts(WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(100), Delivered: true, Status: "200", At: st0 + 12},
		{Key: statMsgKey(101), Delivered: true, Status: "200", At: st0 - 500 + week}}}))
	if n := count(); n != 3 {
		t.Fatalf("%d entries after the second round, want 3", n)
	}
}

// TestWebhookRoundV3AsV2ManyEvents: rounds over many events, each the only
// one of its message, with bodies the size of a sealed status event (so
// the outbox, its groups and the log span many pages), in an order other
// than the keys' and with every outcome, leave exactly the state
// CmdWebhookAttemptsV2 leaves, and the delivered events' bodies in the
// log byte for byte.
func TestWebhookRoundV3AsV2ManyEvents(t *testing.T) {
	const n = 600
	body := func(i int) []byte { return append(bytes.Repeat([]byte{byte(i)}, 700), fmt.Sprint(i)...) }
	key := func(i int) []byte { // the same in both fixtures (msgKey counts)
		var k [16]byte
		binary.BigEndian.PutUint64(k[:8], uint64(t0+int64(i))*uint64(time.Millisecond))
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		return k[:]
	}
	fixture := func() *applier {
		a := &applier{t: t, f: openFSM(t)}
		a.mustApply(tenantCmd(t, 1, "+15551234567"))
		a.mustApply(cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
		for i := 0; i < n; i++ {
			a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: key(i), IDRef: MessageIDRef(fmt.Sprint("wamid.many.", i)),
				PhoneNumberID: "3001", PeerRef: "ref-c", PeerSealed: []byte("sealed"), Type: "text", Content: []byte("c"),
				ReceivedAt: t0 + int64(i), Event: &OutboxEvent{Key: key(i), Body: body(i), CreatedAt: t0 + int64(i)}}))
		}
		return a
	}
	r := rand.New(rand.NewPCG(5, 6))
	var rounds []WebhookAttempts
	for _, size := range []int{250, 250, 300} {
		var c WebhookAttempts
		for j := 0; j < size; j++ {
			i := r.IntN(n + 20) // a few never queued
			a := WebhookAttempt{Key: key(i), Status: "200", At: t0 + int64(n+j)}
			switch r.IntN(4) {
			case 0:
				a.Status, a.NextAt = "503", t0+int64(n+j+1000)
			case 1:
				a.GiveUp, a.Status = true, "unreadable"
			default:
				a.Delivered = true
			}
			c.Attempts = append(c.Attempts, a)
		}
		rounds = append(rounds, c)
	}
	v2, v3 := fixture(), fixture()
	for _, c := range rounds {
		v2.mustApply(cmd(t, CmdWebhookAttemptsV2, c))
		v3.mustApply(EncodeWebhookAttempts(c))
	}
	if got, want := stateOf(t, v3.f), stateOf(t, v2.f); got != want {
		t.Fatal("state after the v3 rounds differs from after v2")
	}
	logged := 0
	if err := v3.f.WebhookLog(func(k []byte, e WebhookLogEntry) bool {
		i := int(binary.BigEndian.Uint64(k[8:]))
		if !bytes.Equal(e.Body, body(i)) {
			t.Fatalf("log entry %d: body %q…", i, e.Body[:min(len(e.Body), 16)])
		}
		logged++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if left, _ := v3.f.Outbox(n); logged == 0 || len(left) == 0 || logged+len(left) != n {
		t.Fatalf("%d logged, %d left in the outbox, want %d in all", logged, len(left), n)
	}
}
