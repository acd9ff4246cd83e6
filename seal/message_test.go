package seal

import (
	"context"
	"testing"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
)

// TestMessageRecipe: what SealMessage seals, stored as a raftfsm.Message,
// opens with the Open functions, and each field is bound to its own
// additional data: no field opens as another, and no field of one message
// opens as the same field of another.
func TestMessageRecipe(t *testing.T) {
	if !Enabled() {
		t.Skip("built with waedge_noseal: nothing is sealed")
	}
	var kek keyring.KEK
	kek[1] = 7
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	s := New(fsmtest.Open(t), kek, func() time.Time { return now })
	ctx := context.Background()

	sm, err := SealMessage(ctx, s, time.Hour, "wamid.A", "4915100000001", []byte("content A"), "cb A")
	if err != nil {
		t.Fatal(err)
	}
	other, err := SealMessage(ctx, s, time.Hour, "wamid.B", "4915100000002", []byte("content B"), "")
	if err != nil {
		t.Fatal(err)
	}
	if sm.IDRef != raftfsm.MessageIDRef("wamid.A") || other.Callback != nil {
		t.Fatalf("IDRef %q, callback of a message without one %x", sm.IDRef, other.Callback)
	}
	stored := raftfsm.Message{IDRef: sm.IDRef, IDSealed: sm.ID, PeerSealed: sm.Peer, Content: sm.Content, CallbackSealed: sm.Callback}
	id, err := OpenID(s, stored)
	if err != nil || id != "wamid.A" {
		t.Fatalf("wamid: %q %v", id, err)
	}
	if peer, err := OpenPeer(s, stored, id); err != nil || peer != "4915100000001" {
		t.Fatalf("peer: %q %v", peer, err)
	}
	if c, err := OpenContent(s, stored, id); err != nil || string(c) != "content A" {
		t.Fatalf("content: %q %v", c, err)
	}
	if cb, err := OpenCallback(s, stored, id); err != nil || cb != "cb A" {
		t.Fatalf("callback: %q %v", cb, err)
	}
	if cb, err := OpenCallback(s, raftfsm.Message{}, id); err != nil || cb != "" {
		t.Fatalf("no callback: %q %v", cb, err)
	}

	// Every field under every other field's additional data is refused.
	fields := map[string][]byte{"content": sm.Content, "peer": sm.Peer, "id": sm.ID, "callback": sm.Callback}
	aads := map[string][]byte{"content": []byte("wamid.A"), "peer": raftfsm.PeerAAD("wamid.A"),
		"id": raftfsm.IDAAD(sm.IDRef), "callback": raftfsm.CallbackAAD("wamid.A"), "envelope": EnvelopeAAD("wamid.A")}
	for fn, sealed := range fields {
		for an, aad := range aads {
			_, err := s.Open(aad, sealed)
			if (err == nil) != (fn == an) {
				t.Errorf("%s opened under the %s aad: %v", fn, an, err)
			}
		}
	}
	// Another message's fields do not open as this one's.
	swapped := stored
	swapped.Content, swapped.PeerSealed = other.Content, other.Peer
	if _, err := OpenContent(s, swapped, id); err == nil {
		t.Error("another message's content opened under this wamid")
	}
	if _, err := OpenPeer(s, swapped, id); err == nil {
		t.Error("another message's consumer opened under this wamid")
	}
}
