package raftfsm

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// TestCheckpointSurvivesLostTail: with checkpoints, a node that stops
// between two of them — kill -9 (every write reached the file) or power
// loss (any subset of the writes after the checkpoint reached the disk,
// meta pages included) — reopens a consistent database at exactly the
// last checkpoint, and replaying the log from there gives the same state
// as a node that never stopped.
func TestCheckpointSurvivesLostTail(t *testing.T) {
	logs := hotLog(t)
	ref := openFSM(t)
	ref.ApplyBatch(logs)
	want := dumpOf(t, ref)

	for seed := int64(0); seed < 6; seed++ {
		dir := t.TempDir()
		path := filepath.Join(dir, "fsm.db")
		f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30}) // only explicit ones
		if err != nil {
			t.Fatal(err)
		}
		cut := len(logs)/3 + int(seed)*37
		for i := 0; i < cut; i += 7 {
			f.ApplyBatch(logs[i:min(i+7, cut)])
		}
		if _, err := f.Snapshot(); err != nil { // a checkpoint
			t.Fatal(err)
		}
		atCheckpoint, _ := f.AppliedIndex()
		durable := readFile(t, path) // what the disk holds at the checkpoint
		side := readFile(t, sidecarPath(path))
		// Much more after it, without a checkpoint: expiry frees pages,
		// the appends reuse them.
		for i := cut; i < len(logs); i += 7 {
			f.ApplyBatch(logs[i:min(i+7, len(logs))])
		}
		latest := readFile(t, path) // the page cache at the crash
		pageSize := f.db.Info().PageSize

		// The disk after the crash: seed 0 is kill -9 (everything), the
		// others power loss (each page old or new at random).
		img := latest
		if seed > 0 {
			rnd := rand.New(rand.NewSource(seed))
			img = append([]byte(nil), latest...)
			for p := 0; p*pageSize < len(img); p++ {
				if rnd.Intn(2) == 0 {
					continue
				}
				old := make([]byte, pageSize)
				if p*pageSize < len(durable) {
					copy(old, durable[p*pageSize:])
				}
				copy(img[p*pageSize:], old)
			}
		}
		crashed := filepath.Join(t.TempDir(), "fsm.db")
		writeFile(t, crashed, img)
		writeFile(t, sidecarPath(crashed), side)
		_ = f.Close()

		g, err := OpenWithOptions(crashed, nil, Options{CheckpointEvery: 64})
		if err != nil {
			t.Fatalf("seed %d: reopen after the crash: %v", seed, err)
		}
		if err := g.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Fatalf("seed %d: inconsistent database after the crash: %v", seed, err)
		}
		if idx, _ := g.AppliedIndex(); idx != atCheckpoint {
			t.Fatalf("seed %d: applied index %d after the crash, want the checkpoint's %d", seed, idx, atCheckpoint)
		}
		// Raft replays its log from its last snapshot; the FSM skips what
		// it holds.
		for i := 0; i < len(logs); i += 64 {
			g.ApplyBatch(logs[i:min(i+64, len(logs))])
		}
		if dumpOf(t, g) != want {
			t.Fatalf("seed %d: state after replay differs from a node that never stopped", seed)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		// A clean close leaves nothing to roll back.
		h, err := OpenWithOptions(crashed, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if idx, _ := h.AppliedIndex(); idx != uint64(len(logs)) || dumpOf(t, h) != want {
			t.Fatalf("seed %d: after a clean close: applied %d", seed, idx)
		}
		if _, err := os.Stat(sidecarPath(crashed)); !os.IsNotExist(err) {
			t.Fatalf("seed %d: sidecar left in fsync-per-commit mode: %v", seed, err)
		}
		_ = h.Close()
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

var _ = raft.LogCommand

// TestCheckpointRecoveryLeavesAnOpenDatabaseAlone: opening a database
// that another state machine has open fails without touching it (the
// recovery would otherwise roll the live file's meta pages back under it).
func TestCheckpointRecoveryLeavesAnOpenDatabaseAlone(t *testing.T) {
	logs := hotLog(t)[:200]
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.ApplyBatch(logs[:100]) // after the checkpoint taken at open
	if g, err := OpenWithOptions(path, nil, Options{}); err == nil {
		_ = g.Close()
		t.Fatal("a second open of a database in use succeeded")
	}
	f.ApplyBatch(logs[100:])
	var stored uint64
	if err := f.View(func(tx *bolt.Tx) error {
		stored, _ = parseApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if stored != 200 {
		t.Fatalf("stored applied index %d after the second open, want 200", stored)
	}
}

// TestFreelistWrittenAtCheckpointsAndClose: the commits between two
// checkpoints do not write bbolt's free list (that is what keeps them
// cheap), but every checkpoint's meta and the meta a clean Close leaves
// name one, so a restart — clean or from the last checkpoint after a
// crash — reads the list instead of walking every page of the file. The
// database reopened from either is consistent (tx.Check compares the
// list with what the tree reaches).
func TestFreelistWrittenAtCheckpointsAndClose(t *testing.T) {
	logs := hotLog(t)
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30}) // only explicit ones
	if err != nil {
		t.Fatal(err)
	}
	half := len(logs) / 2
	for i := 0; i < half; i += 7 {
		f.ApplyBatch(logs[i:min(i+7, half)])
	}
	if _, err := f.Snapshot(); err != nil { // a checkpoint
		t.Fatal(err)
	}
	_, _, side, ok, err := readSidecar(sidecarPath(path))
	if err != nil || !ok {
		t.Fatalf("no checkpoint in the sidecar: %v", err)
	}
	if m, _ := parseMeta(side); m.freelist == noFreelist {
		t.Fatal("the checkpoint's meta names no free list: a restart from it walks the whole file")
	}
	for i := half; i < len(logs); i += 7 {
		f.ApplyBatch(logs[i:min(i+7, len(logs))])
	}
	if m := newestMeta(t, path, f.db.Info().PageSize); m.freelist != noFreelist {
		t.Fatalf("an ordinary commit (txid %d) wrote the free list", m.txid)
	}
	want := dumpOf(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if m := newestMeta(t, path, dbPageSize); m.freelist == noFreelist {
		t.Fatal("a clean Close left a meta without a free list: the next open walks the whole file")
	}
	g, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("inconsistent database after a clean close: %v", err)
	}
	if dumpOf(t, g) != want {
		t.Fatal("state differs after a clean close and reopen")
	}
}

// newestMeta parses the two meta pages of the bbolt file at path and
// returns the valid one with the higher txid.
func newestMeta(t *testing.T, path string, pageSize int) boltMeta {
	t.Helper()
	b := readFile(t, path)
	var newest boltMeta
	found := false
	for i := 0; i < 2; i++ {
		if (i+1)*pageSize > len(b) {
			break
		}
		if m, ok := parseMeta(b[i*pageSize:]); ok && (!found || m.txid > newest.txid) {
			newest, found = m, true
		}
	}
	if !found {
		t.Fatalf("%s: no valid meta page", path)
	}
	return newest
}
