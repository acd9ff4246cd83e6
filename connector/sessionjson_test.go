package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.mau.fi/libsignal/state/record"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/signalstore"
)

// TestSessionRecordsStayStandardJSON: the patched libsignal
// (third_party/README.md) encodes session records with a faster JSON
// library; the bytes must be what encoding/json writes and reads, so
// records stored by earlier versions load, and a node of an earlier
// version (a rolling upgrade) loads what a new leader stored. The record
// is a real one: both sides of a conversation after a few messages each way.
func TestSessionRecordsStayStandardJSON(t *testing.T) {
	ctx := context.Background()
	aAddr, bAddr := signalstore.Address("4915000000001", 1), signalstore.Address("4915000000002", 1)
	a, err := signalstore.Open(signalstore.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	b, err := signalstore.Open(signalstore.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	otks, err := b.NewPreKeys(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := b.Registration(ctx, bAddr.Name(), network.RolePhone, otks)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartSession(ctx, network.PreKeyBundle{Number: reg.Number, DeviceID: 1, RegistrationID: reg.RegistrationID,
		IdentityKey: reg.IdentityKey, SignedPreKeyID: reg.SignedPreKey.ID, SignedPreKey: reg.SignedPreKey.Public,
		SignedPreKeySig: reg.SignedPreKey.Signature, PreKeyID: otks[0].ID, PreKey: otks[0].Public}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		from, to, toAddr, fromAddr := a, b, bAddr, aAddr
		if i%3 == 2 {
			from, to, toAddr, fromAddr = b, a, aAddr, bAddr
		}
		kind, ct, err := from.Encrypt(ctx, toAddr, []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := to.Decrypt(ctx, fromAddr, kind, ct); err != nil {
			t.Fatal(err)
		}
	}
	for name, st := range map[string]*signalstore.SignalStore{"sender": a, "receiver": b} {
		peer := bAddr
		if st == b {
			peer = aAddr
		}
		sess, err := st.LoadSession(ctx, peer)
		if err != nil {
			t.Fatal(err)
		}
		ser := st.Serializer()
		patched := sess.Serialize()
		std, err := json.Marshal(sess.Structure())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(patched, std) {
			t.Fatalf("%s: the patched encoder wrote other bytes than encoding/json:\n%s\n%s", name, patched, std)
		}
		var back record.SessionStructure
		if err := json.Unmarshal(patched, &back); err != nil {
			t.Fatalf("%s: encoding/json cannot read the record: %v", name, err)
		}
		again, err := record.NewSessionFromBytes(std, ser.Session, ser.State)
		if err != nil {
			t.Fatalf("%s: the patched decoder cannot read encoding/json's record: %v", name, err)
		}
		if !bytes.Equal(again.Serialize(), std) {
			t.Fatalf("%s: a record read by the patched decoder changed", name)
		}
	}
}
