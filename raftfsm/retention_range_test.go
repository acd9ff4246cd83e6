package raftfsm

import (
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestExpireRangeDeletesExactlyThePast: expiry deletes the front of each
// number's key range, and exactly the messages created before that
// number's cut-off (now − its retention): one millisecond before goes, the
// cut-off itself stays. Phone "300" is a key prefix of "3001" and "3002",
// so a range that overran its number would show.
func TestExpireRangeDeletesExactlyThePast(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551111111"))
	a.mustApply(tenantCmd(t, 2, "+15552222222"))
	p := tenantPayload(3, "+15553333333")
	p.PhoneNumberID = "300"
	a.mustApply(cmd(t, CmdCreateTenant, p))
	a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "3002", Hours: 1}))
	a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: "300", Hours: 48}))
	now := t0
	cutoff := map[string]int64{"3001": now - 30*dayMs, "3002": now - hourMs, "300": now - 2*dayMs}
	type msg struct {
		id   string
		gone bool
	}
	var msgs []msg
	for _, phone := range []string{"3001", "3002", "300"} {
		for _, d := range []int64{-5 * dayMs, -2, -1, 0, 1, 3 * hourMs} {
			at := cutoff[phone] + d
			if at > now {
				continue
			}
			msgs = append(msgs, msg{a.inbound(phone, fmt.Sprint("c", d), at), d < 0})
		}
	}
	kept := 0
	for _, m := range msgs {
		if !m.gone {
			kept++
		}
	}
	// A small budget: the deletion resumes where it stopped.
	for r := a.expire(now, 3); r.More; r = a.expire(now, 3) {
	}
	for _, m := range msgs {
		_, err := a.f.MessageByID(m.id)
		switch {
		case m.gone && !errors.Is(err, ErrNotFound):
			t.Errorf("%s is past retention but survived: %v", m.id, err)
		case !m.gone && err != nil:
			t.Errorf("%s is within retention but was deleted: %v", m.id, err)
		}
	}
	if n := a.f.MessageCount(); n != kept {
		t.Fatalf("%d messages left, want %d", n, kept)
	}
	if n := bucketLen(t, a.f, bucketMessageIDs); n != kept {
		t.Fatalf("%d wamid references left, want %d", n, kept)
	}
}

