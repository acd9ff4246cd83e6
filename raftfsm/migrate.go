package raftfsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Data-format migration. The database records its layout in meta
// keySchema. Schema 1 (before the lean apply) kept a message in three
// places — "messages" (16-byte key → msgpack Message), "message_ids"
// (wamid ref → 16-byte key) and "messages_by_phone" (phone 0 key → empty)
// — and the connector's envelope and read-receipt queues without the
// phone-number id. Schema 2 keeps one binary record per message under
// phone 0 key (record.go), the wamid ref → that key, and the phone id in
// the queue values. Schema 3 drops the consumer → time records of the
// distinct-consumer sets from bucket distinct (set 0 phone 0 ref): that
// half of the sets lives in memory, rebuilt from the time index
// (distinct_index.go); the counts stay. Schema 4 keeps the pair rate
// buckets under time | pair key in bucket rate_pairs (the time the
// schema-3 time index held them under) instead of a random-key bucket
// beside a time index (ratelimit.go). Schema 5 keeps both distinct-consumer
// sets of a number in one time index, bucket distinct_times (phone 0 time
// 0 ref → set bits), instead of one region per set in distinct_by_time
// (set 0 phone 0 time 0 ref → empty): an accept that reaches a consumer in
// both sets appends one key instead of two (distinct.go).
//
// Open migrates a schema-1 database once, in one bbolt transaction (all
// or nothing), before anything reads it. The result is a pure function of
// the old content, so replicas that migrate the same state agree, and it
// equals what this binary's Apply builds from the same log
// (TestMigrateSchema1 compares the dumps). A snapshot or backup of either
// schema is migrated when it is opened. A database stamped with a newer
// schema than this binary knows is refused.

// schemaVersion is the layout this binary reads and writes.
const schemaVersion = 5

// Schema-1 buckets, read only by the migration.
var (
	legacyMessages        = []byte("messages")
	legacyMessageIDs      = []byte("message_ids")
	legacyMessagesByPhone = []byte("messages_by_phone")
	// legacyRateLimitsByTime: schema 3's time index of the pair rate
	// buckets (last BE64 | pair key → empty).
	legacyRateLimitsByTime = []byte("rate_limits_by_time")
	// legacyDistinctByTime: schema 2–4's time index of the distinct sets,
	// one region per set (set 0 phone 0 BE64 time 0 ref → empty).
	legacyDistinctByTime = []byte("distinct_by_time")
)

// migrate brings the database in tx to schemaVersion. A database without
// a schema stamp is schema 1 if it holds the legacy messages bucket, and
// otherwise new (or a schema-2 backup, which carries no meta): stamped.
func migrate(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("%w: schema stamp %x", ErrCorrupt, v)
		}
		switch s := beUint64(v); {
		case s == schemaVersion:
			return nil
		case s > schemaVersion:
			return fmt.Errorf("database schema %d is newer than this binary's %d", s, schemaVersion)
		}
	}
	if old := tx.Bucket(legacyMessages); old != nil {
		if err := migrateMessages1(tx, old); err != nil {
			return err
		}
	}
	if err := dropDistinctRefs(tx); err != nil {
		return err
	}
	if err := mergeRatePairs(tx); err != nil {
		return err
	}
	if err := mergeDistinctTimes(tx); err != nil {
		return err
	}
	return meta.Put(keySchema, be64(schemaVersion))
}

