package raftfsm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

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
	opts   Options

	// ckMu serialises commits and checkpoints (durable.go); ck is nil
	// when every commit fsyncs.
	ckMu sync.Mutex
	ck   *checkpointer

	mu sync.RWMutex // guards db, which Restore swaps; View and Apply hold it for reading
	db *bolt.DB

	appliedMu sync.Mutex
	applied   uint64
	term      uint64
	closed    bool
	appliedCh chan struct{} // closed and replaced when applied advances (or on Close)

	handlers map[CommandType]handler

	// batch is the in-memory state of the ApplyBatch running now (nil
	// outside one); bbolt's single writer serialises it.
	batch *applyBatch
	// hot is the last committed batch's decoded phone and template
	// records, reused by the next (newApplyBatch); only ApplyBatch uses it.
	hot hotRecords
	// vals is the memory of the values a batch puts (alloc.go), reused by
	// the next batch once its transaction is over.
	vals arena
	mem  batchMem // the batch's containers, reused (alloc.go)

	// sets and pairs are the in-memory halves of the distinct-consumer
	// sets and of the pair rate buckets: two views of one consumerIndex,
	// rebuilt by openDB (distinct_index.go).
	sets  distinctIndex
	pairs pairIndex
	// floors are where walks of the distinct sets' stale entries start
	// (distinct.go); Apply's only, rebuilt by openDB.
	floors distinctFloors

	// reads is the read model of the hot small records (readmodel.go),
	// built by openDB and refreshed after every commit; nil when closed.
	reads atomic.Pointer[readModel]

	// expireMedia is CmdExpire's call site for stored media (see
	// retention.go).
	expireMedia ExpireFunc

	hookMu       sync.Mutex
	expireHook   func(ExpireResult)
	pendingHooks []ExpireResult // filled inside a batch, delivered after commit
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// Open opens (or creates, mode 0600) the state machine database at path,
// creates missing buckets and loads the applied index. A nil logger
// discards. Every commit is fsynced (see OpenWithOptions).
func Open(path string, logger *slog.Logger) (*FSM, error) {
	return OpenWithOptions(path, logger, Options{})
}