// TestExpireRangeIsExactPerNumber: several numbers with different
// retention classes (30 days, 48 hours, 24 hours, 1 hour), their messages
// interleaved in time so that the connector's queues (keyed by the message
// key alone, all numbers in one order) mix them: inbound messages (plain
// wamids, a message_refs entry each; every other one marked read, so a
// read-receipt entry) and outbound ones (every other one with a keyed
// wamid; all in the pending queue). Whatever the budget per command,
// expiry removes exactly each number's messages before its cut-off with
// every queue entry and reference they had, and nothing of the others.
func TestExpireRangeIsExactPerNumber(t *testing.T) {
	for _, budget := range []int{1, 4, 0} {
		t.Run(fmt.Sprint("budget ", budget), func(t *testing.T) {
			a := &applier{t: t, f: openFSM(t)}
			hours := map[string]int{"3001": 0, "3002": 48, "3003": 24, "3004": 1}
			for i, phone := range []string{"3001", "3002", "3003", "3004"} {
				a.mustApply(tenantCmd(t, i+1, fmt.Sprintf("+1555000%04d", i)))
				a.mustApply(cmd(t, CmdSetRetention, SetRetention{PhoneNumberID: phone, Hours: hours[phone]}))
			}
			now := t0
			cutoff := func(phone string) int64 {
				p, err := a.f.Phone(phone)
				if err != nil {
					t.Fatal(err)
				}
				return now - p.EffectiveRetention().Milliseconds()
			}
			type msg struct {
				phone, wamid string
				key          []byte
				out, read    bool
				gone         bool
			}
			var msgs []msg
			i := 0
			// Offsets from each number's cut-off; the numbers take turns, so
			// their keys interleave in every queue.
			// Within a number, inbound and outbound alternate (and read and
			// unread, keyed and plain wamids), so that each queue has gaps.
			for j, d := range []int{-40 * int(dayMs), -3 * int(hourMs), -1001, -3, -2, -1, 0, 1, 2, 999} {
				for p, phone := range []string{"3001", "3002", "3003", "3004"} {
					at := cutoff(phone) + int64(d)
					i++
					out := (j+p)%2 == 0
					m := msg{phone: phone, gone: d < 0, out: out, read: !out && (j/2)%2 == 0}
					switch {
					case m.out && (j/2+p)%2 == 0: // keyed wamid, as the API issues
						m.wamid, m.key = keyedWAMID(fmt.Sprint(15550000000+i), at, uint64(1000+i))
						a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: m.key, IDRef: MessageIDRef(m.wamid),
							PhoneNumberID: phone, BusinessID: fmt.Sprint(1000 + int(phone[3]-'0')),
							PeerRef: fmt.Sprint("ref-", i), Type: "text", Content: []byte("c"), CreatedAt: at}))
					case m.out:
						m.key = msgKey(at)
						m.wamid = fmt.Sprint("wamid.out.", i)
						a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: m.key, IDRef: MessageIDRef(m.wamid),
							PhoneNumberID: phone, BusinessID: fmt.Sprint(1000 + int(phone[3]-'0')),
							PeerRef: fmt.Sprint("ref-", i), Type: "text", Content: []byte("c"), CreatedAt: at}))
					default:
						m.key = msgKey(at)
						m.wamid = fmt.Sprint("wamid.in.", i)
						a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: m.key, IDRef: MessageIDRef(m.wamid),
							PhoneNumberID: phone, PeerRef: fmt.Sprint("ref-", i), Type: "text", Content: []byte("c"), ReceivedAt: at}))
						if m.read {
							a.mustApply(cmd(t, CmdMarkRead, MarkRead{PhoneNumberID: phone, IDRef: MessageIDRef(m.wamid), At: at}))
						}
					}
					msgs = append(msgs, m)
				}
			}
			for r := a.expire(now, budget); r.More; r = a.expire(now, budget) {
			}
			kept := map[string]int{}
			for _, m := range msgs {
				_, err := a.f.MessageByID(m.wamid)
				switch {
				case m.gone && !errors.Is(err, ErrNotFound):
					t.Errorf("%s of %s is past retention but survived: %v", m.wamid, m.phone, err)
				case !m.gone && err != nil:
					t.Errorf("%s of %s is within retention but was deleted: %v", m.wamid, m.phone, err)
				}
				if !m.gone {
					kept["messages"]++
				}
				var queue []byte
				switch {
				case m.out:
					queue = bucketSignalPending
				case m.read:
					queue = bucketSignalReads
				default:
					continue
				}
				if has := bucketHasKey(t, a.f, queue, m.key); has == m.gone {
					t.Errorf("%s of %s (gone %v): %s entry present %v", m.wamid, m.phone, m.gone, queue, has)
				}
				if !m.gone {
					kept[string(queue)]++
				}
			}
			refs := 0
			for _, m := range msgs {
				if !m.gone && needsRefEntry(MessageIDRef(m.wamid), m.key) {
					refs++
				}
			}
			if n := a.f.MessageCount(); n != kept["messages"] {
				t.Errorf("%d messages left, want %d", n, kept["messages"])
			}
			for _, b := range [][]byte{bucketSignalPending, bucketSignalReads} {
				if n := bucketLen(t, a.f, b); n != kept[string(b)] {
					t.Errorf("%s: %d entries left, want %d", b, n, kept[string(b)])
				}
			}
			if n := bucketLen(t, a.f, bucketMessageIDs); n != refs {
				t.Errorf("%d wamid references left, want %d", n, refs)
			}
		})
	}
}

func bucketHasKey(t *testing.T, f *FSM, b, k []byte) bool {
	t.Helper()
	has := false
	if err := f.View(func(tx *bolt.Tx) error { has = tx.Bucket(b).Get(k) != nil; return nil }); err != nil {
		t.Fatal(err)
	}
	return has
}
