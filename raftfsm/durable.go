package raftfsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Amortised state-machine fsync (see DESIGN.md, "Checkpoints").
//
// With Options.CheckpointEvery > 0 bbolt commits without fsync (NoSync)
// and the database is made durable at checkpoints: every CheckpointEvery
// applied entries, at every Raft snapshot (before the log below it may be
// compacted) and on Close. A checkpoint
//
//  1. opens a read transaction (the pin) at the last commit, txid T, so
//     bbolt reuses none of T's pages until the next checkpoint;
//  2. fdatasyncs the file: T's pages and meta are on stable storage;
//  3. copies T's meta page into the sidecar <db>.checkpoint (two slots
//     with a CRC, written alternately and fdatasynced), then
//  4. releases the previous pin.
//
// A crash between checkpoints (kill -9, power loss) leaves a file whose
// newer pages and meta pages may or may not have reached the disk; T's
// tree is intact because nothing overwrote it. Opening the file puts T's
// meta back (recoverCheckpoint) — a no-op after a clean Close — so the
// state is exactly T, with its applied index, and Raft replays the rest
// from its own log (fsynced by raft-boltdb; the log is never compacted
// past a checkpoint because Snapshot takes one). Nothing acknowledged is
// lost: an acknowledgement needs a quorum's durable log.
//
// The pin forbids bbolt to remap while it is held (a remap waits for all
// read transactions), so the database maps checkpointMmapSize up front
// and goes back to fsync per commit if the file ever comes near it.

// Options tune OpenWithOptions.
type Options struct {
	// CheckpointEvery > 0 amortises the fsync: a checkpoint every that
	// many applied entries instead of an fsync per ApplyBatch. 0 syncs
	// every commit.
	CheckpointEvery int
	// CheckpointBytes bounds what one checkpoint flushes: with
	// checkpoints, one is also due once the commits since the last one
	// allocated this many bytes of pages (0: DefaultCheckpointBytes).
	CheckpointBytes int64
}

const (
	checkpointMmapSize = 64 << 30 // address space, not memory
	checkpointHeadroom = 4 << 30  // back to per-commit fsync above size − headroom
	sidecarMagic       = "WECKPT01"
	sidecarSlot        = 128
	metaBytes          = 16 + 64 // page header + bbolt's meta struct
	boltMagic          = 0xED0CDAED
)

// checkpointer is the FSM's checkpoint state (nil: fsync per commit).
//
// A checkpoint due after a commit does its cheap part on the applying
// goroutine (the free-list commit, the pin, a copy of the meta page) and
// its slow part — the fdatasync of everything written since the last
// one, then the sidecar — on a goroutine of its own (finish), while Apply
// goes on: on a loaded node the fdatasync took 12–43 ms every second or
// so, and every write in flight waited for it. At most one finish runs;
// busy is closed when it is done, and what it met is read after that.
type checkpointer struct {
	every int
	since int      // entries applied since the last checkpoint began
	pin   *bolt.Tx // read transaction at the last durable checkpoint
	side  *os.File // the sidecar
	file  *os.File // the database, read-only, for its meta pages
	seq   uint64   // sidecar slot counter
	sync  func() error

	busy  chan struct{} // nil: no finish started since the last wait
	hurry chan struct{} // closed by wait: the finish skips its gap
	err   error         // what the last finish met (read after busy closed)

	bytes int64 // a checkpoint is also due after the commits allocated this much
	alloc int64 // bbolt's bytes allocated when the last checkpoint began
}

// DefaultCheckpointBytes is Options.CheckpointBytes's default. A
// checkpoint every 1024 entries alone flushed ~13 MB at once every second
// or so on a node at 64 senders, and the Raft log's fsyncs — on every
// write's path — queued behind it: each node's writes stalled 50–100 ms,
// which made the bench's p99 (BENCHMARKS.md, "Stop 25"). Checkpoints every
// 128–256 entries there (1.6–3.2 MB) took its p99 from ~85 to ~50 ms,
// and released the pin sooner, so bbolt reused pages sooner.
const DefaultCheckpointBytes = 4 << 20

// checkpointGap is the least time from one checkpoint's start to the
// next's (finish): at most four fsyncs a second, whatever the write rate.
const checkpointGap = 250 * time.Millisecond

