package raftfsm

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/waedge/waedge/cloudapi"
	bolt "go.etcd.io/bbolt"
)

// keyedWAMID is the wamid the API issues for a message accepted at ms
// (sequence seq): it carries the message key.
func keyedWAMID(waID string, ms int64, seq uint64) (wamid string, key []byte) {
	key = make([]byte, messageKeyLen)
	binary.BigEndian.PutUint64(key, uint64(ms)*1e6)
	binary.BigEndian.PutUint64(key[8:], seq)
	return cloudapi.NewWAMIDWithKeyID(waID, true, WAMIDKeyID(key, [9]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})), key
}

// TestKeyedWAMIDNeedsNoRefEntry: a message whose wamid carries its key is
// stored without a message_refs entry and still found by its wamid (GET,
// statuses), a wamid without a key (older ids, inbound ids) keeps its
// entry and resolves as before, and expiry leaves no entry behind.
func TestKeyedWAMIDNeedsNoRefEntry(t *testing.T) {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	const at = int64(1700000100000)
	keyed, key := keyedWAMID("15550001111", at, 1)
	if _, _, kid, err := cloudapi.ParseWAMID(keyed); err != nil || len(kid) != keyedKeyIDLen {
		t.Fatalf("keyed wamid does not parse as a wamid: %q, %v", kid, err)
	}
	ref := MessageIDRef(keyed)
	if !bytes.Equal(refKey(ref), key) {
		t.Fatalf("reference %s does not carry the key %x", ref, key)
	}
	plain := cloudapi.NewWAMID("15550001111", true, [9]byte{9})
	if refKey(MessageIDRef(plain)) != nil {
		t.Fatal("a plain wamid got a keyed reference")
	}
	accept := func(wamid string, key []byte) {
		a.mustApply(EncodeAcceptMessage(AcceptMessage{Key: key, IDRef: MessageIDRef(wamid), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "peer", Type: "template", CreatedAt: at, TemplateName: "x", TemplateLanguage: "en"}))
	}
	accept(keyed, key)
	_, key2 := keyedWAMID("15550001111", at, 2)
	accept(plain, key2)
	refs := func() int {
		n := 0
		_ = a.f.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketMessageIDs).Stats().KeyN; return nil })
		return n
	}
	if n := refs(); n != 1 {
		t.Fatalf("%d message_refs entries, want 1 (the plain wamid's only)", n)
	}
	for _, w := range []string{keyed, plain} {
		if m, err := a.f.MessageByID(w); err != nil || m.IDRef != MessageIDRef(w) {
			t.Fatalf("MessageByID(%s) = %+v, %v", w, m, err)
		}
	}
	// The same key under a reference that does not match is not found.
	other, _ := keyedWAMID("15550002222", at, 1)
	if _, err := a.f.MessageByID(other); err != ErrNotFound {
		t.Fatalf("a wamid naming the key of another message: %v", err)
	}
	// Reusing the keyed reference is refused like any other.
	if r := a.apply(EncodeAcceptMessage(AcceptMessage{Key: key, IDRef: ref, PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "peer", Type: "template", CreatedAt: at})); r.Err == nil {
		t.Fatal("the same keyed message accepted twice")
	}
	a.mustApply(EncodeMessageStatuses(MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		{IDRef: ref, Status: StatusDelivered, At: at + 1}}}))
	if m, _ := a.f.MessageByID(keyed); m.Status != StatusDelivered {
		t.Fatalf("status of the keyed message: %s", m.Status)
	}
	r := a.apply(cmd(t, CmdExpire, Expire{Now: at + 400*dayMS, Budget: 100}))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := refs(); n != 0 || a.f.MessageCount() != 0 {
		t.Fatalf("after expiry: %d refs, %d messages", n, a.f.MessageCount())
	}
}
