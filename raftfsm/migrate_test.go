package raftfsm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestMigrateSchema1 opens testdata/schema1.db — the state the schema-1
// code (before the lean apply) built from schema1Log, written by that
// code — and checks that the migration leaves exactly the state this
// binary builds from the same log, and that the readers find everything.
func TestMigrateSchema1(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fsm.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	migrated, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()

	fresh := openFSM(t)
	fresh.ApplyBatch(schema1Log(t))

	got, want := dumpOf(t, migrated), withoutNewDerivedState(dumpOf(t, fresh))
	if got != want {
		t.Fatalf("migrated state differs from the state this binary builds from the same log:\n%s\n--- want\n%s", got, want)
	}
	for _, legacy := range [][]byte{legacyMessages, legacyMessageIDs, legacyMessagesByPhone} {
		if strings.Contains(got, "\n"+string(legacy)+" ") {
			t.Fatalf("legacy bucket %s left", legacy)
		}
	}
	if n := migrated.MessageCount(); n != 13 {
		t.Fatalf("%d messages, want 13", n)
	}
	m, err := migrated.MessageByID("out2")
	if err != nil || m.PhoneNumberID != "3001" || m.Status != StatusRead || string(m.CallbackSealed) != "cb" || m.Category != CategoryMarketing {
		t.Fatalf("out2 = %+v, %v", m, err)
	}
	envs, err := migrated.StoredEnvelopes(nil, 10)
	if err != nil || len(envs) != 2 || string(envs[0].Sealed) != "env1" || envs[0].Message.IDRef != MessageIDRef("out1") {
		t.Fatalf("envelopes %+v, %v", envs, err)
	}
	reads, err := migrated.PendingReads(10)
	if err != nil || len(reads) != 1 || !reads[0].Typing || reads[0].Message.IDRef != MessageIDRef("in0") {
		t.Fatalf("reads %+v, %v", reads, err)
	}
	pending, err := migrated.PendingOutbound(nil, 10)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending %+v, %v", pending, err)
	}

	// Opening again changes nothing (the schema stamp says it is done).
	if err := migrated.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if dumpOf(t, again) != want {
		t.Fatal("second open changed the state")
	}
}

// TestSchemaNewerRefused: a database written by a newer binary is not
// opened (this one would misread it).
func TestSchemaNewerRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, be64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