// mergeRatePairs moves schema 3's pair rate buckets ("p" keys of
// rate_limits) under their time-index key into rate_pairs and drops the
// time index. A bucket the index missed goes under its last use; an index
// entry without its bucket is dropped.
func mergeRatePairs(tx *bolt.Tx) error {
	limits, pairs := tx.Bucket(bucketRateLimits), tx.Bucket(bucketRatePairs)
	moved := map[string]bool{}
	if old := tx.Bucket(legacyRateLimitsByTime); old != nil {
		var ks [][]byte
		if err := old.ForEach(func(k, _ []byte) error {
			ks = append(ks, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range ks {
			if len(k) < 9 {
				return fmt.Errorf("%w: rate time key %x", ErrCorrupt, k)
			}
			pk := string(k[8:])
			v := limits.Get(k[8:])
			if v == nil || moved[pk] {
				continue
			}
			if err := pairs.Put(k, bytes.Clone(v)); err != nil {
				return err
			}
			moved[pk] = true
		}
		if err := tx.DeleteBucket(legacyRateLimitsByTime); err != nil {
			return err
		}
	}
	var stray [][]byte // pair buckets (moved or not) still in rate_limits
	c := limits.Cursor()
	for k, _ := c.Seek([]byte("p\x00")); k != nil && bytes.HasPrefix(k, []byte("p\x00")); k, _ = c.Next() {
		stray = append(stray, bytes.Clone(k))
	}
	for _, k := range stray {
		if !moved[string(k)] {
			s, ok := decodeRate(limits.Get(k))
			if !ok {
				return fmt.Errorf("%w: rate bucket %x", ErrCorrupt, k)
			}
			if err := pairs.Put(rateTimeKey(s.last, string(k)), s.encode()); err != nil {
				return err
			}
		}
		if err := limits.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// mergeDistinctTimes moves schema 4's distinct time index (a region per
// set) into bucket distinct_times, one key per number, time and consumer
// with the bits of the sets that hold it there, and drops the old bucket.
// The counts (bucket distinct) stay as they are. A schema-4 database has
// normally been merged already, in steps, before migrate runs
// (mergeDistinctTimesInSteps); this is the path of older schemas.
func mergeDistinctTimes(tx *bolt.Tx) error {
	old := tx.Bucket(legacyDistinctByTime)
	if old == nil {
		return nil
	}
	merged := tx.Bucket(bucketDistinctTimes)
	merged.FillPercent = 1.0 // appended in key order within each set's region
	if err := old.ForEach(func(k, _ []byte) error { return mergeDistinctKey(merged, k) }); err != nil {
		return err
	}
	return tx.DeleteBucket(legacyDistinctByTime)
}

// mergeDistinctKey adds schema-4 time-index key k (set 0 phone 0 BE64
// time 0 ref) to distinct_times: its set's bit under phone 0 BE64 time 0
// ref, with the bits the key already has there.
func mergeDistinctKey(merged *bolt.Bucket, k []byte) error {
	set, rest, ok := bytes.Cut(k, []byte{0})
	phone, tail, ok2 := bytes.Cut(rest, []byte{0})
	if !ok || !ok2 || len(tail) < 9 || tail[8] != 0 {
		return fmt.Errorf("%w: schema-4 distinct time key %x", ErrCorrupt, k)
	}
	var bit byte
	switch string(set) {
	case setTier:
		bit = distinctBitTier
	case setReach:
		bit = distinctBitReach
	default:
		return fmt.Errorf("%w: schema-4 distinct set %q", ErrCorrupt, set)
	}
	nk := append(append(bytes.Clone(phone), 0), tail...)
	if v := merged.Get(nk); len(v) == 1 {
		bit |= v[0]
	}
	return merged.Put(nk, distinctValues[bit])
}

// distinctMergeStep is how many schema-4 keys one transaction of the
// stepped 4 → 5 migration moves: bbolt keeps every page a transaction
// writes in memory until it commits, ~110 bytes per moved key, so one
// transaction for a node with 10M consumers would need gigabytes
// (BENCHMARKS.md, "Stop 24: the schema-5 migration in steps").
const distinctMergeStep = 100_000

// schemaDistinctTimes is the schema whose migration runs in steps.
const schemaDistinctTimes = 5

// mergeDistinctTimesInSteps migrates a schema-4 database to schema 5 in
// transactions of at most step keys each, before the migration of
// openDB's one transaction (which then finds nothing left to do). The
// first step stamps the file schema 5 and marks it (keyMergingDistinct):
// a schema-4 binary refuses the half-merged file instead of reading half
// of its sets, and this one resumes after a crash — every step moves its
// keys (added to distinct_times, deleted from distinct_by_time) in one
// transaction, and the result does not depend on where the steps cut.
// The last step drops the old bucket and the mark.
func mergeDistinctTimesInSteps(db *bolt.DB, step int) error {
	// Every open comes here: find out in a read transaction, so that a
	// database with nothing to merge costs no commit (and no fsync).
	var pending bool
	if err := db.View(func(tx *bolt.Tx) error { pending = distinctMergePending(tx); return nil }); err != nil || !pending {
		return err
	}
	for {
		done, err := mergeDistinctStep(db, step)
		if err != nil {
			return fmt.Errorf("merge the distinct time index: %w", err)
		}
		if done {
			return nil
		}
	}
}

// distinctMergePending reports whether tx's database is one the stepped
// merge converts: schema 4, or marked as half-merged.
func distinctMergePending(tx *bolt.Tx) bool {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return false
	}
	if meta.Get(keyMergingDistinct) != nil {
		return true
	}
	v := meta.Get(keySchema)
	return len(v) == 8 && beUint64(v) == schemaDistinctTimes-1
}

// mergeDistinctStep runs one step of mergeDistinctTimesInSteps; done is
// true when there is nothing (more) to merge.
func mergeDistinctStep(db *bolt.DB, step int) (done bool, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		if !distinctMergePending(tx) {
			done = true // another schema: migrate handles it, in one transaction
			return nil
		}
		meta := tx.Bucket(bucketMeta)
		resuming := meta.Get(keyMergingDistinct) != nil
		old := tx.Bucket(legacyDistinctByTime)
		if old == nil {
			done = true
			return meta.Delete(keyMergingDistinct)
		}
		if !resuming {
			if err := meta.Put(keySchema, be64(schemaDistinctTimes)); err != nil {
				return err
			}
			if err := meta.Put(keyMergingDistinct, []byte{1}); err != nil {
				return err
			}
		}
		merged, err := tx.CreateBucketIfNotExists(bucketDistinctTimes)
		if err != nil {
			return err
		}
		merged.FillPercent = 1.0
		var moved [][]byte
		c := old.Cursor()
		k, _ := c.First()
		for ; k != nil && len(moved) < step; k, _ = c.Next() {
			if err := mergeDistinctKey(merged, k); err != nil {
				return err
			}
			moved = append(moved, bytes.Clone(k))
		}
		if k != nil { // more after this step: take these out of the old bucket
			for _, k := range moved {
				if err := old.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}
		done = true
		if err := tx.DeleteBucket(legacyDistinctByTime); err != nil {
			return err
		}
		return meta.Delete(keyMergingDistinct)
	})
	return done, err
}

// dropDistinctRefs deletes the schema-2 consumer records of bucket
// distinct (set 0 phone 0 ref), keeping the counts (set 0 phone 1).
func dropDistinctRefs(tx *bolt.Tx) error {
	b := tx.Bucket(bucketDistinct)
	var refs [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		if _, rest, ok := bytes.Cut(k, []byte{0}); ok && bytes.IndexByte(rest, 0) >= 0 {
			refs = append(refs, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range refs {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// migrateMessages1 rewrites schema-1 messages and queues as schema 2 and
// drops the legacy buckets.
func migrateMessages1(tx *bolt.Tx, old *bolt.Bucket) error {
	msgs, refs := tx.Bucket(bucketMessages), tx.Bucket(bucketMessageIDs)
	phoneOf := func(key []byte) string { // phone of a schema-1 message ("" when gone)
		var m Message
		if v := old.Get(key); v != nil && unmarshal(v, &m) == nil {
			return m.PhoneNumberID
		}
		return ""
	}
	err := old.ForEach(func(k, v []byte) error {
		var m Message
		if err := unmarshal(v, &m); err != nil {
			return fmt.Errorf("%w: schema-1 message %x: %v", ErrCorrupt, k, err)
		}
		if len(k) != messageKeyLen {
			return fmt.Errorf("%w: schema-1 message key %x", ErrCorrupt, k)
		}
		m.Key = k
		pk := messageKey(m.PhoneNumberID, k)
		if err := msgs.Put(pk, encodeMessage(&m)); err != nil {
			return err
		}
		if m.IDRef == "" {
			return nil
		}
		return refs.Put([]byte(m.IDRef), pk)
	})
	if err != nil {
		return err
	}
	// Queue values gain the phone-number id.
	rewrite := func(bucket []byte, value func(k, v []byte) []byte) error {
		b := tx.Bucket(bucket)
		var ks, vs [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			ks, vs = append(ks, bytes.Clone(k)), append(vs, value(k, v))
			return nil
		}); err != nil {
			return err
		}
		for i := range ks {
			if err := b.Put(ks[i], vs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := rewrite(bucketSignalEnvelopes, func(k, v []byte) []byte { return envelopeValue(phoneOf(k), v) }); err != nil {
		return err
	}
	if err := rewrite(bucketSignalReads, func(k, v []byte) []byte {
		return readValue(len(v) == 1 && v[0] == 1, phoneOf(k))
	}); err != nil {
		return err
	}
	for _, b := range [][]byte{legacyMessages, legacyMessageIDs, legacyMessagesByPhone} {
		if tx.Bucket(b) != nil {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
	}
	return nil
}
