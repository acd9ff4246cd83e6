package raftfsm

import (
	"errors"
	"testing"
)

// signalFixture is an FSM with one tenant (phone 3001) and one accepted
// outbound message (key k1, wamid "w1") to consumer 4915100000001.
func signalFixture(t *testing.T) (*applier, []byte) {
	t.Helper()
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	k1 := make([]byte, 16)
	k1[15] = 1
	a.mustApply(cmd(t, CmdRecordInbound, RecordInbound{Key: append(make([]byte, 15), 9), IDRef: MessageIDRef("in1"), PhoneNumberID: "3001",
		PeerRef: "ref1", Type: "text", ReceivedAt: 1000}))
	a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: k1, IDRef: MessageIDRef("w1"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref1", Type: "text", Content: []byte("sealed"), CreatedAt: 2000}))
	return a, k1
}

func TestSignalCommitCompareAndSet(t *testing.T) {
	a, _ := signalFixture(t)
	put := func(expect uint64, v string) Result {
		return a.apply(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001",
			Expect: []SignalExpect{{Key: "sessions\x00ref:1", Version: expect}},
			Writes: []SignalWrite{{Key: "sessions\x00ref:1", Value: []byte(v)}}}))
	}
	if r := put(0, "one"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if v, ver, _ := a.f.SignalRecord("3001", "sessions\x00ref:1"); string(v) != "one" || ver != 1 {
		t.Fatalf("after first write: %q v%d", v, ver)
	}
	// A commit built on the old version (a stale read) changes nothing.
	before := stateOf(t, a.f)
	if r := put(0, "stale"); !errors.Is(r.Err, ErrVersion) {
		t.Fatalf("stale commit: %v", r.Err)
	}
	if stateOf(t, a.f) != before {
		t.Fatal("a refused commit changed the state")
	}
	if r := put(1, "two"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if v, ver, _ := a.f.SignalRecord("3001", "sessions\x00ref:1"); string(v) != "two" || ver != 2 {
		t.Fatalf("after second write: %q v%d", v, ver)
	}
	// Namespaces are per number.
	if v, _, _ := a.f.SignalRecord("3002", "sessions\x00ref:1"); v != nil {
		t.Fatal("another number sees the record")
	}
	var keys []string
	_ = a.f.SignalForEach("3001", "sessions\x00", func(k string, _ []byte, _ uint64) error {
		keys = append(keys, k)
		return nil
	})
	if len(keys) != 1 || keys[0] != "sessions\x00ref:1" {
		t.Fatalf("keys %q", keys)
	}
}

func TestSignalCommitOutboundIsAllOrNothing(t *testing.T) {
	a, k1 := signalFixture(t)
	pending, _ := a.f.PendingOutbound(nil, 10)
	if p, _ := a.f.PendingOutbound(func(k []byte) bool { return string(k) == string(k1) }, 10); len(p) != 0 {
		t.Fatal("skipped key returned")
	}
	if len(pending) != 1 || string(pending[0].Key) != string(k1) || pending[0].Message.IDRef != MessageIDRef("w1") {
		t.Fatalf("pending %+v", pending)
	}
	// The session write and the envelope go together; a failing version
	// check keeps the message pending and stores no envelope.
	bad := SignalCommit{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00r:1", Version: 7}},
		Writes:   []SignalWrite{{Key: "sessions\x00r:1", Value: []byte("s")}},
		Outbound: []OutboundEnvelope{{MessageKey: k1, Sealed: []byte("env")}}}
	if r := a.apply(cmd(t, CmdSignalCommit, bad)); !errors.Is(r.Err, ErrVersion) {
		t.Fatalf("bad commit: %v", r.Err)
	}
	if env, _ := a.f.StoredEnvelopes(nil, 10); len(env) != 0 {
		t.Fatal("envelope stored by a refused commit")
	}
	good := bad
	good.Expect = []SignalExpect{{Key: "sessions\x00r:1", Version: 0}}
	if r := a.apply(cmd(t, CmdSignalCommit, good)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if p, _ := a.f.PendingOutbound(nil, 10); len(p) != 0 {
		t.Fatal("message still pending after its envelope was committed")
	}
	env, _ := a.f.StoredEnvelopes(nil, 10)
	if len(env) != 1 || string(env[0].Sealed) != "env" || env[0].Message.IDRef != MessageIDRef("w1") {
		t.Fatalf("envelopes %+v", env)
	}
	// The same message cannot be encrypted twice.
	good.Expect = []SignalExpect{{Key: "sessions\x00r:1", Version: 1}}
	if r := a.apply(cmd(t, CmdSignalCommit, good)); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("second envelope for one message: %v", r.Err)
	}
	// The network took it: sent, envelope gone.
	if r := a.apply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001",
		Updates: []StatusUpdate{{IDRef: MessageIDRef("w1"), Status: StatusSent, At: 3}}, SentKeys: [][]byte{k1}})); r.Err != nil {
		t.Fatal(r.Err)
	}
	if env, _ := a.f.StoredEnvelopes(nil, 10); len(env) != 0 {
		t.Fatal("envelope kept after the network took it")
	}
}

