package raftfsm

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Platform rate limits, enforced where a send is accepted: in Apply of
// the command that accepts the message. Every send already costs that one
// Raft round, so the check is cluster-wide and exact (a client pinned to
// one node of three gets the whole budget, not a third of it) without a
// round of its own; the token state is replicated in bucketRateLimits and
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

// rateIdleMillis bounds the elapsed time a bucket is refilled for (and
// keeps the integer arithmetic far from overflow); a pair bucket idle this
// long is deleted, as a missing bucket is a full one. A configuration
// whose burst takes longer than this to earn back is forgiven after it.
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

func (s rateState) encode() []byte { return append(be64(s.tokens), be64(s.last)...) }

// take refills s to now at perMinute messages a minute, capped at burst
// messages, and spends one message; ok is false (s unchanged in meaning)
// when less than one is left. A clock behind last (another proposer's)
// refills nothing and never moves last back.
func (s rateState) take(present bool, now, perMinute, burst int64) (rateState, bool) {
	capacity := burst * tokenUnit
	if !present {
		s = rateState{tokens: capacity, last: now}
	} else if now > s.last {
		elapsed := min(now-s.last, rateIdleMillis)
		// perMinute ≤ 6,000,000 (100,000 msg/s, the bound SetPhoneLimits
		// checks) and elapsed ≤ 8.64e7 ms: the product stays below 2^63.
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

// rateKeys: bucketRateLimits keys. "n" 0 phone-number id: the number's
// throughput; "p" 0 phone-number id 0 consumer reference: the pair.
func rateNumberKey(phoneID string) []byte { return []byte("n\x00" + phoneID) }
func ratePairKey(phoneID, peerRef string) []byte {
	return []byte("p\x00" + phoneID + "\x00" + peerRef)
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

// rateAdmit charges one message from p to the consumer peerRef at now
// against the pair budget, then the number's. Nothing is written when
// either refuses: a refused message costs no tokens.
func (b *applyBatch) rateAdmit(p *Phone, peerRef string, now int64) error {
	tx := b.tx
	rb := tx.Bucket(bucketRateLimits)
	numPerMin, numBurst, pairPerMin, pairBurst := rateLimitsOf(p)
	pk := ratePairKey(p.ID, peerRef)
	old, present := decodeRate(rb.Get(pk))
	pair, ok := old.take(present, now, pairPerMin, pairBurst)
	if !ok {
		return ErrPairRate
	}
	nk := rateNumberKey(p.ID)
	ns, nPresent := decodeRate(rb.Get(nk))
	num, ok := ns.take(nPresent, now, numPerMin, numBurst)
	if !ok {
		return ErrThroughput
	}
	mustPut(tx, bucketRateLimits, nk, num.encode())
	mustPut(tx, bucketRateLimits, pk, pair.encode())
	// The time index lets idle pair buckets be dropped from its front.
	if present && old.last != pair.last {
		mustDelete(tx, bucketRateLimitsByTime, rateTimeKey(old.last, pk))
	}
	mustPut(tx, bucketRateLimitsByTime, rateTimeKey(pair.last, pk), nil)
	b.ratePrune(now)
	return nil
}

// rateTimeKey is the bucketRateLimitsByTime key: last BE64 | pair key.
func rateTimeKey(last int64, pairKey []byte) []byte {
	return append(be64(last), pairKey...)
}

// ratePrune deletes up to two pair buckets idle for rateIdleMillis (a
// bounded cost per message that outpaces their creation).
func (b *applyBatch) ratePrune(now int64) {
	cutoff := be64(now - rateIdleMillis)
	c := b.tx.Bucket(bucketRateLimitsByTime).Cursor()
	var drop [][]byte
	for k, _ := c.First(); k != nil && len(drop) < 2 && bytes.Compare(k[:8], cutoff) < 0; k, _ = c.Next() {
		drop = append(drop, bytes.Clone(k))
	}
	for _, k := range drop {
		mustDelete(b.tx, bucketRateLimitsByTime, k)
		mustDelete(b.tx, bucketRateLimits, k[8:])
	}
}

// RateLimitEntries counts the stored rate buckets (tests, diagnostics).
func (f *FSM) RateLimitEntries() int {
	n := 0
	_ = f.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRateLimits).Stats().KeyN
		return nil
	})
	return n
}
