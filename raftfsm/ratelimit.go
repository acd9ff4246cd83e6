package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Platform rate limits, enforced where a send is accepted: in Apply of
// the command that accepts the message. Every send already costs that one
// Raft round, so the check is cluster-wide and exact (a client pinned to
// one node of three gets the whole budget, not a third of it) without a
// round of its own; the token state is replicated (bucketRateLimits,
// bucketRatePairs) and
// advanced only by the proposer-chosen CreatedAt, so every replica takes
// the same decisions.
//
// Meta's numbers (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput
// and #pair-rate-limits): 80 messages per second per business number by
// default; one message every 6 seconds to one consumer, with bursts of up
// to 45 messages in 6 seconds that are paid back at the same rate (45
// messages take 4.5 minutes to earn back).
const (
	// DefaultThroughputMPS is the per-number limit when Phone.ThroughputMPS is 0.
	DefaultThroughputMPS = 80
	// DefaultPairPerMinute is the per-consumer rate when Phone.PairPerMinute is 0.
	DefaultPairPerMinute = 10
	// DefaultPairBurst is the per-consumer burst when Phone.PairBurst is 0.
	DefaultPairBurst = 45
)

var (
	// ErrPairRate: too many messages from one number to one consumer (131056).
	ErrPairRate = errors.New("pair rate limit hit")
	// ErrThroughput: the number's messages-per-second limit (130429).
	ErrThroughput = errors.New("throughput limit hit")
)

// tokenUnit is one message in the integer token arithmetic (floating
// point could round differently on another architecture and fork the
// replicas).
const tokenUnit = 1_000_000

// rateIdleMillis is how long a bucket is remembered: one idle this long
// is full again (as if it had never been used), and an idle pair bucket
// is deleted, lazily (ratePrune), which therefore changes no decision. A
// configuration whose burst takes longer than this to earn back is
// forgiven after it.
const rateIdleMillis = 24 * 60 * 60 * 1000

// rateState is a token bucket: tokens (units of tokenUnit) as of last
// (unix ms).
type rateState struct {
	tokens, last int64
}

func decodeRate(v []byte) (rateState, bool) {
	if len(v) != 16 {
		return rateState{}, false
	}
	return rateState{int64(beUint64(v)), int64(beUint64(v[8:]))}, true
}

func (s rateState) encode() []byte { return s.appendTo(make([]byte, 0, 16)) }

// appendTo appends s's stored value to dst.
func (s rateState) appendTo(dst []byte) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(dst, uint64(s.tokens)), uint64(s.last))
}

// value is s's stored value in the batch's memory (alloc.go).
func (b *applyBatch) rateValue(s rateState) []byte { return s.appendTo(b.vals.take(16)) }

// take refills s to now at perMinute messages a minute, capped at burst
// messages, and spends one message; ok is false (s unchanged in meaning)
// when less than one is left. A bucket idle for rateIdleMillis or longer
// counts as absent (full). A clock behind last (another proposer's)
// refills nothing and never moves last back.
func (s rateState) take(present bool, now, perMinute, burst int64) (rateState, bool) {
	capacity := burst * tokenUnit
	if !present || now-s.last >= rateIdleMillis {
		s = rateState{tokens: capacity, last: now}
	} else if now > s.last {
		// perMinute ≤ 6,000,000 (100,000 msg/s, the bound SetPhoneLimits
		// checks) and elapsed < 8.64e7 ms: the product stays below 2^63.
		elapsed := now - s.last
		s.tokens = min(capacity, s.tokens+elapsed*perMinute*(tokenUnit/1000)/60)
		s.last = now
	}
	s.tokens = min(s.tokens, capacity) // the limit may have been lowered
	if s.tokens < tokenUnit {
		return s, false
	}
	s.tokens -= tokenUnit
	return s, true
}

// Rate bucket keys: "n" 0 phone-number id, the number's throughput (in
// bucketRateLimits); "p" 0 phone-number id 0 consumer reference, the pair
// (behind its key time in bucketRatePairs).
func rateNumberKey(phoneID string) string { return "n\x00" + phoneID }
func ratePairKey(phoneID, peerRef string) string {
	return "p\x00" + phoneID + "\x00" + peerRef
}

// appendRateNumberKey and appendRatePairKey append the keys to dst.
func appendRateNumberKey(dst []byte, phoneID string) []byte {
	return append(append(dst, "n\x00"...), phoneID...)
}
func appendRatePairKey(dst []byte, phoneID, peerRef string) []byte {
	return append(append(append(append(dst, "p\x00"...), phoneID...), 0), peerRef...)
}