func TestMessageStatusesOnlyMoveForward(t *testing.T) {
	a, _ := signalFixture(t)
	status := func() string {
		m, err := a.f.MessageByID("w1")
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	}
	step := func(s string) {
		a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001",
			Updates: []StatusUpdate{{IDRef: MessageIDRef("w1"), Status: s, At: 5}}}))
	}
	step(StatusDelivered)
	step(StatusSent) // late: ignored
	if s := status(); s != StatusDelivered {
		t.Fatalf("status %s after a late sent", s)
	}
	step(StatusRead)
	step(StatusDelivered)
	if s := status(); s != StatusRead {
		t.Fatalf("status %s", s)
	}
	// Statuses of unknown or inbound messages are skipped, bad ones refused.
	if r := a.apply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001",
		Updates: []StatusUpdate{{IDRef: MessageIDRef("nope"), Status: StatusSent}, {IDRef: MessageIDRef("in1"), Status: StatusRead}}})); r.Err != nil {
		t.Fatalf("unknown and inbound ids: %v", r.Err)
	}
	if m, _ := a.f.MessageByID("in1"); m.Status != "received" {
		t.Fatalf("inbound message status changed to %s", m.Status)
	}
	if r := a.apply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001",
		Updates: []StatusUpdate{{IDRef: MessageIDRef("w1"), Status: StatusAccepted}}})); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("accepted as an update: %v", r.Err)
	}
}

func TestSignalCommitInboundDedupe(t *testing.T) {
	a, _ := signalFixture(t)
	in := func(key byte, wamid string) SignalCommit {
		return SignalCommit{PhoneNumberID: "3001", InboundHash: []byte("hash-of-ciphertext"),
			Writes: []SignalWrite{{Key: "sessions\x00r:1", Value: []byte{key}}},
			Inbound: &RecordInbound{Key: append(make([]byte, 15), key), IDRef: MessageIDRef(wamid), PhoneNumberID: "3001",
				PeerRef: "ref2", Type: "text", ReceivedAt: 5000, NetworkID: "ph.1"}}
	}
	if r := a.apply(cmd(t, CmdSignalCommit, in(20, "in2"))); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !a.f.InboundSeen("3001", []byte("hash-of-ciphertext")) || a.f.InboundSeen("3002", []byte("hash-of-ciphertext")) {
		t.Fatal("inbound hash not recorded per number")
	}
	m, err := a.f.MessageByID("in2")
	if err != nil || m.NetworkID != "ph.1" || m.Direction != DirectionIn {
		t.Fatalf("inbound %+v %v", m, err)
	}
	before := stateOf(t, a.f)
	if r := a.apply(cmd(t, CmdSignalCommit, in(21, "in3"))); !errors.Is(r.Err, ErrConflict) {
		t.Fatalf("retransmit: %v", r.Err)
	}
	if stateOf(t, a.f) != before {
		t.Fatal("a deduplicated retransmit changed the state")
	}
	// Marking it read queues a read receipt for the connector.
	a.mustApply(cmd(t, CmdMarkRead, MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef("in2"), At: 6, Typing: true}))
	reads, _ := a.f.PendingReads(10)
	if len(reads) != 1 || !reads[0].Typing || reads[0].Message.NetworkID != "ph.1" {
		t.Fatalf("reads %+v", reads)
	}
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", ReadsDone: [][]byte{reads[0].Key}}))
	if reads, _ := a.f.PendingReads(10); len(reads) != 0 {
		t.Fatal("read receipt still queued")
	}
}

