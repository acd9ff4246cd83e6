package raftfsm

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Cluster-wide sign-in lockout of console users (issue 13). Every sign-in
// attempt is counted through Raft before its password is checked, so an
// attacker who sprays every node of a cluster gets no more guesses than
// one who keeps to one node, and parallel attempts cannot overtake the
// count. Storage is bounded by the console users: a record is kept only
// for an existing user, keyed by user id (never by what was typed), and
// is deleted by the next successful sign-in.

// bucketConsoleFailures: console user id → failures BE32 | last attempt
// BE64 | locked until BE64 (unix ms).
var bucketConsoleFailures = []byte("console_failures")

// CmdConsoleSignInAttempt counts a sign-in attempt against a console user
// before its password is checked; CmdConsoleSignInCleared clears the
// count after the right password. Both are ignorable: an older binary
// skips them (and then counts nothing, as it did before).
const (
	CmdConsoleSignInAttempt = FlagIgnorable | 115
	CmdConsoleSignInCleared = FlagIgnorable | 116
)

// ConsoleSignInAttempt is the payload of CmdConsoleSignInAttempt. The
// proposer resolved the typed name to UserID (empty for an unknown name:
// the command then changes nothing, but costs the same round trip, so the
// answer's timing does not tell which names exist) and decides the policy:
// Max attempts without a success within Window ms are admitted, the next
// one locks the user until At + LockFor.
type ConsoleSignInAttempt struct {
	UserID  string
	At      int64 // unix ms, proposer's clock
	Max     uint32
	Window  int64 // ms: an attempt older than this no longer counts
	LockFor int64 // ms
}

// ConsoleSignInCleared is the payload of CmdConsoleSignInCleared.
type ConsoleSignInCleared struct{ UserID string }

// ConsoleLockState is a console user's sign-in count.
type ConsoleLockState struct {
	Attempts    uint32 // unsuccessful (or not yet decided) attempts in a row
	LastAt      int64  // unix ms of the latest attempt
	LockedUntil int64  // unix ms; 0 or past: not locked
}

func encodeLockState(s ConsoleLockState) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint32(b, s.Attempts)
	binary.BigEndian.PutUint64(b[4:], uint64(s.LastAt))
	binary.BigEndian.PutUint64(b[12:], uint64(s.LockedUntil))
	return b
}

func decodeLockState(b []byte) (ConsoleLockState, bool) {
	if len(b) != 20 {
		return ConsoleLockState{}, false
	}
	return ConsoleLockState{Attempts: binary.BigEndian.Uint32(b), LastAt: int64(beUint64(b[4:])),
		LockedUntil: int64(beUint64(b[12:]))}, true
}

// applyConsoleSignInAttempt admits or refuses one attempt. The result's
// Value is empty when the attempt is admitted, or the BE64 unix ms until
// which the user is locked when it is refused.
func (f *FSM) applyConsoleSignInAttempt(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleSignInAttempt
	decode(payload, &c)
	if c.UserID == "" || tx.Bucket(bucketConsoleUsers).Get([]byte(c.UserID)) == nil {
		return nil, nil // unknown name: nothing to count
	}
	if c.Max == 0 || c.Window <= 0 || c.LockFor <= 0 {
		return nil, domainErr(ErrInvalid, "sign-in attempt needs a limit, a window and a lock time")
	}
	b := tx.Bucket(bucketConsoleFailures)
	s, _ := decodeLockState(b.Get([]byte(c.UserID)))
	if s.LockedUntil > c.At {
		return be64(s.LockedUntil), nil
	}
	if s.LastAt < c.At-c.Window || s.LockedUntil != 0 {
		s = ConsoleLockState{} // stale, or a lock that has run out: start afresh
	}
	if s.Attempts >= c.Max {
		s = ConsoleLockState{LastAt: c.At, LockedUntil: c.At + c.LockFor}
		mustPut(tx, bucketConsoleFailures, []byte(c.UserID), encodeLockState(s))
		return be64(s.LockedUntil), nil
	}
	s.Attempts++
	s.LastAt = c.At
	mustPut(tx, bucketConsoleFailures, []byte(c.UserID), encodeLockState(s))
	return nil, nil
}

func (f *FSM) applyConsoleSignInCleared(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsoleSignInCleared
	decode(payload, &c)
	if tx.Bucket(bucketConsoleFailures).Get([]byte(c.UserID)) != nil {
		mustDelete(tx, bucketConsoleFailures, []byte(c.UserID))
	}
	return nil, nil
}

// ConsoleLock returns a console user's sign-in count (zero when none).
func (f *FSM) ConsoleLock(userID string) (ConsoleLockState, error) {
	var s ConsoleLockState
	err := f.View(func(tx *bolt.Tx) error {
		s, _ = decodeLockState(tx.Bucket(bucketConsoleFailures).Get([]byte(userID)))
		return nil
	})
	return s, err
}