// allocated is bbolt's running count of bytes allocated by commits.
func allocated(db *bolt.DB) int64 {
	st := db.Stats()
	return st.TxStats.GetPageAlloc()
}

// bytesDue reports whether the commits since the last checkpoint
// allocated enough for the next one: ck.bytes, or sixteen times the free
// list when that is larger — every checkpoint writes (and sorts) the whole
// list (a restart after a crash reads it instead of walking the file), so
// after a large expiry, when it holds hundreds of thousands of pages, the
// bound keeps it a sixteenth of what a checkpoint flushes at most.
func (ck *checkpointer) bytesDue(db *bolt.DB) bool {
	st := db.Stats()
	return st.TxStats.GetPageAlloc()-ck.alloc >= max(ck.bytes, 16*int64(st.FreelistInuse))
}

// running reports whether a checkpoint's finish is still under way.
func (ck *checkpointer) running() bool {
	if ck.busy == nil {
		return false
	}
	select {
	case <-ck.busy:
		return false
	default:
		return true
	}
}

// wait waits for the last checkpoint's finish and returns what it met.
func (ck *checkpointer) wait() error {
	if ck.busy == nil {
		return nil
	}
	close(ck.hurry)
	<-ck.busy
	ck.busy, ck.hurry = nil, nil
	err := ck.err
	ck.err = nil
	return err
}

func sidecarPath(dbPath string) string { return dbPath + ".checkpoint" }

