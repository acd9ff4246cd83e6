package raftfsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// handler applies one command's payload inside the batch transaction. It
// must check every precondition before its first write: several commands
// share one transaction and bbolt has no savepoints, so a handler that
// fails half-way would leave partial state. A returned error is a domain
// error; a payload that does not decode panics (replicas must not diverge).
type handler func(tx *bolt.Tx, payload []byte) ([]byte, error)

// FSM is the replicated state machine: one bbolt database. Apply is
// deterministic — everything it writes comes from the log.
type FSM struct {
	path   string
	logger *slog.Logger

	mu sync.RWMutex // guards db (swapped by Restore)
	db *bolt.DB

	appliedMu sync.Mutex
	applied   uint64
	term      uint64
	appliedCh chan struct{} // closed and replaced when applied advances

	handlers map[CommandType]handler
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// Open opens (or creates) the state machine database at path.
func Open(path string, logger *slog.Logger) (*FSM, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &FSM{path: path, logger: logger, appliedCh: make(chan struct{})}
	f.handlers = map[CommandType]handler{
		CmdNoop:               func(*bolt.Tx, []byte) ([]byte, error) { return nil, nil },
		CmdCreateTenant:       f.applyCreateTenant,
		CmdCreateToken:        f.applyCreateToken,
		CmdRevokeToken:        f.applyRevokeToken,
		CmdPutClusterValue:    f.applyPutClusterValue,
		CmdCreateJoinToken:    f.applyCreateJoinToken,
		CmdConsumeJoinToken:   f.applyConsumeJoinToken,
		CmdRemoveMember:       f.applyRemoveMember,
		CmdAcceptMessage:      f.applyAcceptMessage,
		CmdRecordInbound:      f.applyRecordInbound,
		CmdMarkRead:           f.applyMarkRead,
		CmdSetSubscription:    f.applySetSubscription,
		CmdDeleteSubscription: f.applyDeleteSubscription,
		CmdWebhookAttempt:     f.applyWebhookAttempt,
		CmdPutDataKey:         f.applyPutDataKey,
		CmdCreateTemplate:     f.applyCreateTemplate,
		CmdSetTemplateStatus:  f.applySetTemplateStatus,
		CmdDeleteTemplates:    f.applyDeleteTemplates,
		CmdRegisterPhone:      f.applyRegisterPhone,
		CmdSetPIN:             f.applySetPIN,
		CmdUpdateProfile:      f.applyUpdateProfile,
		CmdSetPhoneLimits:     f.applySetPhoneLimits,
	}
	if err := f.openDB(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FSM) openDB() error {
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	var idx, term uint64
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 16 {
			idx, term = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("initialise %s: %w", f.path, err)
	}
	f.db = db
	f.setApplied(idx, term)
	return nil
}

// Close closes the database.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

func (f *FSM) setApplied(idx, term uint64) {
	f.appliedMu.Lock()
	f.applied, f.term = idx, term
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.appliedMu.Unlock()
}

// AppliedIndex returns the index and term of the last applied entry.
func (f *FSM) AppliedIndex() (index, term uint64) {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.applied, f.term
}

// WaitApplied returns once the applied index reaches index, or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.appliedMu.Lock()
		applied, ch := f.applied, f.appliedCh
		f.appliedMu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies a batch of log entries in one bbolt transaction, with
// the applied index and term written in the same transaction. Entries at or
// below the stored applied index are skipped: that makes replay after a
// restart, and a streamed snapshot that is newer than its metadata, safe.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		panic("raftfsm: apply on a closed state machine")
	}
	applied, _ := f.AppliedIndex()
	var lastIdx, lastTerm uint64
	err := f.db.Update(func(tx *bolt.Tx) error {
		for i, l := range logs {
			if l.Index <= applied {
				continue
			}
			switch l.Type {
			case raft.LogCommand:
				out[i] = f.applyEntry(tx, l)
			case raft.LogConfiguration:
				v := make([]byte, 8, 8+len(l.Data))
				binary.BigEndian.PutUint64(v, l.Index)
				if err := tx.Bucket(bucketMeta).Put(keyConfig, append(v, l.Data...)); err != nil {
					return err
				}
			}
			lastIdx, lastTerm = l.Index, l.Term
		}
		if lastIdx == 0 {
			return nil
		}
		var v [16]byte
		binary.BigEndian.PutUint64(v[:], lastIdx)
		binary.BigEndian.PutUint64(v[8:], lastTerm)
		return tx.Bucket(bucketMeta).Put(keyApplied, v[:])
	})
	if err != nil {
		panic(fmt.Sprintf("raftfsm: bbolt write failed: %v", err))
	}
	if lastIdx != 0 {
		f.setApplied(lastIdx, lastTerm)
	}
	return out
}

