package signalstore

import (
	"bytes"
	"context"
	"testing"

	"go.mau.fi/libsignal/state/record"

	"github.com/waedge/waedge/network"
)

func TestPreKeyRecordsReloadWithCorrectPublicKeys(t *testing.T) {
	ctx := context.Background()
	s, err := Open(NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	otks, err := s.NewPreKeys(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(otks) != 3 || otks[0].ID != 1 || otks[2].ID != 3 {
		t.Fatalf("prekey ids %v", otks)
	}
	for _, k := range otks {
		rec, err := s.LoadPreKey(ctx, k.ID)
		if err != nil || rec == nil {
			t.Fatalf("LoadPreKey(%d) = %v", k.ID, err)
		}
		if got := rec.KeyPair().PublicKey().Serialize(); !bytes.Equal(got, k.Public) {
			t.Fatalf("prekey %d reloaded with public key %x, published %x", k.ID, got, k.Public)
		}
		// The bug this store works around: libsignal's own loader gets the key wrong.
		raw, _ := s.st.Get(bPreKeys, keyID(k.ID))
		lib, err := record.NewPreKeyFromBytes(raw, s.ser.PreKeyRecord)
		if err == nil && bytes.Equal(lib.KeyPair().PublicKey().Serialize(), k.Public) {
			t.Log("libsignal's NewPreKeyFromBytes is fixed upstream; keyPairFromRecord may go")
		}
	}
	more, err := s.NewPreKeys(ctx, 2)
	if err != nil || more[0].ID != 4 {
		t.Fatalf("next batch starts at %v, %v", more, err)
	}
	reg, err := s.Registration(ctx, "4915100000000", "phone", nil)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := s.LoadSignedPreKey(ctx, reg.SignedPreKey.ID)
	if err != nil || !bytes.Equal(spk.KeyPair().PublicKey().Serialize(), reg.SignedPreKey.Public) {
		t.Fatalf("signed prekey reload: %v", err)
	}
	if reg.RegistrationID == 0 || reg.RegistrationID > 16380 {
		t.Fatalf("registration id %d is not 14-bit", reg.RegistrationID)
	}
	if missing, err := s.LoadPreKey(ctx, 999); missing != nil || err != nil {
		t.Fatalf("missing prekey = %v, %v (want nil, nil)", missing, err)
	}
}

func TestSessionLoadIsAFreshCopy(t *testing.T) {
	ctx := context.Background()
	s, err := Open(NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	addr := Address("4915100000009", 1)
	if ok, _ := s.ContainsSession(ctx, addr); ok {
		t.Fatal("unknown address reported as having a session")
	}
	rec, err := s.LoadSession(ctx, addr)
	if err != nil || rec == nil {
		t.Fatalf("LoadSession(unknown) = %v, %v; want a fresh record", rec, err)
	}
	if err := s.StoreSession(ctx, addr, rec); err == nil {
		t.Fatal("a fresh record without keys was stored")
	}
	// A real session: X3DH against a peer's bundle.
	peer, err := Open(NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	otks, _ := peer.NewPreKeys(ctx, 1)
	reg, err := peer.Registration(ctx, addr.Name(), "phone", otks)
	if err != nil {
		t.Fatal(err)
	}
	err = s.StartSession(ctx, network.PreKeyBundle{Number: reg.Number, DeviceID: 1, RegistrationID: reg.RegistrationID,
		IdentityKey: reg.IdentityKey, SignedPreKeyID: reg.SignedPreKey.ID, SignedPreKey: reg.SignedPreKey.Public,
		SignedPreKeySig: reg.SignedPreKey.Signature, PreKeyID: otks[0].ID, PreKey: otks[0].Public})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.LoadSession(ctx, addr)
	b, _ := s.LoadSession(ctx, addr)
	if a == b {
		t.Fatal("LoadSession returned the same object twice")
	}
	a.ArchiveCurrentState()
	c, _ := s.LoadSession(ctx, addr)
	if len(c.PreviousSessionStates()) != 0 {
		t.Fatal("changing a loaded record changed the stored one")
	}
	// Garbage never reaches the session: a bad bundle is refused before libsignal sees it.
	if err := s.StartSession(ctx, network.PreKeyBundle{Number: "123", DeviceID: 1, IdentityKey: []byte{5}}); err == nil {
		t.Fatal("bundle with a short identity key accepted")
	}
	if err := s.DeleteAllSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ContainsSession(ctx, addr); ok {
		t.Fatal("session survived DeleteAllSessions")
	}
}

func TestIdentityIsStable(t *testing.T) {
	st := NewMemStore()
	a, err := Open(st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.IdentityPublicKey(), b.IdentityPublicKey()) || a.GetLocalRegistrationID() != b.GetLocalRegistrationID() {
		t.Fatal("reopening the store created a new identity")
	}
	_ = st.Put(bSignalMeta, "identity", []byte{1, 2, 3})
	if _, err := Open(st); err == nil {
		t.Fatal("corrupt identity accepted")
	}
}
