package raftfsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Snapshot returns a snapshot that copies nothing: the database is durable
// and stores its own applied index, so log compaction only needs metadata.
// The data is streamed from the live database by SnapshotStore.Open when a
// follower needs it.
//
// With checkpoints (durable.go) it takes one first: Raft may compact its
// log up to this snapshot's index, so the state at that index must be
// recoverable without the log.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.ckMu.Lock()
	defer f.ckMu.Unlock()
	if f.ck != nil && f.db != nil {
		if err := f.checkpoint(); err != nil {
			return nil, fmt.Errorf("snapshot: checkpoint: %w", err)
		}
	}
	return liveSnapshot{f: f}, nil
}

// liveSnapshot is the FSMSnapshot of a durable FSM.
type liveSnapshot struct{ f *FSM }

// Persist makes sure everything applied so far is on stable storage (the
// log before this point may be compacted away next) and writes no data:
// closing the empty sink records only the metadata.
func (s liveSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.f.Sync(); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: nothing is held.
func (s liveSnapshot) Release() {}

// Restore replaces the database with the snapshot read from rc, which is
// a whole bbolt file. When rc is a snapshot installed in a SnapshotStore
// (possibly wrapped by raft), the file is renamed into place instead of
// copied; otherwise the stream goes to a temporary file next to the live
// database. The new file is synced and checked, then swapped in while
// readers are held off; if that fails the old database is reopened.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	inst := unwrapInstalled(rc)
	moved := false
	if inst != nil && inst.store.fsm == f {
		moved = inst.moveTo(tmp)
	}
	if !moved {
		if err := writeFileSync(tmp, rc); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("receive snapshot: %w", err)
		}
	}
	undo := func() {
		if moved && inst.moveBack(tmp) {
			return
		}
		_ = os.Remove(tmp)
	}
	if err := checkBolt(tmp); err != nil {
		undo()
		return fmt.Errorf("receive snapshot: %w", err)
	}
	if err := f.swap(tmp); err != nil {
		undo()
		return err
	}
	if moved {
		// The live database now holds the installed snapshot (or newer), so
		// the store can stream it from there.
		inst.store.markLive(inst.id)
	}
	idx, term := f.AppliedIndex()
	f.logger.Info("snapshot restored", slog.Uint64("applied_index", idx), slog.Uint64("applied_term", term),
		slog.Bool("renamed", moved))
	return nil
}

// swap replaces the live database file with the checked file at tmp and
// reopens it. If the new file cannot be installed or opened, the old file
// is put back and reopened.
func (f *FSM) swap(tmp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return ErrClosed
	}
	// The sidecar belongs to the old file: the old file is synced and it
	// goes, so that a crash in between cannot apply it to the new one.
	f.ckMu.Lock()
	err := f.stopCheckpoints()
	f.ckMu.Unlock()
	if err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("install snapshot: close database: %w", err)
	}
	f.db = nil
	old := f.path + ".old"
	_ = os.Remove(old)
	if err := os.Rename(f.path, old); err != nil {
		return errors.Join(fmt.Errorf("install snapshot: %w", err), f.openDB())
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return errors.Join(fmt.Errorf("install snapshot: %w", err), os.Rename(old, f.path), f.openDB())
	}
	_ = syncDir(filepath.Dir(f.path))
	if err := f.openDB(); err != nil {
		// Give the new file back to the caller's undo and restore the old one.
		return errors.Join(fmt.Errorf("install snapshot: %w", err),
			os.Rename(f.path, tmp), os.Rename(old, f.path), f.openDB())
	}
	_ = os.Remove(old)
	return nil
}

// writeFileSync writes r to a new file at path (mode 0600) and fsyncs it.
func writeFileSync(path string, r io.Reader) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if err == nil {
		err = out.Sync()
	}
	return errors.Join(err, out.Close())
}

// checkBolt verifies that path is a readable bbolt database.
func checkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return err
	}
	return db.Close()
}

