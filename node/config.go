package node

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// DefaultFSMCheckpointEvery is Config.FSMCheckpointEvery's default.
const DefaultFSMCheckpointEvery = 1024

// DefaultFSMCheckpointBytes is Config.FSMCheckpointBytes's default.
const DefaultFSMCheckpointBytes = raftfsm.DefaultCheckpointBytes

// DefaultLogCacheSize is Config.LogCacheSize's default.
const DefaultLogCacheSize = 1024

// DefaultMaxInFlight is Config.MaxInFlight's default.
const DefaultMaxInFlight = 4

// DefaultMaxRPCsInFlight is Config.MaxRPCsInFlight's default.
const DefaultMaxRPCsInFlight = 8

// Config is everything a node needs to start. Zero values of the tuning
// fields mean "use the default".
type Config struct {
	// DataDir holds the node id, TLS material, the Raft log and the FSM.
	DataDir string
	// ClusterAddr is the TCP address Raft and node-to-node RPC listen on.
	ClusterAddr string
	// AdvertiseAddr is what peers dial; defaults to ClusterAddr.
	AdvertiseAddr string
	// Join lists cluster addresses of existing members to join through.
	Join []string
	// JoinToken is the token minted by `waedge cluster join-token`.
	JoinToken string
	// MasterKey is the cluster key-encryption key (32 bytes) when the
	// operator supplies it (--master-key-file / WAEDGE_MASTER_KEY). When
	// nil, the first node generates one and joiners receive it over the
	// mutually authenticated join; either way it is kept in
	// <data-dir>/master.key (0600) and never enters Raft.
	MasterKey []byte
	// NodeID overrides the persisted/generated node id (tests).
	NodeID string
	// Logger receives the node's structured log.
	Logger *slog.Logger
	// Version is this binary's version as members report it to each other
	// (the cluster status shows every member's); "" reports "unknown".
	Version string

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout tune Raft's
	// failure detection (serve's --raft-*-timeout flags): a follower that
	// hears nothing from the leader for HeartbeatTimeout (randomised up to
	// 2×) starts an election; a leader that cannot reach a quorum for
	// LeaderLeaseTimeout steps down. Zero means the Default* value.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is how many log entries trigger a (cheap) snapshot
	// and log compaction; TrailingLogs how many entries are kept after it.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotInterval is how often Raft checks whether to snapshot.
	SnapshotInterval time.Duration
	// MaxBatch bounds the commands packed into one Raft entry.
	MaxBatch int
	// FSMCheckpointEvery is how many applied entries the state machine
	// commits without fsync before a checkpoint makes them durable
	// (raftfsm.Options; the Raft log is fsynced either way). Zero means
	// DefaultFSMCheckpointEvery; negative fsyncs every commit.
	FSMCheckpointEvery int
	// FSMCheckpointBytes makes a checkpoint due, too, once the state
	// machine's commits since the last one wrote this many bytes of pages
	// (raftfsm.Options.CheckpointBytes; zero: its default).
	FSMCheckpointBytes int64
	// MaxInFlight bounds the batches a batcher has outstanding at once
	// (serve's --propose-in-flight). While they are all in flight, new
	// proposals queue up and form the next, larger batch: that is the whole
	// group-commit mechanism. With one slot, a proposal at light load waits
	// for the round in flight before its own starts (a third to a half of
	// a forwarded write's time, measured in DESIGN.md "Where a write's time
	// goes"); with several, Raft's BatchApplyCh still puts the entries that
	// meet in its queue into one log write. Only one of them may be a large
	// batch (8+ proposals queued), so under load entries stay as large as
	// with one slot.
	MaxInFlight int
	// MaxRPCsInFlight is how many AppendEntries a leader keeps outstanding
	// per follower (Raft's pipelining; 1 turns it off).
	MaxRPCsInFlight int
	// CommitTimeout is how long the leader's replication to a follower may
	// sit idle before it sends an (empty) AppendEntries anyway, so the
	// follower learns the commit index (randomised up to 2×). A forwarded
	// write waits for its node to learn it. Zero means DefaultCommitTimeout.
	CommitTimeout time.Duration
	// LogCacheSize is how many recent Raft log entries are kept in memory,
	// so replication reads them without touching the log store. Zero means
	// DefaultLogCacheSize.
	LogCacheSize int
	// MaxCommandSize bounds one encoded command.
	MaxCommandSize int
	// ApplyTimeout bounds a proposal when the caller's context has no deadline.
	ApplyTimeout time.Duration

	// heldFromStart, tests only: the state machine applies nothing until
	// this channel is closed (applyHold, set before Raft starts).
	heldFromStart chan struct{}
	// JoinTimeout bounds the whole join procedure at start-up.
	JoinTimeout time.Duration
}

