package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/keyring"
)

// Expiry of consumers' Signal records (sessions and identities, keyed by
// consumer reference). A record is sealed by the leader under the data key
// of the day it was last written (the 30-day class); once that key is
// destroyed the record reads as absent, and the connector fetches a new
// prekey bundle for the next business message. The expire command deletes
// such records with their consumer reference, found through a time index.
//
// Records are not deleted earlier (at a shorter retention of the number,
// or when the consumer's last message expires): a consumer's phone keeps
// its session and encrypts its next message with it, and a business side
// that has dropped the session cannot decrypt that message (the network
// has no retry receipt), so the message would be lost. See
// retention/DESIGN.md.

// keySignalIndexed (bucketMeta) marks that every consumer Signal record
// written before the time index existed has been indexed (by the first
// expire command that saw the mark absent).
var keySignalIndexed = []byte("signal_indexed")

// isConsumerSignalKey reports whether a store key ("bucket\x00key") names a
// consumer's record.
func isConsumerSignalKey(key string) bool {
	for _, b := range consumerSignalBuckets {
		if len(key) > len(b) && key[:len(b)] == b && key[len(b)] == 0 {
			return true
		}
	}
	return false
}

// signalGoneAt is when (unix ms) a stored consumer Signal record (BE64
// version | sealed value) becomes unreadable: when the data key named in
// its sealed header is destroyed. It depends on the value alone, so the
// index entry of a value can always be found again; ok is false for a
// value that is not a sealed blob.
func signalGoneAt(stored []byte) (int64, bool) {
	if len(stored) < 8 {
		return 0, false
	}
	id, err := keyring.KeyID(stored[8:])
	if err != nil {
		return 0, false
	}
	return DataKeyDestroyAt(id), true
}

// reindexSignal moves the time-index entry of a consumer Signal record
// from its old stored value to its new one (nil: deleted).
func reindexSignal(tx *bolt.Tx, phoneID, key string, old, updated []byte) {
	if !isConsumerSignalKey(key) {
		return
	}
	oldAt, hadOld := signalGoneAt(old)
	newAt, hasNew := signalGoneAt(updated)
	if hadOld == hasNew && oldAt == newAt {
		return
	}
	if hadOld {
		mustDelete(tx, bucketSignalByTime, phoneTimeKey(phoneID, oldAt, key))
	}
	if hasNew {
		mustPut(tx, bucketSignalByTime, phoneTimeKey(phoneID, newAt, key), nil)
	}
}

// deleteSignalRecord deletes a record of a phone number's Signal store
// with its time-index entry.
func deleteSignalRecord(tx *bolt.Tx, phoneID, key string) {
	k := signalKey(phoneID, key)
	reindexSignal(tx, phoneID, key, tx.Bucket(bucketSignal).Get(k), nil)
	mustDelete(tx, bucketSignal, k)
}

// indexSignalRecords indexes every consumer Signal record once (records
// written before the index existed); later writes keep the index.
func indexSignalRecords(tx *bolt.Tx) {
	if tx.Bucket(bucketMeta).Get(keySignalIndexed) != nil {
		return
	}
	type entry struct {
		phone, key string
		at         int64
	}
	var todo []entry
	_ = tx.Bucket(bucketSignal).ForEach(func(k, v []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || !isConsumerSignalKey(string(k[i+1:])) {
			return nil
		}
		if at, ok := signalGoneAt(v); ok {
			todo = append(todo, entry{string(k[:i]), string(k[i+1:]), at})
		}
		return nil
	})
	for _, e := range todo {
		mustPut(tx, bucketSignalByTime, phoneTimeKey(e.phone, e.at, e.key), nil)
	}
	mustPut(tx, bucketMeta, keySignalIndexed, []byte{1})
}

// expireSignalRecords deletes up to budget consumer Signal records of the
// given phone numbers that are unreadable at now (unix ms): their data key
// is destroyed at or before now. It returns how many it deleted.
func expireSignalRecords(tx *bolt.Tx, phones []string, now int64, budget int) int {
	indexSignalRecords(tx)
	deleted := 0
	for _, ph := range phones {
		if deleted >= budget {
			break
		}
		prefix := []byte(ph + "\x00")
		for _, k := range dueIndexKeys(tx, bucketSignalByTime, prefix, now+1, budget-deleted) {
			sk := signalKey(ph, string(k[len(prefix)+9:]))
			if at, ok := signalGoneAt(tx.Bucket(bucketSignal).Get(sk)); ok && at == int64(beUint64(k[len(prefix):])) {
				mustDelete(tx, bucketSignal, sk)
			}
			mustDelete(tx, bucketSignalByTime, k)
			deleted++
		}
	}
	return deleted
}
