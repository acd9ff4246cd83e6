package raftfsm

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// distinctKeys reads bucketDistinctTimes as key → set bits.
func distinctKeys(t testing.TB, f *FSM) map[string]byte {
	t.Helper()
	keys := map[string]byte{}
	if err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDistinctTimes).ForEach(func(k, v []byte) error {
			if len(v) != 1 {
				return fmt.Errorf("value %x of %x", v, k)
			}
			keys[string(k)] = v[0]
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestDistinctTimesOneKeyPerConsumerAndTime: the time index holds one key
// per number, time and consumer, with the bits of exactly the sets whose
// entry for that consumer is at that time (the in-memory index), after
// every batch of the hot log applied one entry at a time; the log reaches
// every case the merged key has — a consumer in both sets under one key,
// in the tier set only (a late template behind a newer message), in the
// reach set only, and a key that lost one set's bit to a prune while the
// other set kept it — so TestDeterminismHotPath's groupings cover them.
// Every set's floor stays at or below its oldest entry (and is that entry's
// time after an open), and a set's live
// count is the same from its floor, from the front of the number's range
// and walking the newer keys (distinctNewer, the reads').
func TestDistinctTimesOneKeyPerConsumerAndTime(t *testing.T) {
	logs := hotLog(t)
	f := openFSM(t)
	f.db.NoSync = true // a commit per entry; durability is not what is tested
	seen := map[byte]int{}
	partlyPruned := 0 // keys that went from both sets to one, at the same time
	prev := map[string]byte{}
	var lastAt int64 // the newest time in the time index so far
	for i := range logs {
		f.ApplyBatch(logs[i : i+1])
		keys := distinctKeys(t, f)
		want := map[string]byte{}
		add := func(phone, ref string, e consumerTimes) {
			for slot, bit := range []byte{slotTier: distinctBitTier, slotReach: distinctBitReach} {
				if e[slot] != noTime {
					want[string(distinctTimeKey(phone, e[slot], ref))] |= bit
					lastAt = max(lastAt, e[slot])
				}
			}
		}
		for phone, p := range f.sets.phones {
			for k, e := range p.refs {
				add(phone, hex.EncodeToString(k[:]), e)
			}
			for ref, e := range p.other {
				add(phone, ref, e)
			}
		}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("entry %d: the time index %v is not the index's %v", i+1, keys, want)
		}
		for k, bits := range keys {
			seen[bits]++
			if prev[k] == distinctBitTier|distinctBitReach && bits != prev[k] {
				partlyPruned++
			}
		}
		prev = keys
		for id, floor := range f.floors {
			prefix := distinctTimePrefix(id.phone)
			for k, bits := range keys {
				if bytes.HasPrefix([]byte(k), prefix) && bits&setBit(id.set) != 0 && beUint64([]byte(k[len(prefix):])) < floor {
					t.Fatalf("entry %d: %s floor %d above entry %x", i+1, id.set, floor, k)
				}
			}
		}
		// The three ways to count a set's live entries agree: from the
		// floor, from the front, and walking the newer keys (reads).
		if i%8 != 0 {
			continue
		}
		if err := f.View(func(tx *bolt.Tx) error {
			for _, phone := range []string{"3001", "3002"} {
				for _, s := range distinctSets {
					for _, back := range []int64{0, s.horizon / 2, s.horizon, 2 * s.horizon} {
						cutoff := lastAt - back
						a, b, c := distinctLive(tx, f.floors, s.name, phone, cutoff), distinctLive(tx, nil, s.name, phone, cutoff), distinctNewer(tx, s.name, phone, cutoff)
						if a != b || b != c {
							return fmt.Errorf("%s of %s newer than %d: %d from the floor, %d from the front, %d walking the newer", s.name, phone, cutoff, a, b, c)
						}
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}
	for _, bits := range []byte{distinctBitTier, distinctBitReach, distinctBitTier | distinctBitReach} {
		if seen[bits] == 0 {
			t.Errorf("the log never left a key with set bits %d", bits)
		}
	}
	if partlyPruned == 0 {
		t.Error("no key of both sets ever lost one of them")
	}
	if len(f.floors) == 0 {
		t.Error("no floor was ever set")
	}
	// An open rebuilds the floors exactly: each set's oldest key time per
	// number.
	oldest := distinctFloors{}
	for k, bits := range prev {
		phone, rest, _ := bytes.Cut([]byte(k), []byte{0})
		for _, set := range []string{setTier, setReach} {
			id := setID{set, string(phone)}
			if at, ok := oldest[id]; bits&setBit(set) != 0 && (!ok || beUint64(rest) < at) {
				oldest[id] = beUint64(rest)
			}
		}
	}
	if g := reopenFSM(t, f); !reflect.DeepEqual(g.floors, oldest) || len(oldest) == 0 {
		t.Fatalf("floors after an open %v, want %v", g.floors, oldest)
	}
}

// TestDistinctFloorsChangeNothing: the floors decide only where walks
// start: a replica whose floors are forgotten before every batch refuses
// and writes exactly what one that keeps them does.
func TestDistinctFloorsChangeNothing(t *testing.T) {
	logs := hotLog(t)
	kept, forgot := openFSM(t), openFSM(t)
	kept.db.NoSync, forgot.db.NoSync = true, true
	for i := 0; i < len(logs); i += 5 {
		batch := logs[i:min(i+5, len(logs))]
		clear(forgot.floors)
		if want, got := fmt.Sprint(kept.ApplyBatch(batch)), fmt.Sprint(forgot.ApplyBatch(batch)); want != got {
			t.Fatalf("entries %d…: results %v without floors, %v with", i+1, got, want)
		}
	}
	if dumpOf(t, kept) != dumpOf(t, forgot) {
		t.Fatal("same log, different state without floors")
	}
}

// halfApplied applies the first half of the hot log to two state
// machines: one to migrate (f, whose dump is want) and one that stays as
// it is (straight), to apply the rest beside it.
func halfApplied(t *testing.T) (logs []*raft.Log, half int, straight, f *FSM, want string) {
	t.Helper()
	logs = hotLog(t)
	half = len(logs) / 2
	straight, f = openFSM(t), openFSM(t)
	straight.ApplyBatch(logs[:half])
	f.ApplyBatch(logs[:half])
	return logs, half, straight, f, dumpOf(t, f)
}

// TestMigrateSchema4MergesDistinctTimes: schema 4 kept each distinct set in
// its own region of distinct_by_time (set 0 phone 0 time 0 ref → empty);
// opening such a database merges them into distinct_times, drops the old
// bucket, rebuilds the same in-memory index, and the state then follows
// the log exactly as one that never had schema 4.
func TestMigrateSchema4MergesDistinctTimes(t *testing.T) {
	logs, half, straight, f, want := halfApplied(t)
	both := 0
	for _, bits := range distinctKeys(t, f) {
		if bits == distinctBitTier|distinctBitReach {
			both++
		}
	}
	if both == 0 {
		t.Fatal("no consumer in both sets under one key to migrate")
	}
	writeSchema4Distinct(t, f)
	index := f.sets
	g := reopenMigrated(t, f, want, 4)
	if !reflect.DeepEqual(g.sets, index) || index.len() == 0 {
		t.Fatal("the rebuilt distinct index differs")
	}
	if err := g.View(func(tx *bolt.Tx) error {
		if tx.Bucket(legacyDistinctByTime) != nil {
			return fmt.Errorf("bucket %s left", legacyDistinctByTime)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(straight.ApplyBatch(logs[half:])) != fmt.Sprint(g.ApplyBatch(logs[half:])) || dumpOf(t, straight) != dumpOf(t, g) {
		t.Fatal("after the migration the same log gives other results or state")
	}
}

// writeSchema4Distinct rewrites f's distinct time index in the schema-4
// layout (a region per set in distinct_by_time, distinct_times empty) and
// stamps the database schema 4.
func writeSchema4Distinct(t testing.TB, f *FSM) {
	t.Helper()
	if err := f.db.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(legacyDistinctByTime)
		if err != nil {
			return err
		}
		old.FillPercent = 1.0
		merged := tx.Bucket(bucketDistinctTimes)
		var ks [][]byte
		var vs []byte
		if err := merged.ForEach(func(k, v []byte) error {
			ks, vs = append(ks, bytes.Clone(k)), append(vs, v[0])
			return nil
		}); err != nil {
			return err
		}
		for _, set := range []string{setReach, setTier} { // key order: a region per set
			for i, k := range ks {
				if vs[i]&setBit(set) != 0 {
					phone, rest, _ := bytes.Cut(k, []byte{0})
					if err := old.Put(append([]byte(set+"\x00"+string(phone)+"\x00"), rest...), nil); err != nil {
						return err
					}
				}
			}
		}
		if err := tx.DeleteBucket(bucketDistinctTimes); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketDistinctTimes); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be64(4))
	}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkMigrateSchema4 opens a schema-4 database that holds 1M accepted
// messages (template accepts a millisecond apart to ~630k consumers, so
// every consumer is in both sets: two schema-4 entries each) — the open
// migrates it — and, beside it, the same database already at schema 5.
// The difference is the migration (one bbolt transaction):
//
//	go test ./raftfsm -run '^$' -bench MigrateSchema4 -benchtime 1x
func BenchmarkMigrateSchema4(b *testing.B) {
	const n, chunk = 1_000_000, 100_000
	f := openFSM(b)
	f.db.NoSync = true
	a, _ := acceptWorkload(b, f, 0, n, 96, 0)
	for i := 0; i < n; i += chunk {
		applyAcceptEntries(b, a, acceptEntries(i, min(i+chunk, n), n, 96, 0))
	}
	path := f.path
	consumers := f.sets.len()
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	for _, from := range []int{4, 5} {
		b.Run(fmt.Sprintf("schema=%d", from), func(b *testing.B) {
			var ns, cpu int64
			for i := 0; i < b.N; i++ {
				g, err := Open(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				if from == 4 {
					writeSchema4Distinct(b, g)
				}
				if err := g.Close(); err != nil {
					b.Fatal(err)
				}
				t0, cpu0 := time.Now(), processCPU()
				if g, err = Open(path, nil); err != nil {
					b.Fatal(err)
				}
				ns, cpu = ns+time.Since(t0).Nanoseconds(), cpu+processCPU()-cpu0
				if err := g.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(ns)/float64(b.N)/1e6, "open-ms")
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "open-cpu-ms")
			b.ReportMetric(float64(consumers), "consumers")
		})
	}
}

// reopenFSM closes f and opens its database again (closed at the test's
// end).
func reopenFSM(t testing.TB, f *FSM) *FSM {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(f.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// TestExpireDistinctInSmallBudgets: expiry that prunes the merged time
// index a few entries per command — its walk stopping at the budget, the
// set's floor where it stopped — ends exactly where one command with room
// for everything does, a day on (the tier bits cleared from keys the reach
// set keeps) and a week on (the keys gone).
func TestExpireDistinctInSmallBudgets(t *testing.T) {
	whole, small := retentionFixture(t), retentionFixture(t)
	for i := int64(0); i < 30; i++ { // ten consumers reached twice
		at := t0 + i*60_000
		c := cmd(t, CmdAcceptMessage, AcceptMessage{Key: msgKey(at), IDRef: MessageIDRef(fmt.Sprint("wamid.budget.", i)), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: fmt.Sprint("ref-c", i%20), Type: "template", Content: []byte("c"), CreatedAt: at})
		whole.mustApply(c)
		small.mustApply(c)
	}
	for _, now := range []int64{t0 + dayMs + 15*60_000, t0 + 2*dayMs, t0 + 8*dayMs} {
		if r := whole.expire(now, MaxExpireBudget); r.More {
			t.Fatal("one expiry command could not do it all")
		}
		commands := 0
		for r := small.expire(now, 3); r.More; r = small.expire(now, 3) {
			commands++
		}
		if commands < 2 {
			t.Fatalf("at %d: the small budget took %d commands", now, commands+1)
		}
		// The applied index differs (more commands): compare the rest.
		applied := regexp.MustCompile(`(?m)^meta ` + hex.EncodeToString(keyApplied) + `=.*$`)
		if w, s := applied.ReplaceAllString(dumpOf(t, whole.f), ""), applied.ReplaceAllString(dumpOf(t, small.f), ""); w != s {
			t.Fatalf("at %d: expiry in budgets of 3 left another state:\n%s\n--- want\n%s", now, s, w)
		}
	}
	if n := len(distinctKeys(t, small.f)); n != 0 {
		t.Fatalf("%d time-index keys a week on", n)
	}
}

// TestMigrateDistinctTimesInSteps: the 4 → 5 migration moves the time
// index a few keys per transaction. Stopped after three steps (a crash or
// a stop between transactions) the file is stamped schema 5 and marked,
// so a schema-4 binary refuses it, and still holds the keys not moved;
// the next open finishes the migration to the same state as one
// transaction (and as the log applied by this binary), and the rest of
// the log gives the same results.
func TestMigrateDistinctTimesInSteps(t *testing.T) {
	logs, half, straight, f, want := halfApplied(t)
	keys := len(distinctKeys(t, f))
	writeSchema4Distinct(t, f)
	path := f.path
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	const step = 5
	if keys <= 3*step {
		t.Fatalf("only %d keys: three steps of %d would finish the migration", keys, step)
	}
	for i := 0; i < 3; i++ {
		done, err := mergeDistinctStep(db, step)
		if err != nil || done {
			t.Fatalf("step %d: done %v, %v", i, done, err)
		}
	}
	if err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); beUint64(v) != schemaDistinctTimes || meta.Get(keyMergingDistinct) == nil {
			return fmt.Errorf("half-merged file stamped %d, marked %v: a schema-4 binary would read half the sets",
				beUint64(v), meta.Get(keyMergingDistinct) != nil)
		}
		if n := tx.Bucket(legacyDistinctByTime).Stats().KeyN; n == 0 {
			return fmt.Errorf("the old index is empty after three steps of %d", step)
		}
		if n := tx.Bucket(bucketDistinctTimes).Stats().KeyN; n == 0 || n > 3*step {
			return fmt.Errorf("%d merged keys after three steps of %d", n, step)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	if got := dumpOf(t, g); got != want {
		t.Fatalf("resumed migration:\n%s\n--- want\n%s", got, want)
	}
	if err := g.View(func(tx *bolt.Tx) error {
		if tx.Bucket(legacyDistinctByTime) != nil || tx.Bucket(bucketMeta).Get(keyMergingDistinct) != nil {
			return fmt.Errorf("the old index or the mark is left")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(straight.ApplyBatch(logs[half:])) != fmt.Sprint(g.ApplyBatch(logs[half:])) || dumpOf(t, straight) != dumpOf(t, g) {
		t.Fatal("after the resumed migration the same log gives other results or state")
	}
}
