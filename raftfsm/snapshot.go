package raftfsm

import (
	"encoding/json"
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

// SnapshotStore is a raft.SnapshotStore that never copies the database to
// compact the log. A snapshot taken by this node is *live*: only its
// metadata is stored, and Open streams a consistent copy of the live
// database. A snapshot received from a leader is *installed*: its bytes are
// kept in a file until the FSM restores from it.
//
// A live snapshot's data may be newer than its metadata index (the database
// kept applying after the snapshot was taken). That is safe because the FSM
// stores its applied index in the database and skips entries at or below
// it, so the follower that installs the stream ignores the entries it
// already contains.
type SnapshotStore struct {
	dir    string
	fsm    *FSM
	logger *slog.Logger
	mu     sync.Mutex
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

type snapshotFile struct {
	raft.SnapshotMeta
	Installed bool `json:"installed"`
}

// NewSnapshotStore opens dir, removing leftovers of interrupted snapshots.
func NewSnapshotStore(dir string, fsm *FSM, logger *slog.Logger) (*SnapshotStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &SnapshotStore{dir: dir, fsm: fsm, logger: logger}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	return s, nil
}

// Create starts a new snapshot.
func (s *SnapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	return &snapshotSink{store: s, meta: snapshotFile{SnapshotMeta: raft.SnapshotMeta{
		Version: version, ID: id, Index: index, Term: term,
		Configuration: configuration, ConfigurationIndex: configurationIndex,
	}}}, nil
}

func (s *SnapshotStore) metas() ([]snapshotFile, error) {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*.meta"))
	if err != nil {
		return nil, err
	}
	var out []snapshotFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var m snapshotFile
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
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

// Open returns a snapshot's metadata and data.
func (s *SnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.Lock()
	b, err := os.ReadFile(filepath.Join(s.dir, id+".meta"))
	s.mu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("open snapshot %s: %w", id, err)
	}
	var m snapshotFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("snapshot %s metadata: %w", id, err)
	}
	if m.Installed {
		f, err := os.Open(filepath.Join(s.dir, id+".db"))
		if err != nil {
			return nil, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		m.Size = fi.Size()
		return &m.SnapshotMeta, f, nil
	}
	return s.openLive(&m.SnapshotMeta)
}

// openLive streams the live database. Raft needs the exact size before the
// bytes, so the read transaction is opened first and its size reported;
// WriteTo then writes exactly that many bytes from the same transaction.
func (s *SnapshotStore) openLive(meta *raft.SnapshotMeta) (*raft.SnapshotMeta, io.ReadCloser, error) {
	txCh := make(chan int64, 1)
	pr, pw := io.Pipe()
	go func() {
		err := s.fsm.View(func(tx *bolt.Tx) error {
			txCh <- tx.Size()
			_, err := tx.WriteTo(pw)
			return err
		})
		if err != nil {
			select {
			case txCh <- -1:
			default:
			}
		}
		_ = pw.CloseWithError(err)
	}()
	size := <-txCh
	if size < 0 {
		_ = pr.Close()
		return nil, nil, fmt.Errorf("stream live snapshot: %w", ErrClosed)
	}
	m := *meta
	m.Size = size
	return &m, pr, nil
}

// reap removes every snapshot but keep.
func (s *SnapshotStore) reap(keep string) {
	paths, _ := filepath.Glob(filepath.Join(s.dir, "*"))
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, keep+".") {
			continue
		}
		if strings.HasSuffix(base, ".meta") || strings.HasSuffix(base, ".db") {
			_ = os.Remove(p)
		}
	}
}

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
	if k.f == nil {
		f, err := os.OpenFile(filepath.Join(k.store.dir, k.meta.ID+".tmp"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return 0, err
		}
		k.f = f
	}
	n, err := k.f.Write(p)
	k.size += int64(n)
	return n, err
}

// Close finishes the snapshot: an installed one becomes <id>.db; a live
// one is only its metadata.
func (k *snapshotSink) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	s := k.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.f != nil {
		if err := k.f.Sync(); err != nil {
			k.f.Close()
			return err
		}
		if err := k.f.Close(); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(s.dir, k.meta.ID+".tmp"), filepath.Join(s.dir, k.meta.ID+".db")); err != nil {
			return err
		}
		k.meta.Installed = true
		k.meta.Size = k.size
	}
	b, err := json.Marshal(k.meta)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, k.meta.ID+".meta.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, k.meta.ID+".meta")); err != nil {
		return err
	}
	s.reap(k.meta.ID)
	s.logger.Debug("snapshot recorded", slog.String("id", k.meta.ID), slog.Bool("installed", k.meta.Installed))
	return nil
}

// Cancel abandons the snapshot.
func (k *snapshotSink) Cancel() error {
	k.done = true
	if k.f != nil {
		k.f.Close()
		return os.Remove(filepath.Join(k.store.dir, k.meta.ID+".tmp"))
	}
	return nil
}