// syncDir fsyncs a directory so renames in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// SnapshotStore is a raft.SnapshotStore that never copies the database to
// compact the log (the model is Vault's raft storage). A snapshot taken by
// this node is *live*: only its metadata is stored, and Open streams a
// consistent copy of the live database. A snapshot received from a leader
// is *installed*: its bytes are kept in <id>.db until the FSM restores
// from it, which moves the file into place and turns the snapshot live.
//
// A live snapshot's data may be newer than its metadata index (the database
// kept applying after the snapshot was taken). That is safe because the FSM
// stores its applied index in the database and skips entries at or below
// it, so the follower that installs the stream ignores the entries it
// already contains.
//
// Only the newest snapshot is kept.
type SnapshotStore struct {
	dir    string
	fsm    *FSM
	logger *slog.Logger
	mu     sync.Mutex // serialises metadata changes
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// snapshotFile is the JSON content of <id>.meta.
type snapshotFile struct {
	raft.SnapshotMeta
	// Installed: the data is <id>.db, not the live database.
	Installed bool `json:"installed"`
}

// NewSnapshotStore opens (creating, mode 0700) dir for snapshots of fsm,
// removing leftovers of interrupted snapshots and all but the newest
// snapshot. A nil logger discards.
func NewSnapshotStore(dir string, fsm *FSM, logger *slog.Logger) (*SnapshotStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if fsm == nil {
		return nil, errors.New("raftfsm: snapshot store needs an FSM")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot dir: %w", err)
	}
	s := &SnapshotStore{dir: dir, fsm: fsm, logger: logger}
	tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if err != nil {
		return nil, fmt.Errorf("snapshot dir: %w", err)
	}
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, err := s.metas()
	if err != nil {
		return nil, err
	}
	keep := ""
	if len(ms) > 0 {
		keep = ms[0].ID
	}
	s.reap(keep)
	return s, nil
}

// Create starts a snapshot. Raft then either Persists a live snapshot into
// the sink (no data) or writes a leader's snapshot into it.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	if version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax {
		return nil, fmt.Errorf("unsupported snapshot version %d", version)
	}
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	return &snapshotSink{store: s, meta: snapshotFile{SnapshotMeta: raft.SnapshotMeta{
		Version: version, ID: id, Index: index, Term: term,
		Configuration: configuration, ConfigurationIndex: configurationIndex,
	}}}, nil
}

