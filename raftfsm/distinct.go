package raftfsm

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Rolling sets of distinct consumers per business number. An entry is a
// consumer reference (seal.ConsumerRef, never a number) with the time it
// was last reached; entries older than the set's horizon are dropped from
// the front of the time index by the next write that touches the set, so
// a touch costs O(1) amortised and the stored count is exact after it, and
// by the expire command (expireDistinct), so a reference does not outlive
// the horizon on a number that sends nothing more.
//
// The rule of a touch (ref reached at a): drop every entry at or before
// a − horizon, then add ref at a, or move it to a if its entry is older
// (a late proposer's older time never moves an entry back). The accept
// path replays touches in memory for a whole batch and writes the result
// once (applyBatch, distinctGroup in batch.go).
const (
	// setTier holds the consumers a number reached with business-initiated
	// messages (templates outside the customer service window) in the
	// last 24 hours: the messaging-limit tier counts them.
	setTier = "tier"
	// setReach holds the consumers a number sent any message to in the
	// last 7 days: the denominator of the quality rating.
	setReach = "reach"
)

// Set horizons (ms).
const (
	tierHorizon  = WindowMillis
	reachHorizon = IntegrityDays * 24 * 60 * 60 * 1000
)

// distinctSets are the sets with their horizons (ms), in the order expiry
// prunes them.
var distinctSets = []struct {
	name    string
	horizon int64
}{{setTier, tierHorizon}, {setReach, reachHorizon}}

func distinctCountKey(set, phoneID string) []byte {
	return []byte(set + "\x00" + phoneID + "\x01")
}

func distinctTimePrefix(set, phoneID string) []byte {
	return []byte(set + "\x00" + phoneID + "\x00")
}

// distinctTimeKey is set 0 phone 0 BE64 time 0 ref, in one allocation
// (the accept path writes one per message per set).
func distinctTimeKey(set, phoneID string, at int64, ref string) []byte {
	return appendDistinctTimeKey(make([]byte, 0, len(set)+len(phoneID)+len(ref)+11), set, phoneID, at, ref)
}

// appendDistinctTimeKey appends distinctTimeKey(set, phoneID, at, ref) to dst.
func appendDistinctTimeKey(dst []byte, set, phoneID string, at int64, ref string) []byte {
	dst = append(append(append(dst, set...), 0), phoneID...)
	dst = binary.BigEndian.AppendUint64(append(dst, 0), uint64(at))
	return append(append(dst, 0), ref...)
}

// counter reads a BE64 counter value (0 when absent).
func counter(b *bolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(beUint64(v))
}

// distinctLive returns how many entries of the set are newer than cutoff,
// from the disk alone (the stored count less the stale prefix of the time
// index), without writing: the refusal path must leave no state behind,
// and read paths outside Apply use it too.
func distinctLive(tx *bolt.Tx, set, phoneID string, cutoff int64) int64 {
	n := counter(tx.Bucket(bucketDistinct), distinctCountKey(set, phoneID))
	prefix := distinctTimePrefix(set, phoneID)
	c := tx.Bucket(bucketDistinctByTime).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) < len(prefix)+8 || int64(beUint64(k[len(prefix):])) > cutoff {
			break
		}
		n--
	}
	return n
}

// distinctPrune drops the entries at or before cutoff and returns the
// number of entries left.
func distinctPrune(tx *bolt.Tx, x distinctIndex, set, phoneID string, cutoff int64) int64 {
	n, _ := distinctPruneN(tx, x, set, phoneID, cutoff, -1)
	return n
}

// expireDistinct drops at most budget entries of every set of phoneID past
// its horizon at now (unix ms) and returns how many it dropped.
func expireDistinct(tx *bolt.Tx, x distinctIndex, phoneID string, now int64, budget int) int {
	dropped := 0
	for _, s := range distinctSets {
		if budget-dropped <= 0 {
			break
		}
		_, d := distinctPruneN(tx, x, s.name, phoneID, now-s.horizon, budget-dropped)
		dropped += d
	}
	return dropped
}

// distinctPruneN drops at most budget (< 0: all) entries at or before
// cutoff, oldest first; it returns the number of entries left and how
// many it dropped.
func distinctPruneN(tx *bolt.Tx, x distinctIndex, set, phoneID string, cutoff int64, budget int) (int64, int) {
	db := tx.Bucket(bucketDistinct)
	n := counter(db, distinctCountKey(set, phoneID))
	prefix := distinctTimePrefix(set, phoneID)
	var stale [][]byte
	c := tx.Bucket(bucketDistinctByTime).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(stale) != budget; k, _ = c.Next() {
		if len(k) < len(prefix)+9 || int64(beUint64(k[len(prefix):])) > cutoff {
			break
		}
		stale = append(stale, bytes.Clone(k))
	}
	if len(stale) == 0 {
		return n, 0
	}
	for _, k := range stale {
		mustDelete(tx, bucketDistinctByTime, k)
		x.drop(set, phoneID, string(k[len(prefix)+9:]))
		n--
	}
	mustPut(tx, bucketDistinct, distinctCountKey(set, phoneID), be64(n))
	return n, len(stale)
}