// Default Raft timeouts, for a LAN cluster (DESIGN.md, "Failure
// detection"): `waedge bench failover` measured kill -9 of the leader →
// next acknowledged write at a median of 0.80–0.85 s with these (1.40–1.44
// s with the earlier 700/700/350 ms), and `waedge bench accept --senders
// 512` saw no election on the shared 2-core machine at load average 12–19
// (two in one run at load 25). The lease equals the heartbeat timeout: a
// shorter lease (150 ms with a 300 ms heartbeat) made a CPU-starved
// leader step down under load.
const (
	DefaultHeartbeatTimeout = 350 * time.Millisecond
	// DefaultCommitTimeout: measured 9.6 ms → 5 ms per single-writer
	// forwarded request going from 5 ms to 1 ms; 2 ms keeps the idle
	// cluster's empty AppendEntries to a few hundred a second.
	DefaultCommitTimeout      = 2 * time.Millisecond
	DefaultElectionTimeout    = 350 * time.Millisecond
	DefaultLeaderLeaseTimeout = 350 * time.Millisecond
)

const (
	fileNodeID      = "node-id"
	fileAdminToken  = "admin.token"
	fileJoined      = "joined-with"
	fileJoinPending = "join-pending"
	fileBootstrap   = "bootstrap-pending"
	dirTLS          = "tls"
	fileCACert      = "ca.crt"
	fileNodeCert    = "node.crt"
	fileNodeKey     = "node.key"
	dirRaft         = "raft"
	fileRaftDB      = "raft.db"
	dirSnapshots    = "snapshots"
	fileFSM         = "fsm.db"
	fileMasterKey   = "master.key"
)

func (c *Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, fmt.Errorf("%w: data dir is required", ErrBadConfig)
	}
	if c.ClusterAddr == "" {
		c.ClusterAddr = "127.0.0.1:8081"
	}
	if _, _, err := net.SplitHostPort(c.ClusterAddr); err != nil {
		return c, fmt.Errorf("%w: cluster address %q: %v", ErrBadConfig, c.ClusterAddr, err)
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.ClusterAddr
	}
	host, port, err := net.SplitHostPort(c.AdvertiseAddr)
	if err != nil {
		return c, fmt.Errorf("%w: advertise address %q: %v", ErrBadConfig, c.AdvertiseAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) || port == "0" {
		return c, fmt.Errorf("%w: advertise address %q must name a reachable host and port (set --advertise-addr)", ErrBadConfig, c.AdvertiseAddr)
	}
	if len(c.Join) > 0 && c.JoinToken == "" {
		return c, fmt.Errorf("%w: --join needs --join-token", ErrBadConfig)
	}
	if c.MasterKey != nil && len(c.MasterKey) != 32 {
		return c, fmt.Errorf("%w: the master key must be 32 bytes", ErrBadConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	// Raft refuses these combinations at start; say which flag is wrong.
	if c.HeartbeatTimeout < 5*time.Millisecond || c.ElectionTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout < 5*time.Millisecond {
		return c, fmt.Errorf("%w: raft timeouts must be at least 5ms", ErrBadConfig)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return c, fmt.Errorf("%w: the raft election timeout (%v) must not be shorter than the heartbeat timeout (%v)", ErrBadConfig, c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return c, fmt.Errorf("%w: the raft lease timeout (%v) must not be longer than the heartbeat timeout (%v)", ErrBadConfig, c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	def(&c.SnapshotInterval, 30*time.Second)
	def(&c.ApplyTimeout, 10*time.Second)
	def(&c.JoinTimeout, 60*time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 16384
	}
	if c.FSMCheckpointEvery == 0 {
		c.FSMCheckpointEvery = DefaultFSMCheckpointEvery
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1024
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxRPCsInFlight <= 0 {
		c.MaxRPCsInFlight = DefaultMaxRPCsInFlight
	}
	def(&c.CommitTimeout, DefaultCommitTimeout)
	if c.LogCacheSize <= 0 {
		c.LogCacheSize = DefaultLogCacheSize
	}
	if c.MaxCommandSize <= 0 {
		c.MaxCommandSize = 1 << 20
	}
	return c, nil
}