// startCheckpoints switches a freshly opened database to checkpoints and
// takes the first one. Callers hold mu for writing or own f.
func (f *FSM) startCheckpoints() error {
	if f.opts.CheckpointEvery <= 0 {
		// Commits sync; a sidecar left by a run with checkpoints has
		// been applied by recoverCheckpoint and must not be applied again.
		return removeSidecar(f.path)
	}
	side, err := os.OpenFile(sidecarPath(f.path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	file, err := os.Open(f.path)
	if err != nil {
		_ = side.Close()
		return err
	}
	f.ck = &checkpointer{every: f.opts.CheckpointEvery, side: side, file: file, sync: f.db.Sync,
		bytes: f.opts.CheckpointBytes}
	if f.ck.bytes <= 0 {
		f.ck.bytes = DefaultCheckpointBytes
	}
	f.db.NoSync = true
	if err := f.checkpoint(); err != nil {
		f.ck, f.db.NoSync = nil, false
		return errors.Join(err, side.Close(), file.Close())
	}
	return nil
}

// stopCheckpoints makes everything durable, drops the sidecar (the file is
// consistent as it is) and releases the pin: before the database is
// closed or replaced.
func (f *FSM) stopCheckpoints() error {
	ck := f.ck
	if ck == nil {
		return nil
	}
	werr := ck.wait()
	f.ck = nil
	f.db.NoSync = false
	err := errors.Join(werr, f.db.Sync())
	if err == nil {
		err = removeSidecar(f.path)
	}
	if ck.pin != nil {
		err = errors.Join(err, ck.pin.Rollback())
	}
	return errors.Join(err, ck.side.Close(), ck.file.Close())
}

// afterCommit counts n applied entries and checkpoints when due. It runs
// on the applying goroutine, after the commit, with no writer in flight.
func (f *FSM) afterCommit(n int) {
	ck := f.ck
	if ck == nil {
		return
	}
	ck.since += n
	if ck.busy != nil {
		// One finish at a time: while one runs, the next checkpoint waits
		// for a later commit rather than holding this one up.
		if ck.running() {
			return
		}
		// A finish that failed stops the node as a failed commit does.
		if err := ck.wait(); err != nil {
			panic(fmt.Sprintf("raftfsm: checkpoint: %v", err))
		}
	}
	// Due after every entries or bytes of pages, whichever comes first.
	if ck.since < ck.every && !ck.bytesDue(f.db) {
		return
	}
	if err := f.beginCheckpoint(); err != nil {
		panic(fmt.Sprintf("raftfsm: checkpoint: %v", err))
	}
}

// checkpoint makes the last commit durable and recoverable (steps above)
// before it returns. No write transaction may run meanwhile.
func (f *FSM) checkpoint() error {
	if err := f.beginCheckpoint(); err != nil {
		return err
	}
	if f.ck == nil { // switched to fsync per commit
		return nil
	}
	return f.ck.wait()
}

// beginCheckpoint takes a checkpoint of the last commit, T: it waits for
// the previous one's finish, commits the free list, pins T and copies T's
// meta page (a later commit may overwrite its slot in the file before the
// fsync), then leaves the fsync and the sidecar to finish, on a goroutine
// of its own. No write transaction may run meanwhile.
func (f *FSM) beginCheckpoint() error {
	ck := f.ck
	if err := ck.wait(); err != nil {
		return err
	}
	if st, err := ck.file.Stat(); err == nil && st.Size() > checkpointMmapSize-checkpointHeadroom {
		f.logger.Warn("state machine file near its mapped size: fsync per commit from now on",
			slog.Int64("bytes", st.Size()))
		return f.stopCheckpoints()
	}
	// The checkpoint's commit carries bbolt's free list, so that a restart
	// from it reads the list instead of walking every page of the file.
	if err := f.commitFreelist(); err != nil {
		return err
	}
	pin, err := f.db.Begin(false)
	if err != nil {
		return err
	}
	txid := uint64(pin.ID())
	pageSize := f.db.Info().PageSize
	meta := make([]byte, metaBytes)
	if _, err := ck.file.ReadAt(meta, int64(txid%2)*int64(pageSize)); err != nil {
		_ = pin.Rollback()
		return err
	}
	if m, ok := parseMeta(meta); !ok || m.txid != txid {
		_ = pin.Rollback()
		return fmt.Errorf("%w: meta page of txid %d not found", ErrCorrupt, txid)
	}
	slot := make([]byte, sidecarSlot)
	copy(slot, sidecarMagic)
	binary.LittleEndian.PutUint64(slot[8:], txid)
	binary.LittleEndian.PutUint32(slot[16:], uint32(pageSize))
	copy(slot[20:], meta)
	binary.LittleEndian.PutUint32(slot[20+metaBytes:], crc32.ChecksumIEEE(slot[:20+metaBytes]))
	ck.since, ck.alloc = 0, allocated(f.db)
	done, hurry := make(chan struct{}), make(chan struct{})
	ck.busy, ck.hurry = done, hurry
	go func() {
		defer close(done)
		ck.err = ck.finish(pin, slot, hurry)
	}()
	return nil
}

// finish makes the checkpoint pinned by pin durable: the file's
// fdatasync (T's pages and everything written since), then the sidecar
// slot naming T, fdatasynced; only then is the previous checkpoint's pin
// released, so a crash at any point finds one checkpoint whose pages are
// all on disk and untouched. On failure pin is released and the previous
// checkpoint stays the one recovery uses.
//
// It then lets at least checkpointGap pass since it began before the next
// checkpoint may start (unless hurry closes: Snapshot, Close and an install
// wait for it): under a heavy write rate (an expiry of a million messages)
// the byte bound alone would make the node fsync many times a second and
// write the same pages again each time.
func (ck *checkpointer) finish(pin *bolt.Tx, slot []byte, hurry <-chan struct{}) error {
	gap := time.NewTimer(checkpointGap)
	defer func() {
		select {
		case <-gap.C:
		case <-hurry:
		}
		gap.Stop()
	}()
	err := ck.sync()
	if err == nil {
		ck.seq++
		_, err = ck.side.WriteAt(slot, int64(ck.seq%2)*sidecarSlot)
	}
	if err == nil {
		err = ck.side.Sync()
	}
	if err != nil {
		_ = pin.Rollback()
		return err
	}
	old := ck.pin
	ck.pin = pin
	if old != nil {
		return old.Rollback()
	}
	return nil
}

// commitFreelist commits an empty transaction that writes bbolt's free
// list (boltOptions: NoFreelistSync), then goes back to commits without
// it. A meta page that names a free list lets bbolt open the file by
// reading that list; one that does not makes it rebuild the list by
// walking and checking every page reachable from the root — the whole
// file, 14 minutes for 11 GB (BENCHMARKS.md, "Stop 24: restart time").
// The list is a handful of pages (8 bytes per free page), written at
// checkpoints and on Close, not at every commit. Callers hold ckMu (or
// own f), so no other write transaction reads the flag meanwhile.
func (f *FSM) commitFreelist() error {
	f.db.NoFreelistSync = false
	defer func() { f.db.NoFreelistSync = true }()
	return f.db.Update(func(*bolt.Tx) error { return nil })
}

// boltMeta is what recovery reads of a bbolt meta page.
type boltMeta struct{ txid, pgid, freelist uint64 }

// noFreelist is the free-list page id bbolt writes in a meta page when
// the list was not written with that commit.
const noFreelist = ^uint64(0)

// parseMeta checks a meta page (header + meta, little-endian as bbolt
// writes it on the platforms it runs on) and its checksum.
func parseMeta(p []byte) (boltMeta, bool) {
	if len(p) < metaBytes {
		return boltMeta{}, false
	}
	m := p[16:metaBytes]
	if binary.LittleEndian.Uint32(m) != boltMagic {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{txid: binary.LittleEndian.Uint64(m[48:]), pgid: binary.LittleEndian.Uint64(m[40:]),
		freelist: binary.LittleEndian.Uint64(m[32:])}, true
}

// readSidecar returns the newest valid checkpoint (ok false: none).
func readSidecar(path string) (txid uint64, pageSize int, meta []byte, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil, false, nil
	}
	if err != nil {
		return 0, 0, nil, false, err
	}
	for i := 0; i+sidecarSlot <= len(b); i += sidecarSlot {
		s := b[i : i+sidecarSlot]
		if string(s[:8]) != sidecarMagic ||
			crc32.ChecksumIEEE(s[:20+metaBytes]) != binary.LittleEndian.Uint32(s[20+metaBytes:]) {
			continue
		}
		if t := binary.LittleEndian.Uint64(s[8:]); !ok || t > txid {
			txid, pageSize, meta, ok = t, int(binary.LittleEndian.Uint32(s[16:])), bytes.Clone(s[20:20+metaBytes]), true
		}
	}
	return txid, pageSize, meta, ok, nil
}

// recoverCheckpoint puts the last checkpoint's meta page back into the
// database at dbPath when the file's newest valid meta is another one
// (commits after the checkpoint, possibly torn), and makes the other meta
// slot invalid, so that bbolt opens exactly the checkpoint. No sidecar:
// nothing to do (the file was synced on every commit or closed cleanly).
func recoverCheckpoint(dbPath string, logger *slog.Logger) error {
	txid, pageSize, meta, ok, err := readSidecar(sidecarPath(dbPath))
	if err != nil || !ok {
		return err
	}
	m, _ := parseMeta(meta)
	file, err := os.OpenFile(dbPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer file.Close() // releases the lock
	// bbolt's own lock: never rewrite the meta pages of a database another
	// process has open.
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%s is in use: %w", dbPath, err)
	}
	st, err := file.Stat()
	if err != nil {
		return err
	}
	if st.Size() < int64(m.pgid)*int64(pageSize) {
		return fmt.Errorf("%w: %s is shorter than its checkpoint (a sidecar of another file?)", ErrCorrupt, dbPath)
	}
	var newest boltMeta
	var newestPage []byte
	for i := 0; i < 2; i++ {
		p := make([]byte, metaBytes)
		if _, err := file.ReadAt(p, int64(i*pageSize)); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if pm, ok := parseMeta(p); ok && (newestPage == nil || pm.txid > newest.txid) {
			newest, newestPage = pm, p
		}
	}
	if bytes.Equal(newestPage, meta) {
		return nil // the file is at its checkpoint (a clean stop, or nothing after it)
	}
	other := make([]byte, metaBytes) // zeroes: no magic, an invalid meta
	if _, err := file.WriteAt(meta, int64(txid%2)*int64(pageSize)); err != nil {
		return err
	}
	if _, err := file.WriteAt(other, int64((txid+1)%2)*int64(pageSize)); err != nil {
		return err
	}
	if err := file.Sync(); err != nil {
		return err
	}
	logger.Info("state machine rolled back to its last checkpoint; the Raft log replays the rest",
		slog.Uint64("checkpoint_txid", txid), slog.Uint64("newer_txid", newest.txid))
	return nil
}

// removeSidecar deletes the sidecar (if any) durably.
func removeSidecar(dbPath string) error {
	err := os.Remove(sidecarPath(dbPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dbPath))
}
