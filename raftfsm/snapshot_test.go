package raftfsm

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/internal/poll"
)

func openStore(t testing.TB, f *FSM) *SnapshotStore {
	t.Helper()
	s, err := NewSnapshotStore(t.TempDir(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// countingSink records how many bytes Persist writes.
type countingSink struct {
	raft.SnapshotSink
	n int
}

func (c *countingSink) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.SnapshotSink.Write(p)
}

// wrapper imitates raft's countingReadCloser around a snapshot reader.
type wrapper struct{ io.ReadCloser }

func (w wrapper) WrappedReadCloser() io.ReadCloser { return w.ReadCloser }

var _ raft.ReadCloserWrapper = wrapper{}

// takeSnapshot does what raft does at compaction time.
func takeSnapshot(t testing.TB, f *FSM, s *SnapshotStore) *raft.SnapshotMeta {
	t.Helper()
	idx, term := f.AppliedIndex()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink, err := s.Create(raft.SnapshotVersionMax, idx, term, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSink{SnapshotSink: sink}
	if err := snap.Persist(cs); err != nil {
		t.Fatal(err)
	}
	if cs.n != 0 {
		t.Fatalf("Persist copied %d bytes", cs.n)
	}
	metas, err := s.List()
	if err != nil || len(metas) != 1 || metas[0].ID != sink.ID() || metas[0].Index != idx {
		t.Fatalf("list after snapshot: %+v, %v", metas, err)
	}
	return metas[0]
}

// readSnapshot opens a snapshot and reads it whole, checking its size.
func readSnapshot(t testing.TB, s *SnapshotStore, id string) (*raft.SnapshotMeta, []byte) {
	t.Helper()
	meta, rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil || int64(len(data)) != meta.Size {
		t.Fatalf("read %d bytes, meta says %d (%v)", len(data), meta.Size, err)
	}
	return meta, data
}

// install does what a follower's raft does with InstallSnapshot: write the
// data into a sink of its own store, then restore the FSM from Open.
func install(t testing.TB, dst *FSM, dstore *SnapshotStore, meta *raft.SnapshotMeta, data []byte) string {
	t.Helper()
	sink, err := dstore.Create(raft.SnapshotVersionMax, meta.Index, meta.Term, meta.Configuration, meta.ConfigurationIndex, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(sink, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dstore.dir, sink.ID()+".db")); err != nil {
		t.Fatal("installed snapshot has no data file:", err)
	}
	_, rc, err := dstore.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(wrapper{rc}); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func TestSnapshotPersistCopiesNothing(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch(testLog(t))
	s := openStore(t, f)
	meta := takeSnapshot(t, f, s)
	if meta.Size != 0 {
		t.Fatalf("live snapshot metadata size %d", meta.Size)
	}
	files, _ := filepath.Glob(filepath.Join(s.dir, "*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], ".meta") {
		t.Fatalf("snapshot files %v, want only metadata", files)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := openFSM(t)
	src.ApplyBatch(testLog(t))
	store := openStore(t, src)
	meta, data := readSnapshot(t, store, takeSnapshot(t, src, store).ID)

	t.Run("stream restored directly", func(t *testing.T) {
		dst := openFSM(t)
		if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			t.Fatal(err)
		}
		if dumpOf(t, dst) != dumpOf(t, src) {
			t.Fatal("restored state differs")
		}
	})

	t.Run("installed through the follower's store", func(t *testing.T) {
		dst := openFSM(t)
		dst.Apply(entry(1, tenantCmd(t, 99, "+15559999999"))) // state to be replaced
		dstore := openStore(t, dst)
		id := install(t, dst, dstore, meta, data)
		if dumpOf(t, dst) != dumpOf(t, src) {
			t.Fatal("restored state differs")
		}
		si, st := src.AppliedIndex()
		if di, dt := dst.AppliedIndex(); di != si || dt != st {
			t.Fatalf("restored applied index %d/%d, want %d/%d", di, dt, si, st)
		}
		// The installed file was moved into place, not copied, and the
		// snapshot is now served from the live database.
		if _, err := os.Stat(filepath.Join(dstore.dir, id+".db")); !os.IsNotExist(err) {
			t.Fatalf("installed file still in the store: %v", err)
		}
		if metas, err := dstore.List(); err != nil || len(metas) != 1 || metas[0].ID != id || metas[0].Index != meta.Index {
			t.Fatalf("list after restore: %+v, %v", metas, err)
		}
		_, again := readSnapshot(t, dstore, id)
		third := openFSM(t)
		if err := third.Restore(io.NopCloser(bytes.NewReader(again))); err != nil {
			t.Fatal(err)
		}
		if dumpOf(t, third) != dumpOf(t, src) {
			t.Fatal("snapshot served after restore differs")
		}
		// The restored FSM keeps working.
		next, _ := dst.AppliedIndex()
		if r := results(t, dst.Apply(entry(next+1, tenantCmd(t, 99, "+15559999999"))))[0]; r.Err != nil {
			t.Fatal(r.Err)
		}
	})
}

// TestSnapshotNewerThanMeta: the live stream carries entries applied after
// the snapshot was taken; the follower replays the log from the snapshot
// index and must skip those.
func TestSnapshotNewerThanMeta(t *testing.T) {
	logs := testLog(t)
	src := openFSM(t)
	store := openStore(t, src)
	src.ApplyBatch(logs[:10])
	meta := takeSnapshot(t, src, store)
	src.ApplyBatch(logs[10:])
	_, data := readSnapshot(t, store, meta.ID)

	dst := openFSM(t)
	install(t, dst, openStore(t, dst), meta, data)
	if idx, _ := dst.AppliedIndex(); idx != uint64(len(logs)) {
		t.Fatalf("restored applied index %d, want %d", idx, len(logs))
	}
	for i, r := range dst.ApplyBatch(logs[meta.Index:]) {
		if r != nil {
			t.Fatalf("entry %d applied twice: %v", int(meta.Index)+i+1, r)
		}
	}
	if dumpOf(t, dst) != dumpOf(t, src) {
		t.Fatal("state differs after replay")
	}
}

func TestRestoreFailureKeepsState(t *testing.T) {
	f := openFSM(t)
	f.ApplyBatch(testLog(t))
	before := dumpOf(t, f)
	check := func(t *testing.T) {
		t.Helper()
		if dumpOf(t, f) != before {
			t.Fatal("failed restore changed state")
		}
		next, _ := f.AppliedIndex()
		if rs := results(t, f.Apply(entry(next+1, cmd(t, CmdNoop, nil)))); len(rs) != 1 {
			t.Fatal("FSM unusable after failed restore")
		}
		before = dumpOf(t, f)
		if leftovers, _ := filepath.Glob(f.path + ".*"); len(leftovers) != 0 {
			t.Fatalf("leftover files %v", leftovers)
		}
	}
	t.Run("corrupt stream", func(t *testing.T) {
		if err := f.Restore(io.NopCloser(strings.NewReader("not a database"))); err == nil {
			t.Fatal("corrupt snapshot accepted")
		}
		check(t)
	})
	t.Run("broken stream", func(t *testing.T) {
		if err := f.Restore(io.NopCloser(io.MultiReader(strings.NewReader("x"), errReader{}))); err == nil {
			t.Fatal("broken stream accepted")
		}
		check(t)
	})
	t.Run("corrupt installed file", func(t *testing.T) {
		s := openStore(t, f)
		sink, _ := s.Create(raft.SnapshotVersionMax, 5, 1, raft.Configuration{}, 1, nil)
		if _, err := sink.Write([]byte("garbage")); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		_, rc, err := s.Open(sink.ID())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Restore(wrapper{rc}); err == nil {
			t.Fatal("corrupt installed snapshot accepted")
		}
		check(t)
		if _, err := os.Stat(filepath.Join(s.dir, sink.ID()+".db")); err != nil {
			t.Fatal("failed restore lost the installed file:", err)
		}
	})
	t.Run("closed FSM", func(t *testing.T) {
		g := openFSM(t)
		var buf bytes.Buffer
		if _, err := f.Backup(&buf); err != nil {
			t.Fatal(err)
		}
		g.Close()
		if err := g.Restore(io.NopCloser(&buf)); err == nil {
			t.Fatal("restore into a closed FSM succeeded")
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("connection reset") }

func TestSnapshotStoreKeepsNewest(t *testing.T) {
	f := openFSM(t)
	dir := t.TempDir()
	s, err := NewSnapshotStore(dir, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := uint64(1); i <= 3; i++ {
		f.Apply(entry(i, cmd(t, CmdNoop, nil)))
		ids = append(ids, takeSnapshot(t, f, s).ID)
	}
	// An installed snapshot replaces the live one, and vice versa.
	sink, _ := s.Create(raft.SnapshotVersionMax, 9, 2, raft.Configuration{}, 1, nil)
	sink.Write([]byte("data"))
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 2 {
		t.Fatalf("files %v, want the newest snapshot's .db and .meta", files)
	}
	metas, _ := s.List()
	if len(metas) != 1 || metas[0].ID != sink.ID() || metas[0].Size != 4 {
		t.Fatalf("list %+v", metas)
	}

	// A cancelled sink leaves nothing.
	c, _ := s.Create(raft.SnapshotVersionMax, 10, 2, raft.Configuration{}, 1, nil)
	c.Write([]byte("partial"))
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "*")); len(got) != 2 {
		t.Fatalf("after cancel: %v", got)
	}

	// Leftovers of a crash are reaped when the store opens: temp files,
	// older snapshots, data without metadata.
	for _, name := range []string{"2-10-1.tmp", "1-1-1.meta", "1-1-1.db", "7-7-7.db", ids[0] + ".meta.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "1-1-1.meta"), []byte(`{"ID":"1-1-1","Index":1,"Term":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := NewSnapshotStore(dir, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(got) != 2 {
		t.Fatalf("after reopen: %v", got)
	}
	metas, _ = s2.List()
	if len(metas) != 1 || metas[0].ID != sink.ID() {
		t.Fatalf("list after reopen %+v", metas)
	}
	if _, _, err := s2.Open(ids[0]); err == nil {
		t.Fatal("opened a reaped snapshot")
	}
	if _, _, err := s2.Open("../x"); err == nil {
		t.Fatal("opened a path outside the store")
	}
	if _, err := s2.Create(raft.SnapshotVersionMax+1, 1, 1, raft.Configuration{}, 1, nil); err == nil {
		t.Fatal("accepted an unknown snapshot version")
	}
}

// TestRaftInstallSnapshot runs two real Raft nodes over an in-memory
// transport: the leader compacts its log into a live snapshot, then a new
// follower can only catch up through InstallSnapshot, which raft feeds to
// Restore through its own reader wrappers.
func TestRaftInstallSnapshot(t *testing.T) {
	type node struct {
		id    raft.ServerID
		addr  raft.ServerAddress
		trans *raft.InmemTransport
		fsm   *FSM
		store *SnapshotStore
		r     *raft.Raft
	}
	newNode := func(id string) *node {
		n := &node{id: raft.ServerID(id)}
		n.addr, n.trans = raft.NewInmemTransport(raft.ServerAddress(id))
		n.fsm = openFSM(t)
		n.store = openStore(t, n.fsm)
		return n
	}
	start := func(n *node) {
		c := raft.DefaultConfig()
		c.LocalID = n.id
		// Generous: on a loaded machine a 50 ms lease made the leader step
		// down while adding the second voter ("node is not the leader").
		c.HeartbeatTimeout = time.Second
		c.ElectionTimeout = time.Second
		c.LeaderLeaseTimeout = 500 * time.Millisecond
		c.CommitTimeout = 5 * time.Millisecond
		c.TrailingLogs = 1
		c.SnapshotThreshold = 1 << 30 // only explicit snapshots
		c.NoSnapshotRestoreOnStart = true
		c.BatchApplyCh = true
		c.Logger = hclog.NewNullLogger()
		logs := raft.NewInmemStore()
		r, err := raft.NewRaft(c, n.fsm, logs, logs, n.store, n.trans)
		if err != nil {
			t.Fatal(err)
		}
		n.r = r
		t.Cleanup(func() { _ = r.Shutdown().Error() })
	}
	a, b := newNode("a"), newNode("b")
	a.trans.Connect(b.addr, b.trans)
	b.trans.Connect(a.addr, a.trans)
	start(a)
	if err := a.r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: a.id, Address: a.addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "leadership", func() bool { return a.r.State() == raft.Leader })

	for i := 1; i <= 20; i++ {
		fut := a.r.Apply(EncodeEntry([][]byte{tenantCmd(t, i, fmt.Sprintf("+1555%07d", i)), tenantCmd(t, i+100, fmt.Sprintf("+1555%07d", i))}), 0)
		if err := fut.Error(); err != nil {
			t.Fatal(err)
		}
		rs := results(t, fut.Response())
		if len(rs) != 2 || rs[0].Err != nil || rs[1].Err == nil {
			t.Fatalf("entry %d results %+v", i, rs)
		}
	}
	if err := a.r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(a.store.dir, "*.db")); len(files) != 0 {
		t.Fatalf("compaction copied the database: %v", files)
	}

	start(b)
	if err := a.r.AddVoter(b.id, b.addr, 0, 0).Error(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"after-join-1", "after-join-2"} {
		if err := a.r.Apply(EncodeEntry([][]byte{cmd(t, CmdPutClusterValue, PutClusterValue{Key: v, Value: []byte(v)})}), 0).Error(); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := a.fsm.AppliedIndex()
	waitFor(t, "follower catching up", func() bool { i, _ := b.fsm.AppliedIndex(); return i >= want })
	if dumpOf(t, a.fsm) != dumpOf(t, b.fsm) {
		t.Fatal("follower state differs from leader's")
	}
	// The follower did install a snapshot (its store holds one), and moved
	// it into place instead of keeping a second copy.
	metas, err := b.store.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("follower snapshots %+v, %v", metas, err)
	}
	if files, _ := filepath.Glob(filepath.Join(b.store.dir, "*.db")); len(files) != 0 {
		t.Fatalf("follower kept the installed copy: %v", files)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, 10*time.Second, cond)
}