// OpenWithOptions is Open with options (durable.go: checkpoints instead of
// an fsync per commit). Opening first rolls the file back to its last
// checkpoint if commits after it may not have reached the disk.
func OpenWithOptions(path string, logger *slog.Logger, opts Options) (*FSM, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &FSM{path: path, logger: logger, opts: opts, appliedCh: make(chan struct{})}
	f.handlers = map[CommandType]handler{
		CmdNoop:                   func(*bolt.Tx, []byte) ([]byte, error) { return nil, nil },
		CmdCreateTenant:           f.applyCreateTenant,
		CmdCreateToken:            f.applyCreateToken,
		CmdRevokeToken:            f.applyRevokeToken,
		CmdPutClusterValue:        f.applyPutClusterValue,
		CmdCreateJoinToken:        f.applyCreateJoinToken,
		CmdConsumeJoinToken:       f.applyConsumeJoinToken,
		CmdRemoveMember:           f.applyRemoveMember,
		CmdAcceptMessage:          f.applyAcceptMessage,
		CmdRecordInbound:          f.applyRecordInbound,
		CmdMarkRead:               f.applyMarkRead,
		CmdSetSubscription:        f.applySetSubscription,
		CmdDeleteSubscription:     f.applyDeleteSubscription,
		CmdWebhookAttempt:         f.applyWebhookAttempt,
		CmdPutDataKey:             f.applyPutDataKey,
		CmdCreateTemplate:         f.applyCreateTemplate,
		CmdSetTemplateStatus:      f.applySetTemplateStatus,
		CmdDeleteTemplates:        f.applyDeleteTemplates,
		CmdRegisterPhone:          f.applyRegisterPhone,
		CmdSetPIN:                 f.applySetPIN,
		CmdUpdateProfile:          f.applyUpdateProfile,
		CmdSetPhoneLimits:         f.applySetPhoneLimits,
		CmdPutMediaChunk:          f.applyPutMediaChunk,
		CmdCommitMedia:            f.applyCommitMedia,
		CmdDeleteMedia:            f.applyDeleteMedia,
		CmdSetTemplateReview:      f.applySetTemplateReview,
		CmdSubmitTemplate:         f.applySubmitTemplate,
		CmdSignalCommit:           f.applySignalCommit,
		CmdMessageStatuses:        f.applyMessageStatuses,
		CmdAcceptMessageV2:        f.applyAcceptMessageV2,
		CmdMessageStatusesV2:      f.applyMessageStatusesV2,
		CmdSignalRound:            f.applySignalRound,
		CmdSignalRoundV2:          f.applySignalRoundV2,
		CmdExpire:                 f.applyExpire,
		CmdSetRetention:           f.applySetRetention,
		CmdEraseConsumer:          f.applyEraseConsumer,
		CmdAudit:                  f.applyAudit,
		CmdRecordIntegrity:        f.applyRecordIntegrity,
		CmdSetMessagingTier:       f.applySetMessagingTier,
		CmdConsoleInvite:          f.applyConsoleInvite,
		CmdConsoleRedeem:          f.applyConsoleRedeem,
		CmdConsoleSignIn:          f.applyConsoleSignIn,
		CmdConsoleSignOut:         f.applyConsoleSignOut,
		CmdConsoleSetUser:         f.applyConsoleSetUser,
		CmdEditTemplate:           f.applyEditTemplate,
		CmdPutPhoneSetting:        f.applyPutPhoneSetting,
		CmdWebhookAttempts:        f.applyWebhookAttempts,
		CmdSetAppWebhook:          f.applySetAppWebhook,
		CmdSetPhoneWebhook:        f.applySetPhoneWebhook,
		CmdConsoleSignInAttempt:   f.applyConsoleSignInAttempt,
		CmdConsoleSignInCleared:   f.applyConsoleSignInCleared,
		CmdWebhookRetryNow:        f.applyWebhookRetryNow,
		CmdWebhookAttemptsV2:      f.applyWebhookAttemptsV2,
		CmdWebhookAttemptsV3:      f.applyWebhookAttemptsV3,
		CmdWebhookRedeliver:       f.applyWebhookRedeliver,
		CmdSetProfilePicture:      f.applySetProfilePicture,
		CmdSetUserPreference:      f.applySetUserPreference,
		CmdRequestDisplayName:     f.applyRequestDisplayName,
		CmdDecideDisplayName:      f.applyDecideDisplayName,
		CmdSetTemplateQuality:     f.applySetTemplateQuality,
		CmdSetTemplateCategory:    f.applySetTemplateCategory,
		CmdChangeMessagingTier:    f.applyChangeMessagingTier,
		CmdEnableTemplateInsights: f.applyEnableTemplateInsights,
		CmdAcceptFailedMessage:    f.applyAcceptFailedMessage,
		CmdSetSubscriptionV2:      f.applySetSubscriptionV2,
		CmdRequestOBA:             f.applyRequestOBA,
		CmdDecideOBA:              f.applyDecideOBA,
		CmdTemplateClick:          f.applyTemplateClick,

		// Consumer preferences, display-name review, template quality and
		// category, tier changes with their webhooks (accountchanges.go).
	}
	f.expireMedia = ExpireMediaTx
	if err := f.openDB(); err != nil {
		return nil, err
	}
	idx, term := f.AppliedIndex()
	logger.Info("state machine opened", slog.Uint64("applied_index", idx), slog.Uint64("applied_term", term))
	return f, nil
}