// limits returns p's effective limits: messages a minute and burst for
// the number and for one pair.
func rateLimitsOf(p *Phone) (numPerMin, numBurst, pairPerMin, pairBurst int64) {
	mps := int64(p.ThroughputMPS)
	if mps <= 0 {
		mps = DefaultThroughputMPS
	}
	ppm := int64(p.PairPerMinute)
	if ppm <= 0 {
		ppm = DefaultPairPerMinute
	}
	pb := int64(p.PairBurst)
	if pb <= 0 {
		pb = DefaultPairBurst
	}
	return mps * 60, mps, ppm, pb
}

// The pair → key time half of the pair rate buckets lives in memory
// (pairIndex, distinct_index.go): the disk keeps each pair bucket under
// time | pair key (bucketRatePairs), so a new pair appends instead of
// writing a random key; the index is rebuilt whenever the database is
// opened, and only Apply changes it afterwards.

// rateSlot is one rate bucket as the running batch sees it: loaded once,
// charged in memory, its value written by flushRates. A pair bucket's
// key is added, moved and deleted at once (present always says whether
// it is on disk).
type rateSlot struct {
	s       rateState
	at      int64  // a pair bucket's key time
	present bool   // the bucket exists
	dirty   bool   // its value changed since it was written: flushRates writes it
	key     string // its key in the batch's map (rateNumberKey or ratePairKey)
}

// isPair tells a ratePairKey from a rateNumberKey.
func isPair(k string) bool { return k[0] == 'p' }

// rate returns the batch's slot for key k (a rateNumberKey or
// ratePairKey), reading it from the database the first time.
func (b *applyBatch) rate(k string) *rateSlot {
	if r, ok := b.rates[k]; ok {
		return r
	}
	at := int64(noTime)
	if isPair(k) {
		if t, ok := b.pairs.at(k); ok {
			at = t
		}
	}
	return b.loadRate(k, at)
}

// loadRate makes the batch's slot for key k, which it has none for; at
// is a pair bucket's key time as the index has it (noTime: no bucket).
func (b *applyBatch) loadRate(k string, at int64) *rateSlot {
	r := b.newRateSlot()
	if !isPair(k) {
		b.key = append(b.key[:0], k...)
		r.s, r.present = decodeRate(b.tx.Bucket(bucketRateLimits).Get(b.key))
	} else if at != noTime {
		r.at = at
		b.key = appendRateTimeKey(b.key[:0], at, k)
		if r.s, r.present = decodeRate(b.bucket(&b.bks.ratePairs, bucketRatePairs).Get(b.key)); !r.present {
			panic(fmt.Sprintf("raftfsm: rate pair %x: index and disk disagree", k))
		}
	}
	if b.rates == nil {
		b.rates = b.mem.rateMap()
	}
	b.rates[k] = r
	r.key = k
	return r
}

// newRateSlot returns a zero slot from the batch's slab (one allocation
// per 64 slots, the last one reused by the next batch; a slot stays where
// it is, the slab is never grown).
func (b *applyBatch) newRateSlot() *rateSlot {
	if len(b.slots) == cap(b.slots) {
		b.slots = make([]rateSlot, 0, 64)
	}
	b.slots = b.slots[:len(b.slots)+1]
	r := &b.slots[len(b.slots)-1]
	*r = rateSlot{} // an earlier batch's
	return r
}

// rateOf is rate for a key in memory the caller may reuse (b.key among
// others), with the pair's key time from the index read by the caller
// (at: noTime for none, and for a number's key): the slot map's own
// string is made only for a new slot.
func (b *applyBatch) rateOf(k []byte, at int64) *rateSlot {
	if r, ok := b.rates[string(k)]; ok {
		return r
	}
	return b.loadRate(string(k), at)
}

// rateAdmit charges one message from p to the consumer peerRef at now
// against the pair budget, then the number's. Nothing changes when either
// refuses: a refused message costs no tokens. Existing buckets change in
// the batch's memory (flushRates writes each once); a new pair bucket is
// written at once under now, which appends. pairAt is the pair's key time
// in the index now (noTime: none), read by the caller with the pair's
// other times (consumerIndex.times).
func (b *applyBatch) rateAdmit(p *Phone, peerRef string, now, pairAt int64) error {
	numPerMin, numBurst, pairPerMin, pairBurst := rateLimitsOf(p)
	b.key = appendRatePairKey(b.key[:0], p.ID, peerRef)
	ps := b.rateOf(b.key, pairAt)
	pair, ok := ps.s.take(ps.present, now, pairPerMin, pairBurst)
	if !ok {
		return ErrPairRate
	}
	b.key = appendRateNumberKey(b.key[:0], p.ID)
	ns := b.rateOf(b.key, noTime)
	num, ok := ns.s.take(ns.present, now, numPerMin, numBurst)
	if !ok {
		return ErrThroughput
	}
	ns.s, ns.present, ns.dirty = num, true, true
	ps.s = pair
	if ps.present {
		ps.dirty = true
	} else {
		b.ratePairPut(ps, ps.key, pair.last)
	}
	b.ratePrune(now)
	return nil
}