// metas returns every readable snapshot metadata, newest first.
func (s *SnapshotStore) metas() ([]snapshotFile, error) {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*.meta"))
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []snapshotFile
	for _, p := range paths {
		m, err := readMeta(p)
		if err != nil {
			s.logger.Warn("ignoring unreadable snapshot metadata", slog.String("path", p), slog.Any("error", err))
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Term != out[j].Term {
			return out[i].Term > out[j].Term
		}
		if out[i].Index != out[j].Index {
			return out[i].Index > out[j].Index
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

func readMeta(path string) (snapshotFile, error) {
	var m snapshotFile
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.ID+".meta" != filepath.Base(path) {
		return m, fmt.Errorf("snapshot id %q does not match its file", m.ID)
	}
	return m, nil
}

// writeMeta writes <id>.meta atomically and durably.
func (s *SnapshotStore) writeMeta(m snapshotFile) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, m.ID+".meta.tmp")
	if err := writeFileSync(tmp, strings.NewReader(string(b))); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, m.ID+".meta")); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// List returns the newest snapshot's metadata (only one is kept).
func (s *SnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms, err := s.metas()
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	m := ms[0].SnapshotMeta
	return []*raft.SnapshotMeta{&m}, nil
}

// Open returns a snapshot's metadata and data: the installed file, or a
// stream of the live database.
func (s *SnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	if id == "" || strings.ContainsAny(id, `/\`) {
		return nil, nil, fmt.Errorf("open snapshot %q: bad id", id)
	}
	s.mu.Lock()
	m, err := readMeta(filepath.Join(s.dir, id+".meta"))
	if err != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	if !m.Installed {
		s.mu.Unlock()
		return s.openLive(&m.SnapshotMeta)
	}
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, id+".db")
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	fi, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	m.Size = fi.Size()
	return &m.SnapshotMeta, &installedSnapshot{File: file, path: path, id: id, store: s}, nil
}

// openLive streams the live database. Raft needs the exact size before the
// bytes, so a read transaction is opened first and its size reported;
// WriteTo then writes exactly that many bytes from the same transaction,
// through a pipe, while writers carry on.
func (s *SnapshotStore) openLive(meta *raft.SnapshotMeta) (*raft.SnapshotMeta, io.ReadCloser, error) {
	sizeCh := make(chan int64, 1)
	pr, pw := io.Pipe()
	go func() {
		err := s.fsm.View(func(tx *bolt.Tx) error {
			sizeCh <- tx.Size()
			_, err := tx.WriteTo(pw)
			return err
		})
		if err != nil {
			select {
			case sizeCh <- -1: // View failed before the transaction began
			default:
			}
		}
		_ = pw.CloseWithError(err)
	}()
	size := <-sizeCh
	if size < 0 {
		_ = pr.Close()
		return nil, nil, fmt.Errorf("stream live snapshot: %w", ErrClosed)
	}
	m := *meta
	m.Size = size
	return &m, pr, nil
}

// markLive turns an installed snapshot into a live one after the FSM has
// moved its file into place.
func (s *SnapshotStore) markLive(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, id+".meta")
	m, err := readMeta(path)
	if err != nil {
		return // replaced by a newer snapshot meanwhile
	}
	m.Installed = false
	m.Size = 0
	if err := s.writeMeta(m); err != nil {
		s.logger.Error("cannot mark restored snapshot live", slog.String("id", id), slog.Any("error", err))
	}
}

// reap removes every snapshot file except keep's (keep "" removes all).
// Callers hold mu.
func (s *SnapshotStore) reap(keep string) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if keep != "" && (name == keep+".meta" || name == keep+".db") {
			continue
		}
		if strings.HasSuffix(name, ".meta") || strings.HasSuffix(name, ".db") {
			if err := os.Remove(filepath.Join(s.dir, name)); err == nil {
				s.logger.Debug("snapshot reaped", slog.String("file", name))
			}
		}
	}
}

// installedSnapshot is the data of an installed snapshot. Restore
// recognises it (through raft's wrappers) and renames the file into place.
type installedSnapshot struct {
	*os.File
	path  string
	id    string
	store *SnapshotStore
}

// moveTo closes the file and renames it to dst; false when it could not
// (another file system, say), so the caller copies instead.
func (i *installedSnapshot) moveTo(dst string) bool {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	if err := os.Rename(i.path, dst); err != nil {
		return false
	}
	_ = i.File.Close()
	return true
}

// moveBack returns the file to the store after a failed restore.
func (i *installedSnapshot) moveBack(src string) bool {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	return os.Rename(src, i.path) == nil
}

// unwrapInstalled finds an installedSnapshot inside raft's wrappers.
func unwrapInstalled(rc io.ReadCloser) *installedSnapshot {
	for range 8 {
		switch v := rc.(type) {
		case *installedSnapshot:
			return v
		case raft.ReadCloserWrapper:
			rc = v.WrappedReadCloser()
		default:
			return nil
		}
	}
	return nil
}

// snapshotSink collects one snapshot. Bytes written to it (a leader's
// snapshot) go to <id>.tmp and become <id>.db on Close; a sink closed
// without data is a live snapshot (metadata only).
type snapshotSink struct {
	store *SnapshotStore
	meta  snapshotFile
	f     *os.File
	size  int64
	done  bool
}

// ID returns the snapshot id.
func (k *snapshotSink) ID() string { return k.meta.ID }

// Write receives snapshot bytes (only when installing from a leader).
func (k *snapshotSink) Write(p []byte) (int, error) {
	if k.done {
		return 0, errors.New("write to a closed snapshot sink")
	}
	if k.f == nil {
		f, err := os.OpenFile(filepath.Join(k.store.dir, k.meta.ID+".tmp"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return 0, fmt.Errorf("snapshot sink: %w", err)
		}
		k.f = f
	}
	n, err := k.f.Write(p)
	k.size += int64(n)
	return n, err
}

// Close finishes the snapshot: received data becomes <id>.db, the metadata
// <id>.meta, and older snapshots are removed.
func (k *snapshotSink) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	s := k.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.f != nil {
		tmp := filepath.Join(s.dir, k.meta.ID+".tmp")
		err := errors.Join(k.f.Sync(), k.f.Close())
		if err == nil {
			err = os.Rename(tmp, filepath.Join(s.dir, k.meta.ID+".db"))
		}
		if err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("snapshot %s: %w", k.meta.ID, err)
		}
		k.meta.Installed = true
		k.meta.Size = k.size
	}
	if err := s.writeMeta(k.meta); err != nil {
		return fmt.Errorf("snapshot %s: %w", k.meta.ID, err)
	}
	s.reap(k.meta.ID)
	s.logger.Debug("snapshot recorded", slog.String("id", k.meta.ID), slog.Bool("installed", k.meta.Installed),
		slog.Int64("bytes", k.size))
	return nil
}

// Cancel abandons the snapshot and removes its temporary file.
func (k *snapshotSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	if k.f == nil {
		return nil
	}
	_ = k.f.Close()
	if err := os.Remove(filepath.Join(k.store.dir, k.meta.ID+".tmp")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("snapshot %s: %w", k.meta.ID, err)
	}
	return nil
}