// TestExpiryClearsConnectorQueues: a message past retention leaves the
// pending, envelope and read-receipt queues with it.
func TestExpiryClearsConnectorQueues(t *testing.T) {
	a, k1 := signalFixture(t)
	k2 := append(make([]byte, 15), 2)
	a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: k2, IDRef: MessageIDRef("w2"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref1", Type: "text", Content: []byte("sealed"), CreatedAt: 2000}))
	a.mustApply(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001",
		Outbound: []OutboundEnvelope{{MessageKey: k1, Sealed: []byte("env")}}}))
	a.mustApply(cmd(t, CmdMarkRead, MarkRead{PhoneNumberID: "3001", IDRef: MessageIDRef("in1"), At: 6}))
	if p, _ := a.f.PendingOutbound(nil, 10); len(p) != 1 {
		t.Fatalf("pending before expiry: %d", len(p))
	}
	a.mustApply(cmd(t, CmdExpire, Expire{Now: 2000 + 31*24*3600*1000}))
	a.mustApply(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001", InboundHash: []byte("h1"),
		Inbound: &RecordInbound{Key: append(make([]byte, 15), 30), IDRef: MessageIDRef("in9"), PhoneNumberID: "3001",
			PeerRef: "ref3", Type: "text", ReceivedAt: 3000}}))
	if !a.f.InboundSeen("3001", []byte("h1")) {
		t.Fatal("hash not recorded")
	}
	a.mustApply(cmd(t, CmdExpire, Expire{Now: 3000 + 31*24*3600*1000}))
	if a.f.InboundSeen("3001", []byte("h1")) {
		t.Fatal("inbound dedupe hash kept past retention")
	}
	p, _ := a.f.PendingOutbound(nil, 10)
	e, _ := a.f.StoredEnvelopes(nil, 10)
	r, _ := a.f.PendingReads(10)
	if len(p)+len(e)+len(r) != 0 {
		t.Fatalf("after expiry: %d pending, %d envelopes, %d reads", len(p), len(e), len(r))
	}
}

// TestPendingOutboundFrom: a walk starts at the first key at or after
// from, reports the last key it walked (skipped keys too), and nil from
// walks from the oldest.
func TestPendingOutboundFrom(t *testing.T) {
	a, k1 := signalFixture(t)
	k2 := append(make([]byte, 15), 2)
	a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: k2, IDRef: MessageIDRef("w2"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref1", Type: "text", Content: []byte("sealed"), CreatedAt: 2001}))
	all, last, err := a.f.PendingOutboundFrom(nil, nil, 10)
	if err != nil || len(all) != 2 || string(all[0].Key) != string(k1) || string(last) != string(k2) {
		t.Fatalf("from the oldest: %d messages, last %x, %v", len(all), last, err)
	}
	from := append(make([]byte, 15), 2)
	p, last, _ := a.f.PendingOutboundFrom(from, nil, 10)
	if len(p) != 1 || string(p[0].Key) != string(k2) || string(last) != string(k2) {
		t.Fatalf("from k2: %d messages, last %x", len(p), last)
	}
	skipAll := func([]byte) bool { return true }
	if p, last, _ := a.f.PendingOutboundFrom(nil, skipAll, 10); len(p) != 0 || string(last) != string(k2) {
		t.Fatalf("all skipped: %d messages, last %x", len(p), last)
	}
	if p, last, _ := a.f.PendingOutboundFrom(append(make([]byte, 15), 3), nil, 10); len(p) != 0 || last != nil {
		t.Fatalf("past the end: %d messages, last %x", len(p), last)
	}
	if p, last, _ := a.f.PendingOutboundFrom(nil, nil, 1); len(p) != 1 || string(last) != string(k1) {
		t.Fatalf("limit 1: %d messages, last %x", len(p), last)
	}
}
