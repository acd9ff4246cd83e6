package raftfsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// distinctIndex is the consumer → last-reached-time half of the
// distinct-consumer sets, in memory. The disk keeps only the time index
// (bucketDistinctByTime, one entry per live consumer, appended in time
// order) and each set's count, so a touch writes no random-key record:
// the index is rebuilt from the time index whenever the database is
// opened (Open, snapshot install, restore), which makes it a pure
// function of the database, and so of the log, on every replica.
//
// Only Apply (one writer) and openDB (which excludes Apply) touch it; the
// read paths (ReachedToday) read the disk. Cost: one map entry per live
// consumer per set (about 100 bytes), the price of the random-key write
// each touch used to pay.
type distinctIndex map[setID]map[string]int64

// time returns ref's entry in a set (ok false when absent).
func (x distinctIndex) time(set, phoneID, ref string) (int64, bool) {
	t, ok := x[setID{set, phoneID}][ref]
	return t, ok
}

// put sets ref's entry in a set.
func (x distinctIndex) put(set, phoneID, ref string, at int64) {
	id := setID{set, phoneID}
	m := x[id]
	if m == nil {
		m = map[string]int64{}
		x[id] = m
	}
	m[ref] = at
}

// putIn is put with the set's map m (nil: not looked up yet, or the set
// is empty); it returns the set's map for the next call.
func (x distinctIndex) putIn(m map[string]int64, set, phoneID, ref string, at int64) map[string]int64 {
	if m == nil {
		x.put(set, phoneID, ref, at)
		return x[setID{set, phoneID}]
	}
	m[ref] = at
	return m
}

// drop removes ref's entry from a set.
func (x distinctIndex) drop(set, phoneID, ref string) {
	id := setID{set, phoneID}
	if m := x[id]; m != nil {
		delete(m, ref)
		if len(m) == 0 {
			delete(x, id)
		}
	}
}

// loadDistinctIndex reads the time index: set 0 phone 0 BE64 time 0 ref.
func loadDistinctIndex(tx *bolt.Tx) (distinctIndex, error) {
	x := distinctIndex{}
	err := tx.Bucket(bucketDistinctByTime).ForEach(func(k, _ []byte) error {
		set, rest, ok1 := bytes.Cut(k, []byte{0})
		phone, rest, ok2 := bytes.Cut(rest, []byte{0})
		if !ok1 || !ok2 || len(rest) < 9 || rest[8] != 0 {
			return fmt.Errorf("%w: distinct time key %x", ErrCorrupt, k)
		}
		x.put(string(set), string(phone), string(rest[9:]), int64(beUint64(rest)))
		return nil
	})
	return x, err
}