// openDB opens f.path, creates the buckets and loads the applied index.
// Callers hold mu for writing, or own f exclusively.
func (f *FSM) openDB() error {
	if err := recoverCheckpoint(f.path, f.logger); err != nil {
		f.reads.Store(nil)
		return fmt.Errorf("recover %s: %w", f.path, err)
	}
	// The file is durable at its checkpoint now, and opens there by itself.
	// Drop the sidecar before anything commits: the commits below (the
	// migration's steps) hold no pin, so a later commit may reuse pages of
	// the checkpoint's tree, and a crash before startCheckpoints takes the
	// next checkpoint must not roll the file back to it.
	if err := removeSidecar(f.path); err != nil {
		f.reads.Store(nil)
		return fmt.Errorf("recover %s: %w", f.path, err)
	}
	bo := boltOptions()
	if f.opts.CheckpointEvery > 0 {
		bo.InitialMmapSize = checkpointMmapSize // no remap while a checkpoint is pinned
	}
	db, err := bolt.Open(f.path, 0o600, bo)
	if err != nil {
		f.reads.Store(nil)
		return fmt.Errorf("open %s: %w", f.path, err)
	}
	if err := mergeDistinctTimesInSteps(db, distinctMergeStep); err != nil {
		_ = db.Close()
		f.reads.Store(nil)
		return fmt.Errorf("initialise %s: %w", f.path, err)
	}
	var idx, term uint64
	var index *consumerIndex
	var floors distinctFloors
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := migrate(tx); err != nil {
			return err
		}
		idx, term = parseApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		index, floors, err = loadConsumerState(tx)
		return err
	})
	if err != nil {
		_ = db.Close()
		f.reads.Store(nil)
		return fmt.Errorf("initialise %s: %w", f.path, err)
	}
	reads, err := buildReadModel(db)
	if err != nil {
		_ = db.Close()
		f.reads.Store(nil)
		return fmt.Errorf("read model %s: %w", f.path, err)
	}
	f.db, f.sets, f.pairs, f.floors = db, distinctIndex{index}, pairIndex{index}, floors
	f.reads.Store(reads)
	f.setApplied(idx, term)
	if err := f.startCheckpoints(); err != nil {
		f.db = nil
		f.reads.Store(nil)
		return errors.Join(fmt.Errorf("checkpoint %s: %w", f.path, err), db.Close())
	}
	return nil
}

// Close closes the database and wakes WaitApplied callers, which then
// return ErrClosed. Close is idempotent.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appliedMu.Lock()
	if !f.closed {
		f.closed = true
		close(f.appliedCh)
		f.appliedCh = make(chan struct{})
	}
	f.appliedMu.Unlock()
	f.reads.Store(nil)
	if f.db == nil {
		return nil
	}
	f.ckMu.Lock()
	cerr := f.stopCheckpoints()
	if cerr == nil {
		// Fsynced (NoSync is off again): the next Open reads the free
		// list instead of walking the whole file.
		cerr = f.commitFreelist()
	}
	f.ckMu.Unlock()
	err := errors.Join(cerr, f.db.Close())
	f.db = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}

// setApplied publishes a new applied index and wakes every waiter.
func (f *FSM) setApplied(idx, term uint64) {
	f.appliedMu.Lock()
	f.applied, f.term = idx, term
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.appliedMu.Unlock()
}

// AppliedIndex returns the index and term of the last applied entry, from
// memory; it always equals what the database holds.
func (f *FSM) AppliedIndex() (index, term uint64) {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.applied, f.term
}

