package node

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/raftfsm"
)

// ErrNodeRunning: the data dir's Raft log is held by a running process.
var ErrNodeRunning = errors.New("the node is running: stop it first")

// Recovery is what Recover changed.
type Recovery struct {
	NodeID string        `json:"node_id"`
	Before []raft.Server `json:"before"`
	After  []raft.Server `json:"after"`
	Index  uint64        `json:"index"`
	Term   uint64        `json:"term"`
}

// Raft stable-store key of the current term (hashicorp/raft's own).
var keyCurrentTerm = []byte("CurrentTerm")

// Recover makes a stopped node whose cluster lost its quorum for good the
// seed of a working cluster again: it appends to the node's Raft log a
// configuration of voters (default: this node alone, at the address the
// last configuration gives it) in a new term, as hashicorp/raft's
// peers.json recovery would. On its next start the node elects itself (or
// the given voters elect a leader) and commits the entry and everything
// its log holds; what was committed on the lost nodes only and never
// reached this one is gone.
//
// Unsafe by nature: run it only when the other members will never come
// back with their data (wipe them and join them anew with join tokens).
// With several survivors, stop all of them and run it on each with the
// same voters.
func Recover(dataDir string, voters []raft.Server) (Recovery, error) {
	cfg := Config{DataDir: dataDir}
	var rec Recovery
	b, err := os.ReadFile(cfg.path(fileNodeID))
	if err != nil {
		return rec, fmt.Errorf("%w: %s holds no node: %w", ErrBadConfig, dataDir, err)
	}
	rec.NodeID = strings.TrimSpace(string(b))
	store, err := raftboltdb.New(raftboltdb.Options{Path: cfg.path(dirRaft, fileRaftDB),
		BoltOptions: raftLogBoltOptions(time.Second)})
	if errors.Is(err, bolt.ErrTimeout) {
		return rec, ErrNodeRunning
	}
	if err != nil {
		return rec, fmt.Errorf("open raft log: %w", err)
	}
	defer store.Close()

	last, lastTerm, before, err := latestConfiguration(cfg, store)
	if err != nil {
		return rec, err
	}
	rec.Before = before.Servers
	if len(voters) == 0 {
		for _, s := range before.Servers {
			if string(s.ID) == rec.NodeID {
				voters = []raft.Server{{Suffrage: raft.Voter, ID: s.ID, Address: s.Address}}
			}
		}
		if len(voters) == 0 {
			return rec, fmt.Errorf("%w: node %s is not in its last configuration; name the voters", ErrBadConfig, rec.NodeID)
		}
	}
	self := false
	for _, v := range voters {
		self = self || string(v.ID) == rec.NodeID
	}
	if !self {
		return rec, fmt.Errorf("%w: the voters must include this node (%s)", ErrBadConfig, rec.NodeID)
	}
	conf := raft.Configuration{Servers: voters}
	seen := map[raft.ServerID]bool{}
	for _, v := range voters {
		if !nodeIDPattern.MatchString(string(v.ID)) || v.Address == "" || seen[v.ID] {
			return rec, fmt.Errorf("%w: voter %q at %q: want distinct node ids with addresses", ErrBadConfig, v.ID, v.Address)
		}
		seen[v.ID] = true
	}
	current, err := store.GetUint64(keyCurrentTerm)
	if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return rec, fmt.Errorf("read current term: %w", err)
	}
	// A term no survivor has used: entries appended at different indexes
	// on different survivors then conflict visibly instead of matching.
	term := max(current, lastTerm) + 1
	if err := store.SetUint64(keyCurrentTerm, term); err != nil {
		return rec, fmt.Errorf("write current term: %w", err)
	}
	entry := &raft.Log{Index: last + 1, Term: term, Type: raft.LogConfiguration,
		Data: raft.EncodeConfiguration(conf), AppendedAt: time.Now()}
	if err := store.StoreLog(entry); err != nil {
		return rec, fmt.Errorf("append configuration: %w", err)
	}
	rec.After, rec.Index, rec.Term = voters, entry.Index, term
	return rec, nil
}

// latestConfiguration returns the last log index and term and the newest
// configuration, from the log or else the newest snapshot.
func latestConfiguration(cfg Config, store *raftboltdb.BoltStore) (uint64, uint64, raft.Configuration, error) {
	var conf raft.Configuration
	first, err := store.FirstIndex()
	if err != nil {
		return 0, 0, conf, err
	}
	last, err := store.LastIndex()
	if err != nil {
		return 0, 0, conf, err
	}
	var lastTerm uint64
	found := false
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			return 0, 0, conf, fmt.Errorf("read log %d: %w", i, err)
		}
		if i == last {
			lastTerm = l.Term
		}
		if l.Type == raft.LogConfiguration {
			conf, found = raft.DecodeConfiguration(l.Data), true
			break
		}
	}
	if found && last > 0 {
		return last, lastTerm, conf, nil
	}
	fsm, err := raftfsm.Open(cfg.path(fileFSM), nil)
	if err != nil {
		return 0, 0, conf, fmt.Errorf("open state machine: %w", err)
	}
	defer fsm.Close()
	snaps, err := raftfsm.NewSnapshotStore(cfg.path(dirRaft, dirSnapshots), fsm, nil)
	if err != nil {
		return 0, 0, conf, err
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return 0, 0, conf, fmt.Errorf("%w: no Raft configuration in the log or a snapshot (%v)", ErrBadConfig, err)
	}
	m := metas[0]
	if !found {
		conf = m.Configuration
	}
	if m.Index > last {
		last, lastTerm = m.Index, m.Term
	}
	return last, lastTerm, conf, nil
}

// raftLogBoltOptions are the bbolt options of the Raft log (raft.db). Log
// compaction deletes whole ranges of entries, so the file holds many free
// pages (after an expiry run's compaction, about as many as the expired
// messages took): with bbolt's defaults every commit — every StoreLogs,
// on the write path of each accept — would write the whole freelist
// again, and each page allocation would search an array of it. So the
// freelist is not stored (bbolt rebuilds it by a scan when the file is
// opened, as Consul does for its Raft log) and is kept as a hash map
// (allocation and release without a pass over the whole list). Neither
// changes the file format: any binary opens the file.
func raftLogBoltOptions(timeout time.Duration) *bolt.Options {
	return &bolt.Options{Timeout: timeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
}

// keepRaftLogFreelist writes the free-page list into the closed Raft log
// file at path, so that the next open reads it instead of walking every
// page the file's tree reaches (1.6 s for a 0.65 GB log with a cold page
// cache, BENCHMARKS.md "Stop 24: restart time"). bbolt writes the list
// itself when a file without one is opened with NoFreelistSync off; the
// walk that needs is done here, at a stop, with the file still in the
// page cache. The running store's first commit drops the list again.
func keepRaftLogFreelist(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("raft log free list: %w", err)
	}
	return db.Close()
}
