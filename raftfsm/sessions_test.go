package raftfsm

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/keyring"
)

// sealedUnder is a Signal record value sealed under data key id (the
// format the connector writes; the key bytes do not matter here).
func sealedUnder(t *testing.T, id uint32) []byte {
	t.Helper()
	b, err := keyring.Seal(keyring.DataKey{ID: id}, []byte("aad"), []byte("session record"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signalWrite commits Signal store writes of phone 3001.
func (a *applier) signalWrite(writes ...SignalWrite) {
	a.t.Helper()
	a.mustApply(cmd(a.t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", Writes: writes}))
}

func (a *applier) hasSignal(key string) bool {
	a.t.Helper()
	v, _, err := a.f.SignalRecord("3001", key)
	if err != nil {
		a.t.Fatal(err)
	}
	return v != nil
}

// TestExpireDeletesUnreadableSignalRecords: a consumer's session and
// identity record go (with the consumer reference in their keys) in the
// expire command that destroys the data key they are sealed under — not
// before, and a record rewritten under a newer key stays until that key
// goes. The number's own records and unsealed values are never touched.
func TestExpireDeletesUnreadableSignalRecords(t *testing.T) {
	a := retentionFixture(t)
	day := DataKeyID(MaxRetention, time.UnixMilli(t0))
	for _, id := range []uint32{day, day + 5, day + 6} {
		a.mustApply(cmd(t, CmdPutDataKey, PutDataKey{Day: id, Wrapped: []byte{1}}))
	}
	const (
		alice, aliceID = "sessions\x00ref-alice:1", "identities\x00ref-alice:1"
		bob, own       = "sessions\x00ref-bob:1", "identity\x00local"
		carol          = "sessions\x00ref-carol:1" // not a sealed blob (cannot be dated)
	)
	a.signalWrite(SignalWrite{Key: alice, Value: sealedUnder(t, day)}, SignalWrite{Key: aliceID, Value: sealedUnder(t, day)},
		SignalWrite{Key: bob, Value: sealedUnder(t, day+5)}, SignalWrite{Key: own, Value: sealedUnder(t, day)},
		SignalWrite{Key: carol, Value: []byte("x")})

	gone := DataKeyDestroyAt(day)
	a.expire(gone-1, 0)
	if !a.hasSignal(alice) || !a.hasSignal(aliceID) {
		t.Fatal("a record went before its data key")
	}
	r := a.expire(gone, 0)
	if a.hasSignal(alice) || a.hasSignal(aliceID) {
		t.Fatal("records under a destroyed key were kept")
	}
	if len(r.DestroyedKeys) != 1 || r.DestroyedKeys[0] != day || r.Deleted != 2 {
		t.Fatalf("expire result %+v", r)
	}
	if !a.hasSignal(bob) || !a.hasSignal(own) || !a.hasSignal(carol) {
		t.Fatal("a record still readable, the number's own identity or an undatable value went")
	}

	// Bob's session is rewritten under a newer key: it lives on until that
	// key goes, and the index follows it.
	a.signalWrite(SignalWrite{Key: bob, Value: sealedUnder(t, day+6)})
	a.expire(DataKeyDestroyAt(day+5), 0)
	if !a.hasSignal(bob) {
		t.Fatal("a rewritten record expired under its old key")
	}
	a.expire(DataKeyDestroyAt(day+6), 0)
	if a.hasSignal(bob) || bucketLen(t, a.f, bucketSignalByTime) != 0 {
		t.Fatalf("bob's session left, %d index entries", bucketLen(t, a.f, bucketSignalByTime))
	}
}

// TestSignalRecordsIndexedOnce: records written before the time index
// existed (a database of an earlier version) are indexed by the first
// expire command and then expire like every other.
func TestSignalRecordsIndexedOnce(t *testing.T) {
	a := retentionFixture(t)
	day := DataKeyID(MaxRetention, time.UnixMilli(t0))
	a.mustApply(cmd(t, CmdPutDataKey, PutDataKey{Day: day, Wrapped: []byte{1}}))
	a.signalWrite(SignalWrite{Key: "sessions\x00ref-alice:1", Value: sealedUnder(t, day)})
	// Forget the index, as a database written before it looks.
	if err := a.f.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSignalByTime); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketSignalByTime); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(keySignalIndexed)
	}); err != nil {
		t.Fatal(err)
	}
	a.expire(t0, 0)
	if bucketLen(t, a.f, bucketSignalByTime) != 1 {
		t.Fatal("the first expire command did not index the old record")
	}
	a.expire(DataKeyDestroyAt(day), 0)
	if a.hasSignal("sessions\x00ref-alice:1") {
		t.Fatal("an old record outlived its key")
	}
}
