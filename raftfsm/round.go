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

// CmdSignalRoundV2 is CmdSignalRound in the binary encoding of the hot
// commands (EncodeSignalRound, wire.go): every replica decodes every round,
// and msgpack's reflection was a fifth of the round's apply. The leader's
// connector proposes this type; CmdSignalRound still applies (logs written
// before, and leaders of an older version during a rolling upgrade).
const CmdSignalRoundV2 CommandType = 105

func (f *FSM) applySignalRound(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SignalRound
	decode(payload, &c)
	return f.applyRound(tx, &c), nil
}

func (f *FSM) applySignalRoundV2(tx *bolt.Tx, payload []byte) ([]byte, error) {
	c := mustDecodeHot(payload, DecodeSignalRound)
	return f.applyRound(tx, &c), nil
}

// applyRound applies every part of a round on its own and returns one
// outcome code per part, commits first.
func (f *FSM) applyRound(tx *bolt.Tx, c *SignalRound) []byte {
	out := make([]byte, 0, 2*c.Parts())
	for i := range c.Commits {
		out = binary.BigEndian.AppendUint16(out, ErrorCode(f.signalCommit(tx, &c.Commits[i])))
	}
	for i := range c.Statuses {
		out = binary.BigEndian.AppendUint16(out, ErrorCode(f.messageStatuses(&c.Statuses[i])))
	}
	return out
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

// EncodeSignalRound encodes c as a CmdSignalRoundV2 command: a count and
// each commit, then a count and each status batch (the body of
// EncodeMessageStatuses).
func EncodeSignalRound(c SignalRound) []byte {
	n := 2 * binary.MaxVarintLen64
	for i := range c.Commits {
		n += signalCommitLen(&c.Commits[i])
	}
	for i := range c.Statuses {
		n += messageStatusesLen(&c.Statuses[i])
	}
	w := newCommand(CmdSignalRoundV2, n)
	w.uvarint(uint64(len(c.Commits)))
	for i := range c.Commits {
		encodeSignalCommit(&w, &c.Commits[i])
	}
	w.uvarint(uint64(len(c.Statuses)))
	for i := range c.Statuses {
		encodeStatusesBody(&w, &c.Statuses[i])
	}
	return w.b
}

// DecodeSignalRound decodes a CmdSignalRoundV2 payload.
func DecodeSignalRound(payload []byte) (SignalRound, error) {
	var c SignalRound
	r := rbuf{b: payload}
	checkHotVersion(&r)
	// A commit is at least 7 bytes (an empty phone id, four empty lists,
	// no inbound, an empty hash); a status batch at least 4.
	if n := r.count(7); n > 0 {
		c.Commits = make([]SignalCommit, n)
		for i := range c.Commits {
			decodeSignalCommit(&r, &c.Commits[i])
		}
	}
	if n := r.count(4); n > 0 {
		c.Statuses = make([]MessageStatuses, n)
		for i := range c.Statuses {
			decodeStatusesBody(&r, &c.Statuses[i])
		}
	}
	return c, r.end()
}

func signalCommitLen(c *SignalCommit) int {
	n := fieldsLen(2, len(c.PhoneNumberID)+len(c.InboundHash)) + 5*binary.MaxVarintLen64 + 1
	for _, e := range c.Expect {
		n += fieldsLen(1, len(e.Key)) + binary.MaxVarintLen64
	}
	for _, w := range c.Writes {
		n += fieldsLen(2, len(w.Key)+len(w.Value)) + 1
	}
	for _, o := range c.Outbound {
		n += fieldsLen(2, len(o.MessageKey)+len(o.Sealed))
	}
	if in := c.Inbound; in != nil {
		n += fieldsLen(9, len(in.Key)+len(in.IDRef)+len(in.IDSealed)+len(in.PhoneNumberID)+len(in.PeerRef)+
			len(in.PeerSealed)+len(in.Type)+len(in.Content)+len(in.NetworkID)) + binary.MaxVarintLen64 + 1
		if in.Event != nil {
			n += outboxEventLen(in.Event)
		}
	}
	for i := range c.Failed {
		n += statusUpdateLen(&c.Failed[i])
	}
	return n
}

func encodeSignalCommit(w *wbuf, c *SignalCommit) {
	w.str(c.PhoneNumberID)
	w.uvarint(uint64(len(c.Expect)))
	for _, e := range c.Expect {
		w.str(e.Key)
		w.uvarint(e.Version)
	}
	w.uvarint(uint64(len(c.Writes)))
	for _, x := range c.Writes {
		w.str(x.Key)
		w.bytes(x.Value)
		w.byte1(boolByte(x.Delete))
	}
	w.uvarint(uint64(len(c.Outbound)))
	for _, o := range c.Outbound {
		w.bytes(o.MessageKey)
		w.bytes(o.Sealed)
	}
	if in := c.Inbound; in == nil {
		w.byte1(0)
	} else {
		w.byte1(1)
		w.bytes(in.Key)
		w.str(in.IDRef)
		w.bytes(in.IDSealed)
		w.str(in.PhoneNumberID)
		w.str(in.PeerRef)
		w.bytes(in.PeerSealed)
		w.str(in.Type)
		w.bytes(in.Content)
		w.varint(in.ReceivedAt)
		w.str(in.NetworkID)
		encodeOptionalEvent(w, in.Event)
	}
	w.bytes(c.InboundHash)
	w.uvarint(uint64(len(c.Failed)))
	for i := range c.Failed {
		encodeStatusUpdate(w, &c.Failed[i])
	}
}

func decodeSignalCommit(r *rbuf, c *SignalCommit) {
	c.PhoneNumberID = r.str()
	if n := r.count(2); n > 0 { // an empty key and version 0
		c.Expect = make([]SignalExpect, n)
		for i := range c.Expect {
			c.Expect[i].Key = r.str()
			c.Expect[i].Version = r.uvarint()
		}
	}
	if n := r.count(3); n > 0 { // an empty key and value, a flag
		c.Writes = make([]SignalWrite, n)
		for i := range c.Writes {
			x := &c.Writes[i]
			x.Key = r.str()
			x.Value = r.bytes()
			x.Delete = r.flag()
		}
	}
	if n := r.count(2); n > 0 {
		c.Outbound = make([]OutboundEnvelope, n)
		for i := range c.Outbound {
			c.Outbound[i].MessageKey = r.bytes()
			c.Outbound[i].Sealed = r.bytes()
		}
	}
	if r.flag() {
		in := &RecordInbound{}
		in.Key = r.bytes()
		in.IDRef = r.str()
		in.IDSealed = r.bytes()
		in.PhoneNumberID = r.str()
		in.PeerRef = r.str()
		in.PeerSealed = r.bytes()
		in.Type = r.str()
		in.Content = r.bytes()
		in.ReceivedAt = r.varint()
		in.NetworkID = r.str()
		in.Event = decodeOptionalEvent(r)
		c.Inbound = in
	}
	c.InboundHash = r.bytes()
	if n := r.count(4); n > 0 {
		c.Failed = make([]StatusUpdate, n)
		for i := range c.Failed {
			decodeStatusUpdate(r, &c.Failed[i])
		}
	}
}
