package node

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestCleanStopSnapshotsForTheNextStart: a clean stop takes a Raft
// snapshot at what the node applied, so its next start reads no log entry
// to rebuild the configuration (raft.NewRaft decodes every entry after
// the last snapshot, a whole batch each: seconds on a loaded node).
// Without it the node restarts with no snapshot at all here (the
// threshold is far above the writes made).
func TestCleanStopSnapshotsForTheNextStart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n := startNode(t, cfg)
	waitFor(t, "ready", 10*time.Second, n.Ready)
	for k := 0; k < 30; k++ {
		mustPropose(t, n, putValue(t, fmt.Sprintf("k%d", k), "v"))
	}
	last := n.raft.LastIndex()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !raftLogKeepsFreelist(t, cfg.path(dirRaft, fileRaftDB)) {
		t.Fatal("the stopped node's Raft log names no free list: its next open walks the whole file")
	}
	m := startNode(t, cfg)
	snap, err := strconv.ParseUint(m.raft.Stats()["last_snapshot_index"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if snap < last {
		t.Fatalf("restarted with its last snapshot at %d, below the %d entries it held at the stop: the start reads %d entries",
			snap, last, last-snap)
	}
	waitFor(t, "ready after the restart", 10*time.Second, m.Ready)
	if v, err := m.FSM().ClusterValue("k29"); err != nil || string(v) != "v" {
		t.Fatalf("write lost across the restart: %q %v", v, err)
	}
}

// raftLogKeepsFreelist reports whether the newest meta page of the bbolt
// file at path names a free-list page (bbolt's meta: magic at 0, page
// size at 8, free list at 32, txid at 48, after a 16-byte page header).
func raftLogKeepsFreelist(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := func(off int) (txid, freelist uint64, ok bool) {
		if off+16+64 > len(b) || binary.LittleEndian.Uint32(b[off+16:]) != 0xED0CDAED {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[off+16+48:]), binary.LittleEndian.Uint64(b[off+16+32:]), true
	}
	if len(b) < 16+12 {
		t.Fatalf("%s: too short", path)
	}
	pageSize := int(binary.LittleEndian.Uint32(b[16+8:]))
	t0, f0, ok0 := meta(0)
	t1, f1, ok1 := meta(pageSize)
	if !ok0 && !ok1 {
		t.Fatalf("%s: no meta page", path)
	}
	if !ok0 || (ok1 && t1 > t0) {
		return f1 != ^uint64(0)
	}
	return f0 != ^uint64(0)
}
