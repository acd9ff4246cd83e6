package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/node"
)

// bareMessageSize is the size of one message of the bare reference: about
// what a sealed short text with its metadata takes.
const bareMessageSize = 300

// bareRaft is the bare reference the ratios are taken against: three
// hashicorp/raft nodes in this process over loopback TCP
// (raft.NewTCPTransport, no TLS), raft-boltdb/v2 as log and stable store,
// and a bbolt state machine that stores each message under its log index,
// one bbolt transaction (with its fsync) per ApplyBatch. Nothing else: no
// HTTP, no validation, no sealing, no batching of messages into entries.
//
// The same cluster with a state machine that stores nothing is the Raft
// floor (floor.go): refKind says which of the two a cluster is.
type bareRaft struct {
	dir    string
	nodes  []*raft.Raft
	closes []func() error
	// applied[i] is node i's applied index (the floor's state machines
	// only); fwdAddrs[i] is the address of node i's forward RPC (forward
	// clusters only).
	applied  []*appliedIndex
	fwdAddrs []string
}

// refKind is what startBare builds.
type refKind struct {
	// noop: a state machine that stores nothing (the floor) instead of
	// the bbolt one.
	noop bool
	// forward: each node also serves the forward RPC (floor.go).
	forward bool
	// waedgeRaft: waedge's Raft settings (CommitTimeout, MaxAppendEntries,
	// BatchApplyCh) instead of hashicorp/raft's defaults, so a follower
	// learns the commit index as soon as a waedge node would.
	waedgeRaft bool
}

// startBare starts the reference cluster in a temporary directory and
// waits for its leader.
func startBare(ctx context.Context, n int, kind refKind) (*bareRaft, error) {
	dir, err := os.MkdirTemp("", "waedge-bench-bare-")
	if err != nil {
		return nil, err
	}
	b := &bareRaft{dir: dir}
	var servers []raft.Server
	type member struct {
		cfg   *raft.Config
		fsm   raft.BatchingFSM
		store *raftboltdb.BoltStore
		trans *raft.NetworkTransport
	}
	var members []member
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("n%d", i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.close()
			return nil, err
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(d, "raft.db")}) // fsync on
		if err != nil {
			b.close()
			return nil, err
		}
		b.closes = append(b.closes, store.Close)
		var fsm raft.BatchingFSM
		if kind.noop {
			a := &appliedIndex{changed: make(chan struct{})}
			b.applied = append(b.applied, a)
			fsm = floorFSM{a}
		} else {
			bf, err := openBareFSM(filepath.Join(d, "fsm.db"))
			if err != nil {
				b.close()
				return nil, err
			}
			b.closes = append(b.closes, bf.db.Close)
			fsm = bf
		}
		trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
		if err != nil {
			b.close()
			return nil, err
		}
		b.closes = append(b.closes, trans.Close)
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
		// The timeouts waedge's nodes use by default; everything else is
		// hashicorp/raft's default.
		cfg.HeartbeatTimeout = node.DefaultHeartbeatTimeout
		cfg.ElectionTimeout = node.DefaultElectionTimeout
		cfg.LeaderLeaseTimeout = node.DefaultLeaderLeaseTimeout
		if kind.waedgeRaft {
			cfg.CommitTimeout = node.DefaultCommitTimeout
			cfg.MaxAppendEntries = 512
			cfg.BatchApplyCh = true
		}
		cfg.Logger = hclog.NewNullLogger()
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: cfg.LocalID, Address: trans.LocalAddr()})
		members = append(members, member{cfg, fsm, store, trans})
	}
	for i, m := range members {
		r, err := raft.NewRaft(m.cfg, m.fsm, m.store, m.store, raft.NewDiscardSnapshotStore(), m.trans)
		if err != nil {
			b.close()
			return nil, err
		}
		b.nodes = append(b.nodes, r)
		if kind.forward {
			addr, stop, err := serveForward(r)
			if err != nil {
				b.close()
				return nil, err
			}
			b.closes = append(b.closes, stop)
			b.fwdAddrs = append(b.fwdAddrs, addr)
		}
		if i == 0 {
			if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
				b.close()
				return nil, err
			}
		}
	}
	if err := poll(ctx, 30*time.Second, "a bare Raft leader", func() (bool, error) { return b.leader() != nil, nil }); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bareRaft) leader() *raft.Raft {
	for _, r := range b.nodes {
		if r.State() == raft.Leader {
			return r
		}
	}
	return nil
}

// run measures senders clients, each applying one message per Raft entry
// and waiting for it, for duration.
func (b *bareRaft) run(ctx context.Context, senders int, duration time.Duration, c *counter) Load {
	leader := b.leader()
	return closedLoop(ctx, senders, duration, c, func(ctx context.Context, _ int, seq int64) error {
		msg := bareMessage(seq)
		r := leader
		if r == nil {
			return raft.ErrNotLeader
		}
		f := r.Apply(msg, 10*time.Second)
		if err := f.Error(); err != nil {
			return err
		}
		if err, ok := f.Response().(error); ok {
			return err
		}
		return nil
	})
}

// bareMessage is one client message: its sequence number, then random
// bytes.
func bareMessage(seq int64) []byte {
	msg := make([]byte, bareMessageSize)
	_, _ = rand.Read(msg[8:])
	binary.BigEndian.PutUint64(msg, uint64(seq))
	return msg
}

func (b *bareRaft) close() {
	for _, r := range b.nodes {
		_ = r.Shutdown().Error()
	}
	for i := len(b.closes) - 1; i >= 0; i-- {
		_ = b.closes[i]()
	}
	_ = os.RemoveAll(b.dir)
}

// bareFSM stores each command under its log index; it implements
// raft.BatchingFSM so a batch of entries is one bbolt transaction.
type bareFSM struct{ db *bolt.DB }

var bareBucket = []byte("messages")

func openBareFSM(path string) (*bareFSM, error) {
	db, err := bolt.Open(path, 0o600, nil) // fsync on commit
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bareBucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &bareFSM{db: db}, nil
}

// ApplyBatch stores every command entry in one transaction.
func (f *bareFSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	err := f.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bareBucket)
		for _, l := range logs {
			if l.Type != raft.LogCommand {
				continue
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], l.Index)
			if err := bk.Put(k[:], l.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i] = err
		}
	}
	return out
}

// Apply implements raft.FSM.
func (f *bareFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// Snapshot is free: the state is the bbolt file itself (as in waedge,
// whose state machine is durable and snapshots cost nothing).
func (f *bareFSM) Snapshot() (raft.FSMSnapshot, error) { return bareSnapshot{}, nil }

// Restore is never needed: followers of the bare reference never fall
// behind the log's compaction point within a run.
func (f *bareFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

type bareSnapshot struct{}

func (bareSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (bareSnapshot) Release()                          {}