// applyEntry applies every command of one entry; it returns []Result.
func (f *FSM) applyEntry(tx *bolt.Tx, l *raft.Log) []Result {
	cmds, err := DecodeEntry(l.Data)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: entry %d: %v", l.Index, err))
	}
	results := make([]Result, len(cmds))
	for i, c := range cmds {
		t, payload, err := DecodeCommand(c)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: entry %d command %d: %v", l.Index, i, err))
		}
		h, ok := f.handlers[t]
		if !ok {
			if t&FlagIgnorable != 0 {
				f.logger.Warn("skipping unknown ignorable command", slog.Uint64("type", uint64(t)), slog.Uint64("raft_index", l.Index))
				results[i] = Result{Err: ErrIgnored}
				continue
			}
			panic(fmt.Sprintf("raftfsm: entry %d: unknown command type %d", l.Index, t))
		}
		v, err := h(tx, payload)
		results[i] = Result{Value: v, Err: err}
	}
	return results
}

// decode decodes a payload or panics: an undecodable committed command means
// this binary cannot follow the log, and continuing would fork the replicas.
func decode(payload []byte, v any) {
	if err := DecodePayload(payload, v); err != nil {
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
}

// View runs fn in a read-only transaction. Values must be copied before fn
// returns.
func (f *FSM) View(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	return f.db.View(fn)
}

// Dump writes every bucket in key order, one "bucket key=value" line per
// record (hex), for determinism checks: equal logs give equal dumps.
func (f *FSM) Dump(w io.Writer) error {
	return f.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return dumpBucket(w, string(name), b)
		})
	})
}

func dumpBucket(w io.Writer, prefix string, b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return dumpBucket(w, prefix+"/"+hex.EncodeToString(k), b.Bucket(k))
		}
		_, err := fmt.Fprintf(w, "%s %s=%s\n", prefix, hex.EncodeToString(k), hex.EncodeToString(v))
		return err
	})
}

// Backup writes a consistent copy of the live database to w without
// blocking writers, and returns the bytes written.
func (f *FSM) Backup(w io.Writer) (int64, error) {
	var n int64
	err := f.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Sync flushes the database to stable storage.
func (f *FSM) Sync() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	return f.db.Sync()
}

// Snapshot returns a snapshot that copies nothing: the database is durable
// and knows its applied index, so compaction only needs metadata. The data
// is streamed from the live database when a follower needs it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) { return liveSnapshot{f: f}, nil }

type liveSnapshot struct{ f *FSM }

// Persist makes sure everything applied so far is on disk (the log before
// this point may now be compacted away) and records only metadata.
func (s liveSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.f.Sync(); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release is a no-op.
func (s liveSnapshot) Release() {}

// Restore replaces the database with the snapshot streamed from rc: the
// bytes go to a temporary file, which is synced and renamed over the live
// file. If installing fails, the old database is reopened.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, rc)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkBolt(tmp)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("receive snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			return err
		}
		f.db = nil
	}
	renameErr := os.Rename(tmp, f.path)
	if err := f.openDBLocked(); err != nil {
		return errors.Join(renameErr, err)
	}
	if renameErr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install snapshot: %w", renameErr)
	}
	idx, term := f.AppliedIndex()
	f.logger.Info("snapshot restored", slog.Uint64("applied_index", idx), slog.Uint64("term", term))
	return nil
}

// openDBLocked is openDB for callers holding mu.
func (f *FSM) openDBLocked() error { return f.openDB() }

// checkBolt verifies that path is a readable bbolt database.
func checkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return err
	}
	return db.Close()
}

// get copies a value out of a bucket (nil when absent).
func get(tx *bolt.Tx, bucket, key []byte) []byte {
	v := tx.Bucket(bucket).Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}
