package connector

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

func pendKey(ns int64, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k[:8], uint64(ns))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// TestPendingScanResumes: the first scan walks from the oldest key; later
// ones resume pendingLookback before the last key walked; a released
// claim, or fullScanEvery passing, brings a walk from the oldest again
// (so released messages, and ones committed later than the lookback
// covers, are found).
func TestPendingScanResumes(t *testing.T) {
	r := &run{inflight: map[string]time.Time{}}
	t0 := time.Unix(1000, 0)
	if from := r.pendingStart(t0); from != nil {
		t.Fatalf("first scan starts at %x, want the oldest", from)
	}
	last := int64(50 * time.Second)
	r.pendFrom = pendKey(last, 7)
	from := r.pendingStart(t0.Add(time.Millisecond))
	if want := pendKey(last-int64(pendingLookback), 0); !bytes.Equal(from, want) {
		t.Fatalf("resumed at %x, want %x", from, want)
	}
	r.release([]byte("some key"))
	if from := r.pendingStart(t0.Add(2 * time.Millisecond)); from != nil {
		t.Fatalf("after a release the scan starts at %x, want the oldest", from)
	}
	if from := r.pendingStart(t0.Add(3 * time.Millisecond)); from == nil {
		t.Fatal("a second scan after the release walked from the oldest again")
	}
	r.forget([]byte("an envelope the network took"))
	if from := r.pendingStart(t0.Add(4 * time.Millisecond)); from == nil {
		t.Fatal("forgetting a claim that left its queue brought a full walk")
	}
	if from := r.pendingStart(t0.Add(2*time.Millisecond + fullScanEvery)); from != nil {
		t.Fatalf("after fullScanEvery the scan starts at %x, want the oldest", from)
	}
	// A key near the epoch does not wrap around.
	r.pendFrom = pendKey(int64(time.Millisecond), 1)
	if from := r.pendingStart(t0.Add(3 * time.Millisecond)); !bytes.Equal(from, pendKey(0, 0)) {
		t.Fatalf("resumed at %x, want zero", from)
	}
}
