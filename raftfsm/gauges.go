package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Gauges is a point-in-time summary of the state machine for monitoring:
// sizes and counts only, never a key or a value.
type Gauges struct {
	// Bytes is the database file's size as of the read transaction.
	Bytes int64
	// Keys is the number of keys of each top-level bucket, by bucket name.
	Keys map[string]int
	// Sessions is the number of Signal sessions (one per business number
	// and consumer).
	Sessions int
	// OutboxDepth is the number of webhook events not yet delivered.
	OutboxDepth int
	// NetworkQueue is the number of outbound messages accepted and not yet
	// handed to the network: not yet encrypted, or encrypted and not yet
	// accepted by it.
	NetworkQueue int
}

var sessionsSegment = []byte("\x00sessions\x00")

// Gauges reads the summary in one read transaction. It walks every bucket,
// so callers cache it (package metrics does).
func (f *FSM) Gauges() (Gauges, error) {
	g := Gauges{Keys: map[string]int{}}
	err := f.View(func(tx *bolt.Tx) error {
		g.Bytes = tx.Size()
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := b.Stats().KeyN
			g.Keys[string(name)] = n
			switch {
			case bytes.Equal(name, bucketOutbox):
				g.OutboxDepth = n
			case bytes.Equal(name, bucketSignalPending), bytes.Equal(name, bucketSignalEnvelopes):
				g.NetworkQueue += n
			case bytes.Equal(name, bucketSignal):
				g.Sessions = countSessions(b)
			}
			return nil
		})
	})
	return g, err
}

// countSessions counts the keys "phone id 0 sessions 0 consumer ref" of
// bucketSignal.
func countSessions(b *bolt.Bucket) int {
	n := 0
	_ = b.ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 && bytes.HasPrefix(k[i:], sessionsSegment) {
			n++
		}
		return nil
	})
	return n
}
