package raftfsm

import (
	"bytes"
	"encoding/binary"
	"fmt"

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
// Both sets of a number share one time index (schema 5): one key per
// consumer and time, phone 0 time 0 ref, whose value says which sets hold
// the consumer at that time (distinctBitTier, distinctBitReach). An accept
// that reaches a consumer in both sets at once writes one key, not one per
// set. Dropping a set's entry clears its bit (the key goes when no bit is
// left), so a set's stale entries are found by walking the number's keys
// from a floor (distinctFloors) up to the set's cut-off and skipping the
// keys without its bit.
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

// The set bits of a bucketDistinctTimes value: a set's slot in
// consumerTimes (distinct_index.go) is its bit's position.
const (
	distinctBitTier  byte = 1 << slotTier
	distinctBitReach byte = 1 << slotReach
)

// distinctValues are the stored values by set bits (bbolt keeps a put
// value until the transaction ends; these are never changed).
var distinctValues = [4][]byte{nil, {distinctBitTier}, {distinctBitReach}, {distinctBitTier | distinctBitReach}}

// setBit is the bit of a set in bucketDistinctTimes.
func setBit(set string) byte {
	return 1 << setSlotOf(set)
}

// distinctBits is the value of key (at, ref) given ref's times (the
// in-memory index, which equals the disk after a flush).
func distinctBits(e consumerTimes, at int64) byte {
	var bits byte
	if e[slotTier] == at {
		bits |= distinctBitTier
	}
	if e[slotReach] == at {
		bits |= distinctBitReach
	}
	return bits
}

func distinctCountKey(set, phoneID string) []byte {
	return []byte(set + "\x00" + phoneID + "\x01")
}

func distinctTimePrefix(phoneID string) []byte {
	return []byte(phoneID + "\x00")
}

// distinctTimeKey is phone 0 BE64 time 0 ref.
func distinctTimeKey(phoneID string, at int64, ref string) []byte {
	return appendDistinctTimeKey(make([]byte, 0, len(phoneID)+len(ref)+10), phoneID, at, ref)
}

// appendDistinctTimeKey appends distinctTimeKey(phoneID, at, ref) to dst.
func appendDistinctTimeKey(dst []byte, phoneID string, at int64, ref string) []byte {
	dst = append(dst, phoneID...)
	dst = binary.BigEndian.AppendUint64(append(dst, 0), uint64(at))
	return append(append(dst, 0), ref...)
}

// distinctFloors holds, per set and number, a time (as keys order it: the
// unsigned BE64) below which the number's time index holds no entry of
// that set: where a walk for the set's stale entries starts, so a prune of
// the tier set does not walk again over the week of reach-only entries
// before it. A floor is a lower bound only (a late proposer's older entry
// lowers it, a prune raises it to where its walk stopped): it decides
// where walks start, never what they find, so it is not part of the state
// and two replicas' floors may differ. Only Apply keeps them; openDB
// rebuilds them with the index (each set's oldest key per number), and a
// number without a floor is walked from the front of its range.
type distinctFloors map[setID]uint64

// seek returns the key a walk of set's entries of phoneID starts at.
func (fl distinctFloors) seek(set, phoneID string) []byte {
	prefix := distinctTimePrefix(phoneID)
	if f, ok := fl[setID{set, phoneID}]; ok {
		return binary.BigEndian.AppendUint64(prefix, f)
	}
	return prefix
}

// lower notes an entry of set at at.
func (fl distinctFloors) lower(set, phoneID string, at int64) {
	id := setID{set, phoneID}
	if f, ok := fl[id]; ok && uint64(at) < f {
		fl[id] = uint64(at)
	}
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
// from the disk alone (the stored count less the set's stale entries,
// walked from the set's floor), without writing: the refusal path must
// leave no state behind.
func distinctLive(tx *bolt.Tx, fl distinctFloors, set, phoneID string, cutoff int64) int64 {
	n := counter(tx.Bucket(bucketDistinct), distinctCountKey(set, phoneID))
	bit := setBit(set)
	prefix := distinctTimePrefix(phoneID)
	c := tx.Bucket(bucketDistinctTimes).Cursor()
	for k, v := c.Seek(fl.seek(set, phoneID)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+9 || int64(beUint64(k[len(prefix):])) > cutoff {
			break
		}
		if len(v) == 1 && v[0]&bit != 0 {
			n--
		}
	}
	return n
}

// distinctNewer counts the entries of the set newer than cutoff by walking
// them (distinctLive's result, for reads outside Apply, which have no
// floors: walking the number's keys of the last cut-off period costs what
// it reached in that period, where walking its stale entries from the
// front of its range could pass a week of reach-only keys).
func distinctNewer(tx *bolt.Tx, set, phoneID string, cutoff int64) int64 {
	if cutoff < 0 { // every stored time (as keys order them) is newer
		return counter(tx.Bucket(bucketDistinct), distinctCountKey(set, phoneID))
	}
	bit := setBit(set)
	prefix := distinctTimePrefix(phoneID)
	var n int64
	c := tx.Bucket(bucketDistinctTimes).Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(cutoff)+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) == 1 && v[0]&bit != 0 {
			n++
		}
	}
	return n
}

