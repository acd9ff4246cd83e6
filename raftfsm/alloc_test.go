package raftfsm

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// TestArenaPiecesAreDisjoint: a piece has exactly the capacity asked
// for, filling one never changes another, reset hands the same memory
// out again, a piece too large for a chunk is its own allocation, a nil
// arena allocates, and the chunks kept between batches are bounded.
func TestArenaPiecesAreDisjoint(t *testing.T) {
	var a arena
	var pieces [][]byte
	for i := range 3 * arenaChunk / 100 { // several chunks
		n := 1 + i%150
		p := a.take(n)
		if len(p) != 0 || cap(p) != n {
			t.Fatalf("take(%d): len %d cap %d", n, len(p), cap(p))
		}
		pieces = append(pieces, append(p, bytes.Repeat([]byte{byte(i)}, n)...))
	}
	for i, p := range pieces {
		if !bytes.Equal(p, bytes.Repeat([]byte{byte(i)}, len(p))) {
			t.Fatalf("piece %d was overwritten", i)
		}
	}
	if got := a.bytes("3001"); string(got) != "3001" || cap(got) != 4 {
		t.Fatalf("bytes: %q cap %d", got, cap(got))
	}
	first := a.chunks[0]
	a.reset()
	if p := a.take(8); &p[:1][0] != &first[0] {
		t.Fatal("reset does not reuse the first chunk")
	}
	if big := a.take(arenaChunk); cap(big) != arenaChunk || &big[:1][0] == &first[0] {
		t.Fatal("a large piece must be its own allocation")
	}
	var none *arena
	if p := none.take(5); cap(p) != 5 {
		t.Fatal("nil arena")
	}
	for range 8 * (arenaKeep + 3) {
		a.take(arenaChunk / 8)
	}
	if len(a.chunks) <= arenaKeep {
		t.Fatalf("expected more than %d chunks, have %d", arenaKeep, len(a.chunks))
	}
	a.reset()
	if len(a.chunks) != arenaKeep {
		t.Fatalf("reset keeps %d chunks, want %d", len(a.chunks), arenaKeep)
	}
}

// TestAcceptedRecordsSurviveArenaReuse: the values an accept puts live in
// the FSM's arena, which the next batch reuses. Every record, pending
// entry and pair bucket written by many batches, read back at the end,
// is what was accepted — so no batch overwrote memory that bbolt still
// held for an earlier one.
func TestAcceptedRecordsSurviveArenaReuse(t *testing.T) {
	f := openFSM(t)
	const n, per = 3000, 96 // ~45 KB of records per batch: the arena's chunks turn over
	a, entries := acceptWorkload(t, f, n, 1000, per, 0)
	applyAcceptEntries(t, a, entries)
	var want [][]byte
	for _, e := range entries {
		cmds, err := DecodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, cmds...)
	}
	if err := f.View(func(tx *bolt.Tx) error {
		msgs, pending := tx.Bucket(bucketMessages), tx.Bucket(bucketSignalPending)
		for i, c := range want {
			_, payload, err := DecodeCommand(c)
			if err != nil {
				return err
			}
			am, err := DecodeAcceptMessage(payload)
			if err != nil {
				return err
			}
			m, err := decodeMessage(messageKey(am.PhoneNumberID, am.Key), msgs.Get(messageKey(am.PhoneNumberID, am.Key)))
			if err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			if m.IDRef != am.IDRef || m.PeerRef != am.PeerRef || !bytes.Equal(m.Content, am.Content) ||
				!bytes.Equal(m.PeerSealed, am.PeerSealed) || m.CreatedAt != am.CreatedAt || m.Category != CategoryUtility {
				return fmt.Errorf("message %d stored as %+v", i, m)
			}
			if v := pending.Get(am.Key); string(v) != am.PhoneNumberID {
				return fmt.Errorf("message %d: pending value %q", i, v)
			}
		}
		return tx.Bucket(bucketRatePairs).ForEach(func(k, v []byte) error {
			if s, ok := decodeRate(v); !ok || s.last < 1700000000000 || s.last >= 1700000000000+n {
				return fmt.Errorf("pair bucket %x: %x", k, v)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptApplyAllocations bounds what the apply of an accept
// allocates, bbolt's share included (its cursor stacks and key copies,
// ~25 per message at this size): keys built in scratch memory and values
// carved from the arena (alloc.go), the payload not copied, one lookup
// of the consumer's times. It was 45 per accept before them.
func TestAcceptApplyAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("applies 20k accepts")
	}
	f := openFSM(t)
	f.db.NoSync = true
	a, entries := acceptWorkload(t, f, 20_000, 100_000, 96, 0)
	applyAcceptEntries(t, a, entries[:len(entries)/2]) // the trees get their depth
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	applyAcceptEntries(t, a, entries[len(entries)/2:])
	runtime.ReadMemStats(&m1)
	msgs := 0
	for _, e := range entries[len(entries)/2:] {
		cmds, _ := DecodeEntry(e)
		msgs += len(cmds)
	}
	perMsg := float64(m1.Mallocs-m0.Mallocs) / float64(msgs)
	t.Logf("%.1f allocations per accept", perMsg)
	if perMsg > 38 {
		t.Errorf("%.1f allocations per accept, want at most 38", perMsg)
	}
}

// TestWindowCursorSeesTheBatchsWrites: an accept finds the window through
// a cursor the batch keeps (applyBatch.window). In one entry, a free-form
// message to a consumer without a window is refused, the consumer's
// inbound message opens the window, and the same message is then
// accepted — the cursor, opened by the first accept, sees the inbound's
// write — as applying the three one per batch decides.
func TestWindowCursorSeesTheBatchsWrites(t *testing.T) {
	key := func(n uint64) []byte { return detKey(1700000000000+int64(n), n) }
	freeForm := func(n uint64) []byte {
		return EncodeAcceptMessage(AcceptMessage{Key: key(n), IDRef: MessageIDRef(fmt.Sprint("out", n)), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "peer", Type: "text", Content: []byte("c"), RequireWindow: true,
			CreatedAt: 1700000000000 + int64(n)})
	}
	script := [][]byte{
		freeForm(1),
		cmd(t, CmdRecordInbound, RecordInbound{Key: key(2), IDRef: MessageIDRef("in2"), PhoneNumberID: "3001",
			PeerRef: "peer", Type: "text", ReceivedAt: 1700000000002}),
		freeForm(3),
	}
	want := []error{ErrWindowClosed, nil, nil}
	for _, oneEntry := range []bool{true, false} {
		f := openFSM(t)
		a := &applier{t: t, f: f}
		a.mustApply(tenantCmd(t, 1, "+15551234567"))
		var got []error
		if oneEntry {
			a.idx++
			for _, r := range results(t, f.Apply(&raft.Log{Index: a.idx, Term: 1, Type: raft.LogCommand, Data: EncodeEntry(script)})) {
				got = append(got, r.Err)
			}
		} else {
			for _, c := range script {
				got = append(got, a.apply(c).Err)
			}
		}
		for i := range want {
			if !errors.Is(got[i], want[i]) {
				t.Fatalf("one entry %v: command %d: %v, want %v", oneEntry, i, got[i], want[i])
			}
		}
	}
}
