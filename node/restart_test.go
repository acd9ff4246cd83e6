package node

import (
	"fmt"
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
