package raftfsm

import (
	"bytes"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// consumerIndex is the in-memory half of the distinct-consumer sets and of
// the pair rate buckets: per business number and consumer, the time the
// consumer was last reached in each set and the key time of its pair
// bucket. The disk keeps only time-ordered keys (bucketDistinctTimes,
// bucketRatePairs), so a touch writes no random-key record: the index is
// rebuilt from them whenever the database is opened (Open, snapshot
// install, restore), which makes it a pure function of the database, and
// so of the log, on every replica. Only Apply (one writer) and openDB
// (which excludes Apply) touch it; the read paths read the disk.
//
// Its size is what a consumer of the last 24 hours costs in memory, so an
// entry is compact: one entry holds all three times (one map instead of
// three), and a reference as seal.ConsumerRef makes it (32 lowercase hex
// digits) is keyed by its 16 bytes, so the map holds no pointer (no string
// per entry to allocate, nothing for the garbage collector to scan): about
// 60 bytes per consumer instead of ~280 with three string-keyed maps
// (BenchmarkIndexMemory). Any other reference (tests, imports) goes to a
// string-keyed map beside it, with the same behaviour.
type consumerIndex struct {
	phones map[string]*phoneConsumers
}

// phoneConsumers is one business number's consumers. A map that becomes
// empty is set to nil, and a number without consumers is removed, so two
// indexes with the same entries are reflect.DeepEqual.
type phoneConsumers struct {
	refs  map[consumerKey]consumerTimes
	other map[string]consumerTimes
}

// consumerKey is a canonical consumer reference, hex-decoded.
type consumerKey [16]byte

// consumerTimes holds a consumer's entry in each slot (noTime: none).
type consumerTimes [slotCount]int64

// The slots of consumerTimes.
const (
	slotTier = iota
	slotReach
	slotPair
	slotCount
)

// noTime marks an empty slot.
const noTime = math.MinInt64

var emptyTimes = consumerTimes{noTime, noTime, noTime}

func newConsumerIndex() *consumerIndex {
	return &consumerIndex{phones: map[string]*phoneConsumers{}}
}

// parseRef hex-decodes a canonical reference (ok false for any other).
// Every accept parses its consumer's reference a few times: a table and
// no branch per digit.
func parseRef[S ~string | ~[]byte](ref S) (k consumerKey, ok bool) {
	if len(ref) != 2*len(k) {
		return k, false
	}
	var bad byte
	for i := range k {
		hi, lo := hexDigits[ref[2*i]], hexDigits[ref[2*i+1]]
		bad |= hi | lo
		k[i] = hi<<4 | lo
	}
	if bad > 0xf {
		return consumerKey{}, false
	}
	return k, true
}

// hexDigits decodes one lowercase hex digit; 0xff marks anything else
// (uppercase is not canonical: it would not encode back to the same
// reference).
var hexDigits = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// get returns ref's time in slot (ok false when absent).
func (x *consumerIndex) get(phoneID, ref string, slot int) (int64, bool) {
	e := x.times(phoneID, ref)
	if e[slot] == noTime {
		return 0, false
	}
	return e[slot], true
}

// times returns every time of ref at phoneID (noTime where it has none):
// one lookup where an accept needs the three.
func (x *consumerIndex) times(phoneID, ref string) consumerTimes {
	p := x.phones[phoneID]
	if p == nil {
		return emptyTimes
	}
	var e consumerTimes
	var ok bool
	if k, canon := parseRef(ref); canon {
		e, ok = p.refs[k]
	} else {
		e, ok = p.other[ref]
	}
	if !ok {
		return emptyTimes
	}
	return e
}

// set puts ref's time in slot; at == noTime clears the slot (and the entry
// when no slot is left).
func (x *consumerIndex) set(phoneID, ref string, slot int, at int64) {
	p := x.phones[phoneID]
	if p == nil {
		if at == noTime {
			return
		}
		p = &phoneConsumers{}
		x.phones[phoneID] = p
	}
	if k, canon := parseRef(ref); canon {
		p.refs = setSlot(p.refs, k, slot, at)
	} else {
		p.other = setSlot(p.other, ref, slot, at)
	}
	if p.refs == nil && p.other == nil {
		delete(x.phones, phoneID)
	}
}

// setSlot sets one slot of m[k] (noTime clears it) and returns m (nil
// once empty).
func setSlot[K comparable](m map[K]consumerTimes, k K, slot int, at int64) map[K]consumerTimes {
	e, ok := m[k]
	if !ok {
		if at == noTime {
			return m
		}
		e = emptyTimes
	}
	e[slot] = at
	if e == emptyTimes {
		delete(m, k)
		if len(m) == 0 {
			return nil
		}
		return m
	}
	if m == nil {
		m = map[K]consumerTimes{}
	}
	m[k] = e
	return m
}

// len is the number of consumers with at least one entry (tests).
func (x *consumerIndex) len() int {
	n := 0
	for _, p := range x.phones {
		n += len(p.refs) + len(p.other)
	}
	return n
}

// distinctIndex is the consumer → last-reached-time half of the
// distinct-consumer sets (distinct.go): the set slots of consumerIndex.
type distinctIndex struct{ *consumerIndex }

// setSlotOf maps a set name to its slot.
func setSlotOf(set string) int {
	switch set {
	case setTier:
		return slotTier
	case setReach:
		return slotReach
	}
	panic(fmt.Sprintf("raftfsm: unknown distinct set %q", set))
}

// time returns ref's entry in a set (ok false when absent).
func (x distinctIndex) time(set, phoneID, ref string) (int64, bool) {
	return x.get(phoneID, ref, setSlotOf(set))
}

// put sets ref's entry in a set.
func (x distinctIndex) put(set, phoneID, ref string, at int64) {
	if at == noTime {
		panic("raftfsm: distinct time out of range")
	}
	x.set(phoneID, ref, setSlotOf(set), at)
}

// drop removes ref's entry from a set.
func (x distinctIndex) drop(set, phoneID, ref string) {
	x.set(phoneID, ref, setSlotOf(set), noTime)
}

// pairIndex is the pair → key time half of the pair rate buckets
// (ratelimit.go): the pair slot of consumerIndex, addressed by the pair
// key (ratePairKey: "p" 0 phone-number id 0 consumer reference).
type pairIndex struct{ *consumerIndex }

// splitPairKey splits a ratePairKey.
func splitPairKey(pk string) (phoneID, ref string) {
	rest, ok := cutPrefix(pk, "p\x00")
	if !ok {
		panic(fmt.Sprintf("raftfsm: rate pair key %x", pk))
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == 0 {
			return rest[:i], rest[i+1:]
		}
	}
	panic(fmt.Sprintf("raftfsm: rate pair key %x", pk))
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

// at returns the key time of pair bucket pk (ok false when absent).
func (x pairIndex) at(pk string) (int64, bool) {
	phoneID, ref := splitPairKey(pk)
	return x.get(phoneID, ref, slotPair)
}

// put records pair bucket pk under key time at.
func (x pairIndex) put(pk string, at int64) {
	if at == noTime {
		panic("raftfsm: pair time out of range")
	}
	phoneID, ref := splitPairKey(pk)
	x.set(phoneID, ref, slotPair, at)
}

// drop forgets pair bucket pk.
func (x pairIndex) drop(pk string) {
	phoneID, ref := splitPairKey(pk)
	x.set(phoneID, ref, slotPair, noTime)
}

// loadConsumerIndex rebuilds the index from the disk: the distinct sets'
// time index and the pair buckets' keys.
func loadConsumerIndex(tx *bolt.Tx) (*consumerIndex, error) {
	x, _, err := loadConsumerState(tx)
	return x, err
}

// loadConsumerState is loadConsumerIndex with the distinct sets' floors
// (distinct.go): each set's oldest key time per number, found on the way.
func loadConsumerState(tx *bolt.Tx) (*consumerIndex, distinctFloors, error) {
	x, fl := newConsumerIndex(), distinctFloors{}
	if err := loadDistinctIndex(tx, distinctIndex{x}, fl); err != nil {
		return nil, nil, err
	}
	if err := loadPairIndex(tx, pairIndex{x}); err != nil {
		return nil, nil, err
	}
	return x, fl, nil
}

// loadDistinctIndex reads the time index (phone 0 BE64 time 0 ref → set
// bits) into x, and each set's first key time per number into fl.
func loadDistinctIndex(tx *bolt.Tx, x distinctIndex, fl distinctFloors) error {
	// Keys come by number, each number's in time order: a set's first key
	// at a number is its floor there.
	var number []byte
	var floored [2]bool // tier, reach: floor taken at number
	return tx.Bucket(bucketDistinctTimes).ForEach(func(k, v []byte) error {
		phone, rest, ok := bytes.Cut(k, []byte{0})
		if !ok || len(rest) < 9 || rest[8] != 0 || len(v) != 1 || v[0] == 0 || v[0] > distinctBitTier|distinctBitReach {
			return fmt.Errorf("%w: distinct time key %x=%x", ErrCorrupt, k, v)
		}
		at := int64(beUint64(rest))
		if at == noTime {
			return fmt.Errorf("%w: distinct time key %x", ErrCorrupt, k)
		}
		if number == nil || !bytes.Equal(phone, number) {
			number, floored = append(number[:0], phone...), [2]bool{}
		}
		for i, set := range []string{setTier, setReach} {
			if v[0]&setBit(set) == 0 {
				continue
			}
			if !x.loadSlot(phone, rest[9:], setSlotOf(set), at) {
				return fmt.Errorf("%w: distinct entry %x stored twice in %s", ErrCorrupt, k, set)
			}
			if !floored[i] { // fl is new: nothing to keep
				fl[setID{set, string(phone)}] = uint64(at)
				floored[i] = true
			}
		}
		return nil
	})
}

// loadSlot puts at into slot of consumer ref at number phone for the
// loaders, which read millions of keys at a start: one lookup of the
// number and two of the consumer, and no allocation but for a new
// number's or a non-canonical reference's string (phone and ref are
// bbolt's bytes, not kept). ok false: the slot already held a time (the
// same entry stored twice on disk).
func (x *consumerIndex) loadSlot(phone, ref []byte, slot int, at int64) (ok bool) {
	p := x.phones[string(phone)]
	if p == nil {
		p = &phoneConsumers{}
		x.phones[string(phone)] = p
	}
	if k, canon := parseRef(ref); canon {
		p.refs, ok = loadTime(p.refs, k, slot, at)
	} else {
		p.other, ok = loadTime(p.other, string(ref), slot, at)
	}
	return ok
}

// loadTime sets slot of m[k] to at unless it holds a time already (ok
// false), and returns m (made when nil).
func loadTime[K comparable](m map[K]consumerTimes, k K, slot int, at int64) (map[K]consumerTimes, bool) {
	if m == nil {
		m = map[K]consumerTimes{}
	}
	e, found := m[k]
	if !found {
		e = emptyTimes
	}
	if e[slot] != noTime {
		return m, false
	}
	e[slot] = at
	m[k] = e
	return m, true
}

// loadPairIndex reads bucketRatePairs (time BE64 | pair key) into x.
func loadPairIndex(tx *bolt.Tx, x pairIndex) error {
	return tx.Bucket(bucketRatePairs).ForEach(func(k, _ []byte) error {
		if len(k) < 10 || k[8] != 'p' || k[9] != 0 {
			return fmt.Errorf("%w: rate pair key %x", ErrCorrupt, k)
		}
		phone, ref, ok := bytes.Cut(k[10:], []byte{0})
		if !ok {
			return fmt.Errorf("%w: rate pair key %x", ErrCorrupt, k)
		}
		at := int64(beUint64(k))
		if at == noTime {
			return fmt.Errorf("%w: rate pair key %x", ErrCorrupt, k)
		}
		if !x.loadSlot(phone, ref, slotPair, at) {
			return fmt.Errorf("%w: rate pair %x stored twice", ErrCorrupt, k)
		}
		return nil
	})
}