// rateTimeKey is the bucketRatePairs key: time BE64 | pair key.
func rateTimeKey(at int64, pairKey string) []byte {
	return appendRateTimeKey(make([]byte, 0, 8+len(pairKey)), at, pairKey)
}

// appendRateTimeKey appends rateTimeKey(at, pairKey) to dst.
func appendRateTimeKey(dst []byte, at int64, pairKey string) []byte {
	return append(binary.BigEndian.AppendUint64(dst, uint64(at)), pairKey...)
}

// ratePairPut writes the pair bucket of slot r under at (its new key),
// records it in the index and keeps the batch's idea of the front current.
func (b *applyBatch) ratePairPut(r *rateSlot, pk string, at int64) {
	b.key = appendRateTimeKey(b.key[:0], at, pk)
	k := b.key
	put(b.bucket(&b.bks.ratePairs, bucketRatePairs), k, b.rateValue(r.s))
	r.at, r.present, r.dirty = at, true, false
	b.pairs.put(pk, at)
	if b.rateFrontOK && (b.rateFront == nil || bytes.Compare(k, b.rateFront) < 0) {
		b.rateFront = bytes.Clone(k)
	}
}

// rateIndexFront is the first key of bucketRatePairs (nil when empty),
// read once and then followed in memory until a prune consumes it.
func (b *applyBatch) rateIndexFront() []byte {
	if !b.rateFrontOK {
		k, _ := b.tx.Bucket(bucketRatePairs).Cursor().First()
		b.rateFront, b.rateFrontOK = bytes.Clone(k), true
	}
	return b.rateFront
}

// ratePrune looks at up to two pair buckets keyed more than
// rateIdleMillis before now (a bounded cost per message that outpaces
// their creation): one idle that long is deleted; one used since moves to
// the key of its last use. While the front is younger than that, nothing
// is read. A use does not move the key (the bucket's own last is exact),
// so a bucket moves at most once a day and uses write in place.
func (b *applyBatch) ratePrune(now int64) {
	// Keys hold BE64 times: comparing them as uint64 is comparing the bytes.
	cutoff := uint64(now - rateIdleMillis)
	for range 2 {
		k := b.rateIndexFront()
		if k == nil || beUint64(k[:8]) >= cutoff {
			return
		}
		pk := string(k[8:])
		s := b.rate(pk) // before the delete: it may read the bucket
		mustDelete(b.tx, bucketRatePairs, k)
		b.rateFrontOK = false
		if uint64(s.s.last) >= cutoff {
			b.ratePairPut(s, pk, s.s.last)
			continue
		}
		b.pairs.drop(pk)
		s.present, s.dirty = false, false
	}
}

// flushRates writes the bucket values this batch changed, in key order.
func (b *applyBatch) flushRates() {
	var nums, pairs [][]byte
	for k, r := range b.rates {
		if !r.dirty {
			continue
		}
		if isPair(k) {
			pairs = append(pairs, rateTimeKey(r.at, k))
		} else {
			nums = append(nums, []byte(k))
		}
	}
	slices.SortFunc(nums, bytes.Compare)
	for _, k := range nums {
		mustPut(b.tx, bucketRateLimits, k, b.rateValue(b.rates[string(k)].s))
	}
	slices.SortFunc(pairs, bytes.Compare)
	for _, k := range pairs {
		mustPut(b.tx, bucketRatePairs, k, b.rateValue(b.rates[string(k[8:])].s))
	}
	b.rates, b.rateFront, b.rateFrontOK = nil, nil, false
}

// RateLimitEntries counts the stored rate buckets, numbers' and pairs'
// (tests, diagnostics).
func (f *FSM) RateLimitEntries() int {
	n := 0
	_ = f.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRateLimits).Stats().KeyN + tx.Bucket(bucketRatePairs).Stats().KeyN
		return nil
	})
	return n
}
