package raftfsm

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

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
		f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62}) // only explicit ones
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

		crashed := filepath.Join(t.TempDir(), "fsm.db")
		writeFile(t, crashed, crashImage(latest, durable, pageSize, seed))
		writeFile(t, sidecarPath(crashed), side)
		_ = f.Close()

		g := reopenAfterCrash(t, crashed, atCheckpoint, logs, want, seed)
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

// TestCheckpointRecoveryLeavesAnOpenDatabaseAlone: opening a database
// that another state machine has open fails without touching it (the
// recovery would otherwise roll the live file's meta pages back under it).
func TestCheckpointRecoveryLeavesAnOpenDatabaseAlone(t *testing.T) {
	logs := hotLog(t)[:200]
	path := filepath.Join(t.TempDir(), "fsm.db")
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62})
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
	f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62}) // only explicit ones
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

// TestCheckpointSyncRunsBesideApply: a checkpoint due after a commit
// leaves its fdatasync and sidecar to a goroutine of its own, so Apply goes
// on while they run (on a loaded node the fdatasync held every write for
// 12–43 ms each second or so); at most one runs, and until it is done the
// sidecar still names the previous checkpoint, whose pages stay pinned. A
// crash while it runs — kill -9 or power loss — reopens at that previous
// checkpoint, consistent, and the replayed log gives the state of a node
// that never stopped.
func TestCheckpointSyncRunsBesideApply(t *testing.T) {
	logs := hotLog(t)
	ref := openFSM(t)
	ref.ApplyBatch(logs)
	want := dumpOf(t, ref)

	for seed := int64(0); seed < 4; seed++ {
		path := filepath.Join(t.TempDir(), "fsm.db")
		f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		cut := len(logs)/4 + int(seed)*29
		for i := 0; i < cut; i += 5 {
			f.ApplyBatch(logs[i:min(i+5, cut)])
		}
		if _, err := f.Snapshot(); err != nil { // a checkpoint, synchronous
			t.Fatal(err)
		}
		atCheckpoint, _ := f.AppliedIndex()
		durable := readFile(t, path)
		side := readFile(t, sidecarPath(path))
		sideTxid, _, _, _, _ := readSidecar(sidecarPath(path))

		// From here a checkpoint is due every 8 entries, and its sync
		// blocks until released.
		entered := make(chan struct{}, 16)
		release := make(chan struct{})
		realSync := f.ck.sync
		f.ck.every = 8
		f.ck.sync = func() error {
			entered <- struct{}{}
			<-release
			return realSync()
		}
		applied := make(chan struct{})
		go func() {
			defer close(applied)
			for i := cut; i < len(logs); i += 3 {
				f.ApplyBatch(logs[i:min(i+3, len(logs))])
			}
		}()
		select {
		case <-applied:
		case <-time.After(30 * time.Second):
			close(release)
			t.Fatalf("seed %d: Apply waited for a checkpoint's fsync", seed)
		}
		if n := len(entered); n != 1 {
			t.Fatalf("seed %d: %d checkpoint syncs started while one was running, want 1", seed, n)
		}
		if txid, _, _, _, _ := readSidecar(sidecarPath(path)); txid != sideTxid {
			t.Fatalf("seed %d: the sidecar names txid %d before its checkpoint's fsync, want still %d", seed, txid, sideTxid)
		}
		latest := readFile(t, path) // the page cache at a crash now
		pageSize := f.db.Info().PageSize
		crashed := filepath.Join(t.TempDir(), "fsm.db")
		writeFile(t, crashed, crashImage(latest, durable, pageSize, seed))
		writeFile(t, sidecarPath(crashed), side)

		// Released, the checkpoint completes: the sidecar moves on.
		close(release)
		deadline := time.Now().Add(30 * time.Second)
		for {
			txid, _, _, ok, _ := readSidecar(sidecarPath(path))
			if ok && txid > sideTxid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("seed %d: the sidecar still names txid %d after the fsync was released", seed, txid)
			}
			time.Sleep(time.Millisecond)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}

		_ = reopenAfterCrash(t, crashed, atCheckpoint, logs, want, seed).Close()
	}
}

