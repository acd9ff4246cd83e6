package raftfsm

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// CmdSignalRound commits one round of the leader's connector in one
// command (issue 12, item 4): every Signal operation the round finished
// (sessions advanced with their envelopes, decrypted inbound messages with
// their webhook events, messages that failed) and every status batch (sent,
// delivered, read, read receipts done). Each part is applied on its own,
// all or nothing, in order; the command's value carries each part's
// outcome (RoundOutcomes), so one stale session does not refuse the round.
const CmdSignalRound CommandType = 74

// SignalRound is the payload of CmdSignalRound. The proposer puts at most
// one operation per (number, consumer) pair in a round (that pair's lock
// is held until the round's outcome is known).
type SignalRound struct {
	Commits  []SignalCommit
	Statuses []MessageStatuses
}

// Parts is the number of outcomes the round's value carries.
func (c *SignalRound) Parts() int { return len(c.Commits) + len(c.Statuses) }

func (f *FSM) applySignalRound(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SignalRound
	decode(payload, &c)
	out := make([]byte, 0, 2*c.Parts())
	for i := range c.Commits {
		out = binary.BigEndian.AppendUint16(out, ErrorCode(f.signalCommit(tx, &c.Commits[i])))
	}
	for i := range c.Statuses {
		out = binary.BigEndian.AppendUint16(out, ErrorCode(f.messageStatuses(&c.Statuses[i])))
	}
	return out, nil
}

// RoundOutcomes decodes a CmdSignalRound value into one error per part of
// a round of parts parts (commits first, then status batches): nil, or the
// domain sentinel the part was refused with.
func RoundOutcomes(value []byte, parts int) ([]error, error) {
	if len(value) != 2*parts {
		return nil, fmt.Errorf("%w: round result of %d bytes for %d parts", ErrCorrupt, len(value), parts)
	}
	out := make([]error, parts)
	for i := range out {
		out[i] = ErrorFromCode(binary.BigEndian.Uint16(value[2*i:]), "")
	}
	return out, nil
}