// WaitApplied returns nil once AppliedIndex() ≥ index, ctx's error when
// ctx ends first, or ErrClosed when the FSM is closed first. Waiters are
// woken by Apply; nothing polls.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.appliedMu.Lock()
		applied, closed, ch := f.applied, f.closed, f.appliedCh
		f.appliedMu.Unlock()
		if applied >= index {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Apply applies one log entry (see ApplyBatch).
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies a batch of log entries in one bbolt transaction, with
// the applied index and term written in the same transaction. Responses:
// []Result for a command entry, nil for everything else.
//
// Entries at or below the stored applied index are skipped (response nil):
// that makes replay after a restart, and a streamed snapshot that is newer
// than its metadata, harmless. A corrupt entry, an unknown command type
// without FlagIgnorable, or a failing write panics: a replica that cannot
// follow the log must stop rather than diverge.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		panic("raftfsm: apply on a closed state machine")
	}
	if applied, _ := f.AppliedIndex(); len(logs) == 0 || logs[len(logs)-1].Index <= applied {
		return out // nothing new: do not even open a write transaction
	}
	var lastIdx, lastTerm uint64
	n := 0 // entries applied
	f.ckMu.Lock()
	defer f.ckMu.Unlock()
	var kept hotRecords
	cold := false // a command that is not hot applied: the read model may have changed
	err := f.db.Update(func(tx *bolt.Tx) error {
		f.batch = newApplyBatch(tx, f.sets, f.floors, f.pairs, f.hot, &f.vals, &f.mem)
		f.hot = hotRecords{} // kept again only once this transaction committed
		defer func() { f.batch.done(); f.batch = nil }()
		// Append-mostly buckets: fill pages (bbolt splits at half by
		// default, which doubles the pages a commit writes). Layout only:
		// the content, and so Dump, is the same.
		for _, b := range [][]byte{bucketMessages, bucketSignalPending, bucketDistinctTimes, bucketRatePairs} {
			tx.Bucket(b).FillPercent = 1.0
		}
		meta := tx.Bucket(bucketMeta)
		applied, _ := parseApplied(meta.Get(keyApplied))
		for i, l := range logs {
			if l.Index <= applied {
				continue
			}
			switch l.Type {
			case raft.LogCommand:
				out[i] = f.applyEntry(tx, l)
			case raft.LogConfiguration:
				if err := meta.Put(keyConfig, configValue(l.Index, l.Data)); err != nil {
					return err
				}
			}
			applied, lastIdx, lastTerm = l.Index, l.Index, l.Term
			n++
		}
		cold = f.batch.cold
		if lastIdx == 0 {
			return nil
		}
		f.batch.flush()
		kept = f.batch.keep()
		return meta.Put(keyApplied, appliedValue(lastIdx, lastTerm))
	})
	if err != nil {
		panic(fmt.Sprintf("raftfsm: bbolt write failed: %v", err))
	}
	f.hot = kept
	if lastIdx != 0 {
		// The read model follows the commit before the index is
		// published: whoever waits for lastIdx reads it there too. Hot
		// commands write none of its buckets (TestHotCommandsLeaveTheReadModel),
		// so after a batch of nothing else it has not changed.
		if cold {
			if err := f.reads.Load().refresh(f.db); err != nil {
				panic(fmt.Sprintf("raftfsm: read model: %v", err))
			}
		}
		f.setApplied(lastIdx, lastTerm)
		f.afterCommit(n)
	}
	f.deliverExpireHooks()
	return out
}

// applyEntry applies every command of one entry and returns []Result.
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
			if t.Ignorable() {
				f.logger.Warn("skipping unknown ignorable command",
					slog.Uint64("type", uint64(t)), slog.Uint64("raft_index", l.Index))
				results[i] = Result{Err: ErrIgnored}
				continue
			}
			panic(fmt.Sprintf("raftfsm: entry %d: unknown command type %d", l.Index, t))
		}
		f.batch.before(t) // the others read and write the database as is
		v, err := h(tx, payload)
		results[i] = Result{Value: v, Err: err}
	}
	return results
}

// View runs fn in a read-only transaction. Values must be copied before fn
// returns. Returns ErrClosed on a closed FSM.
func (f *FSM) View(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	return f.db.View(fn)
}

// Dump writes every bucket in key order, one "bucket key=value" line per
// record (hex; nested buckets as "bucket/key"), for determinism checks:
// equal logs give equal dumps.
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

// Backup writes a consistent copy of the live database to w (a bbolt file)
// without blocking writers, and returns the bytes written.
func (f *FSM) Backup(w io.Writer) (int64, error) {
	var n int64
	err := f.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
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

// get copies a value out of a bucket (nil when absent).
func get(tx *bolt.Tx, bucket, key []byte) []byte {
	v := tx.Bucket(bucket).Get(key)
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// mustPut writes inside Apply; a failing write panics.
func mustPut(tx *bolt.Tx, bucket, k, v []byte) {
	if err := tx.Bucket(bucket).Put(k, v); err != nil {
		panic(fmt.Sprintf("raftfsm: put %s: %v", bucket, err))
	}
}

// updateRecord edits the record stored under key in bucket inside Apply:
// fn changes a decoded copy, which is written back. A missing record is
// ErrNotFound naming what, and writes nothing.
func updateRecord[T any](tx *bolt.Tx, bucket []byte, key, what string, fn func(*T)) error {
	v := tx.Bucket(bucket).Get([]byte(key))
	if v == nil {
		return domainErr(ErrNotFound, "%s", what)
	}
	var r T
	decode(v, &r)
	fn(&r)
	mustPut(tx, bucket, []byte(key), marshal(r))
	return nil
}

// mustDelete deletes inside Apply; a failing delete panics.
func mustDelete(tx *bolt.Tx, bucket, k []byte) {
	if err := tx.Bucket(bucket).Delete(k); err != nil {
		panic(fmt.Sprintf("raftfsm: delete %s: %v", bucket, err))
	}
}
