package raftfsm

import (
	"errors"
	"testing"
)

// TestEraseConsumer: erase deletes one consumer's messages, window,
// Signal records and the media the proposer found in their messages on
// the business's number, and nothing of anyone else's (another business's
// media named in the command stays); a phone of another business is
// refused without any change.
func TestEraseConsumer(t *testing.T) {
	a := retentionFixture(t)
	alice1 := a.inbound("3001", "alice", t0)
	alice2 := a.outbound("3001", "1001", "alice", t0+1)
	bob := a.inbound("3001", "bob", t0+2)
	a.mustApply(cmd(t, CmdMarkRead, MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef(alice1), At: t0 + 3}))
	a.mustApply(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Writes: []SignalWrite{
		{Key: "sessions\x00ref-alice:1", Value: sealedUnder(t, 20000)},
		{Key: "identities\x00ref-alice:1", Value: []byte("i")},
		{Key: "sessions\x00ref-bob:1", Value: []byte("s")},
		{Key: "identity\x00local", Value: []byte("own")},
	}}))
	a.upload("501", 2, t0)
	a.mustApply(cmd(t, CmdPutMediaChunk, PutMediaChunk{ID: "502", PhoneNumberID: "3002", BusinessID: "1002",
		Sealed: []byte{1}, CreatedAt: t0}))
	a.mustApply(cmd(t, CmdCommitMedia, CommitMedia{ID: "502", PhoneNumberID: "3002", BusinessID: "1002",
		MIME: "image/png", Size: 1, Chunks: 1, At: t0}))
	media := []string{"501", "502", "503"}
	alice := ConsumerRef{PhoneNumberID: "3001", Ref: "ref-alice"}
	d, err := a.f.ConsumerData(alice)
	if err != nil || len(d.Messages) != 2 || d.WindowOpenedAt != t0 || len(d.SignalKeys) != 2 {
		t.Fatalf("export before erase: %+v %v", d, err)
	}

	before := dumpOf(t, a.f)
	if r := a.apply(cmd(t, CmdEraseConsumer, EraseConsumer{BusinessID: "1002", Refs: []ConsumerRef{alice}, MediaIDs: media})); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("foreign business: %v", r.Err)
	}
	if stripMeta(dumpOf(t, a.f)) != stripMeta(before) {
		t.Fatal("a refused erase changed the state")
	}

	r := a.apply(cmd(t, CmdEraseConsumer, EraseConsumer{BusinessID: "1001", Refs: []ConsumerRef{alice}, MediaIDs: media}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	res, err := DecodeEraseResult(r.Value)
	if err != nil || res != (EraseResult{Messages: 2, Windows: 1, Signal: 2, Media: 1}) {
		t.Fatalf("result %+v %v", res, err)
	}
	for _, w := range []string{alice1, alice2} {
		if _, err := a.f.MessageByID(w); !errors.Is(err, ErrNotFound) {
			t.Fatal("erased message still readable")
		}
	}
	if _, err := a.f.MessageByID(bob); err != nil {
		t.Fatal("another consumer's message erased")
	}
	if d, _ := a.f.ConsumerData(alice); len(d.Messages)+len(d.SignalKeys) != 0 || d.WindowOpenedAt != 0 {
		t.Fatalf("left after erase: %+v", d)
	}
	if reads, _ := a.f.PendingReads(10); len(reads) != 0 {
		t.Fatal("read receipt of an erased message still queued")
	}
	if _, v, _ := a.f.SignalRecord("3001", "sessions\x00ref-bob:1"); v == 0 {
		t.Fatal("another consumer's session erased")
	}
	if _, v, _ := a.f.SignalRecord("3001", "identity\x00local"); v == 0 {
		t.Fatal("the number's own identity erased")
	}
	if recs, chunks, _ := a.f.MediaStored("501"); recs+chunks != 0 {
		t.Fatalf("erased media left %d records, %d chunks", recs, chunks)
	}
	if _, err := a.f.Media("502"); err != nil {
		t.Fatalf("another business's media erased: %v", err)
	}
	if bucketLen(t, a.f, bucketSignalByTime) != 0 {
		t.Fatal("the time index still names an erased session")
	}
	if bucketLen(t, a.f, bucketSignalPending) != 0 {
		t.Fatal("pending send of an erased message left")
	}
}