// distinctPrune drops the entries at or before cutoff and returns the
// number of entries left.
func distinctPrune(tx *bolt.Tx, x distinctIndex, fl distinctFloors, set, phoneID string, cutoff int64) int64 {
	n, _ := distinctPruneN(tx, x, fl, set, phoneID, cutoff, -1)
	return n
}

// expireDistinct drops at most budget entries of every set of phoneID past
// its horizon at now (unix ms) and returns how many it dropped.
func expireDistinct(tx *bolt.Tx, x distinctIndex, fl distinctFloors, phoneID string, now int64, budget int) int {
	dropped := 0
	for _, s := range distinctSets {
		if budget-dropped <= 0 {
			break
		}
		_, d := distinctPruneN(tx, x, fl, s.name, phoneID, now-s.horizon, budget-dropped)
		dropped += d
	}
	return dropped
}

// distinctPruneN drops at most budget (< 0: all) entries of the set at or
// before cutoff, oldest first: each loses the set's bit, and a key left
// without bits goes. It returns the number of entries left and how many
// it dropped, and raises the set's floor to where its walk stopped.
func distinctPruneN(tx *bolt.Tx, x distinctIndex, fl distinctFloors, set, phoneID string, cutoff int64, budget int) (int64, int) {
	db := tx.Bucket(bucketDistinct)
	n := counter(db, distinctCountKey(set, phoneID))
	bit := setBit(set)
	prefix := distinctTimePrefix(phoneID)
	bk := tx.Bucket(bucketDistinctTimes)
	var stale [][]byte         // keys, each followed by its bits
	stop := uint64(cutoff) + 1 // the walk ran off the range: no entry of the set is left
	c := bk.Cursor()
	for k, v := c.Seek(fl.seek(set, phoneID)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+9 {
			panic(fmt.Sprintf("raftfsm: distinct time key %x", k))
		}
		at := beUint64(k[len(prefix):])
		if int64(at) > cutoff {
			stop = at
			break
		}
		if len(v) != 1 || v[0]&bit == 0 {
			continue
		}
		if len(stale) == budget {
			stop = at
			break
		}
		stale = append(stale, append(bytes.Clone(k), v[0]))
	}
	if fl != nil {
		fl[setID{set, phoneID}] = stop
	}
	if len(stale) == 0 {
		return n, 0
	}
	for _, e := range stale {
		k, bits := e[:len(e)-1], e[len(e)-1]&^bit
		if bits == 0 {
			del(bk, k)
		} else {
			put(bk, k, distinctValues[bits&3])
		}
		x.drop(set, phoneID, string(k[len(prefix)+9:]))
		n--
	}
	mustPut(tx, bucketDistinct, distinctCountKey(set, phoneID), be64(n))
	return n, len(stale)
}