// crashImage is the disk a crash leaves of a file that was durable at a
// checkpoint and holds latest in the page cache: seed 0 is kill -9 (every
// write reached the file), any other seed power loss (each page as it was
// at the checkpoint or as it is now, at random; meta pages included).
func crashImage(latest, durable []byte, pageSize int, seed int64) []byte {
	if seed == 0 {
		return latest
	}
	rnd := rand.New(rand.NewSource(seed))
	img := append([]byte(nil), latest...)
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
	return img
}

// reopenAfterCrash opens the crashed file at path and checks that it is
// consistent and exactly at the checkpoint's applied index, then replays
// the whole log over it (Raft replays from its last snapshot; the FSM
// skips what it holds) and checks the state of a node that never stopped.
func reopenAfterCrash(t *testing.T, path string, atCheckpoint uint64, logs []*raft.Log, want string, seed int64) *FSM {
	t.Helper()
	g, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 64})
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
		t.Fatalf("seed %d: applied index %d after the crash, want the last finished checkpoint's %d", seed, idx, atCheckpoint)
	}
	for i := 0; i < len(logs); i += 64 {
		g.ApplyBatch(logs[i:min(i+64, len(logs))])
	}
	if dumpOf(t, g) != want {
		t.Fatalf("seed %d: state after replay differs from a node that never stopped", seed)
	}
	return g
}

// TestCheckpointDueByBytes: a checkpoint is due after CheckpointEvery
// entries or once the commits since the last one allocated
// CheckpointBytes, whichever comes first, so that no fsync has to flush
// more than about that much: with the entry count out of reach, small
// bytes checkpoint as the log goes, and large bytes do not.
func TestCheckpointDueByBytes(t *testing.T) {
	logs := hotLog(t)
	for _, tc := range []struct {
		bytes int64
		moves bool
	}{{64 << 10, true}, {1 << 62, false}} {
		path := filepath.Join(t.TempDir(), "fsm.db")
		f, err := OpenWithOptions(path, nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: tc.bytes})
		if err != nil {
			t.Fatal(err)
		}
		first, _, _, _, _ := readSidecar(sidecarPath(path)) // the one Open takes
		for i := 0; i < len(logs); i += 3 {
			f.ApplyBatch(logs[i:min(i+3, len(logs))])
		}
		if err := f.ck.wait(); err != nil {
			t.Fatal(err)
		}
		last, _, _, _, _ := readSidecar(sidecarPath(path))
		finished := f.ck.seq - 1 // checkpoints since Open's
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if moves := last > first; moves != tc.moves || moves != (finished > 0) {
			t.Fatalf("CheckpointBytes %d: the sidecar went from txid %d to %d (%d checkpoints), want it to move: %v",
				tc.bytes, first, last, finished, tc.moves)
		}
	}
}

// TestCheckpointBytesGrowWithTheFreeList: every checkpoint writes bbolt's
// whole free list, so when the list is large (after an expiry freed many
// pages) a checkpoint is due only after sixteen times its size, whatever
// CheckpointBytes says: the list stays at most a sixteenth of a flush.
func TestCheckpointBytesGrowWithTheFreeList(t *testing.T) {
	f, err := OpenWithOptions(filepath.Join(t.TempDir(), "fsm.db"), nil, Options{CheckpointEvery: 1 << 30, CheckpointBytes: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logs := hotLog(t)
	for i := 0; i < len(logs); i += 5 {
		f.ApplyBatch(logs[i:min(i+5, len(logs))])
	}
	if err := f.ck.wait(); err != nil {
		t.Fatal(err)
	}
	st := f.db.Stats()
	list := int64(st.FreelistInuse)
	if list < 8<<10 {
		t.Fatalf("a free list of %d bytes (%d free, %d pending pages): nothing to test", list, st.FreePageN, st.PendingPageN)
	}
	now := allocated(f.db)
	f.ck.bytes = 1
	for _, tc := range []struct {
		since int64
		due   bool
	}{{16*list - 1, false}, {16 * list, true}} {
		f.ck.alloc = now - tc.since
		if got := f.ck.bytesDue(f.db); got != tc.due {
			t.Fatalf("%d bytes allocated since the last checkpoint with a %d-byte free list: due %v, want %v", tc.since, list, got, tc.due)
		}
	}
	f.ck.bytes = 32 * list
	f.ck.alloc = now - 16*list
	if f.ck.bytesDue(f.db) {
		t.Fatal("due below CheckpointBytes")
	}
}