// TestRestoreSchema1Backup: a backup written by a schema-1 node restores
// into the same state as a backup of this binary's state built from the
// same log (the restore opens, and so migrates, the loaded records).
func TestRestoreSchema1Backup(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	oldPath := filepath.Join(dir, "old.db")
	if err := os.WriteFile(oldPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	// The schema-1 database as it is, unmigrated: WriteBackup reads
	// every bucket through View only.
	db, err := bolt.Open(oldPath, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var oldStream, newStream bytes.Buffer
	if _, err := (&FSM{db: db}).WriteBackup(&oldStream, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(oldStream.Bytes(), legacyMessagesByPhone) {
		t.Fatal("the schema-1 backup holds no schema-1 buckets")
	}
	fresh := openFSM(t)
	fresh.ApplyBatch(schema1Log(t))
	if _, err := fresh.WriteBackup(&newStream, 0); err != nil {
		t.Fatal(err)
	}
	now := int64(1773100800000) + dayMs // a day after the log: nothing expires
	restore := func(stream *bytes.Buffer, name string) string {
		p := filepath.Join(dir, name)
		if _, err := RestoreBackup(stream, p, now, 0); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.MessageCount() != 13 {
			t.Fatalf("%s: %d messages", name, f.MessageCount())
		}
		return dumpOf(t, f)
	}
	if got, want := restore(&oldStream, "from-old.db"), withoutNewDerivedState(restore(&newStream, "from-new.db")); got != want {
		t.Fatalf("restored schema-1 backup differs:\n%s\n--- want\n%s", got, want)
	}
}

// TestMigrateSchema2DropsDistinctRecords: a schema-2 database kept the
// consumer → time half of the distinct sets on disk; opening it drops
// those records (the index is rebuilt from the time index), keeps the
// counts, and refuses the same consumers as before.
func TestMigrateSchema2DropsDistinctRecords(t *testing.T) {
	logs := hotLog(t)
	f := openFSM(t)
	f.ApplyBatch(logs[:len(logs)/2])
	want := dumpOf(t, f)
	// What schema 2 had beside the time index: set 0 phone 0 ref → time.
	if err := f.db.Update(func(tx *bolt.Tx) error {
		for _, e := range indexEntries(f.sets.consumerIndex) {
			if e.slot == slotPair {
				continue
			}
			set := []string{slotTier: setTier, slotReach: setReach}[e.slot]
			if err := tx.Bucket(bucketDistinct).Put([]byte(set+"\x00"+e.phone+"\x00"+e.ref), be64(e.at)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be64(2))
	}); err != nil {
		t.Fatal(err)
	}
	sets := f.sets
	g := reopenMigrated(t, f, want, 2)
	if !reflect.DeepEqual(g.sets, sets) || sets.len() == 0 {
		t.Fatal("the rebuilt index differs")
	}
}

// withoutNewDerivedState drops from a dump what the schema-1 code did not
// keep and a migration cannot derive: the rate-limit buckets (schema 1
// kept its limits in each node's memory, so a migrated state starts with
// every bucket full) and the per-message order of webhook events (the
// group of an event is its message, which a sealed body does not name:
// migrated events are delivered unordered, as before).
func withoutNewDerivedState(dump string) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		name, rest, _ := strings.Cut(l, " ")
		switch name {
		case string(bucketRateLimits), string(bucketRatePairs), string(bucketOutboxGroups),
			string(bucketTemplateMsgs), string(bucketTemplateStats), // messages migrated from older schemas count for no template
			string(bucketMarketingSends), string(bucketMarketingSendsByTime): // nor for the marketing cap (131049)
			continue
		case string(bucketOutbox):
			k, v, _ := strings.Cut(rest, "=")
			raw, err := hex.DecodeString(v)
			if err != nil {
				panic(err)
			}
			var e OutboxEvent
			decode(raw, &e)
			e.Group, e.Held = "", false
			l = name + " " + k + "=" + hex.EncodeToString(marshal(e))
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestMigrateSchema3MergesRateBuckets: schema 3 kept each pair rate
// bucket under its pair key in rate_limits beside a time index
// (rate_limits_by_time); opening such a database moves the buckets under
// their time-index key into rate_pairs, drops the index, rebuilds the
// in-memory pair index, and the state then follows the log exactly as
// one that never had schema 3.
func TestMigrateSchema3MergesRateBuckets(t *testing.T) {
	logs := hotLog(t)
	half := len(logs) * 3 / 4 // past the rate-limited burst
	straight, f := openFSM(t), openFSM(t)
	straight.ApplyBatch(logs[:half])
	f.ApplyBatch(logs[:half])
	want := dumpOf(t, f)
	if len(indexEntries(f.pairs.consumerIndex)) == 0 {
		t.Fatal("no pair buckets to migrate")
	}
	// Write the schema-3 layout: the same buckets under their pair key and
	// the time index beside them.
	if err := f.db.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(legacyRateLimitsByTime)
		if err != nil {
			return err
		}
		pairs := tx.Bucket(bucketRatePairs)
		var ks, vs [][]byte
		if err := pairs.ForEach(func(k, v []byte) error {
			ks, vs = append(ks, bytes.Clone(k)), append(vs, bytes.Clone(v))
			return nil
		}); err != nil {
			return err
		}
		for i, k := range ks {
			if err := errors.Join(old.Put(k, nil), tx.Bucket(bucketRateLimits).Put(k[8:], vs[i]), pairs.Delete(k)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be64(3))
	}); err != nil {
		t.Fatal(err)
	}
	index := f.pairs
	g := reopenMigrated(t, f, want, 3)
	if !reflect.DeepEqual(g.pairs, index) {
		t.Fatal("the rebuilt pair index differs")
	}
	if fmt.Sprint(straight.ApplyBatch(logs[half:])) != fmt.Sprint(g.ApplyBatch(logs[half:])) || dumpOf(t, straight) != dumpOf(t, g) {
		t.Fatal("after the migration the same log gives other results or state")
	}
}

// reopenMigrated closes f, which holds the schema-`from` layout of the
// state dumped as want, opens it again (migrating it) and checks that the
// result dumps as want.
func reopenMigrated(t *testing.T, f *FSM, want string, from int) *FSM {
	t.Helper()
	if dumpOf(t, f) == want {
		t.Fatalf("the schema-%d layout was not written", from)
	}
	g := reopenFSM(t, f)
	if got := dumpOf(t, g); got != want {
		t.Fatalf("migrated schema %d:\n%s\n--- want\n%s", from, got, want)
	}
	return g
}
