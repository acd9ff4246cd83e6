package raftfsm

import (
	"errors"
	"testing"
)

// TestSignalRoundPartsStandAlone: a round's parts are applied one by one,
// each all or nothing; a refused part changes nothing and does not refuse
// the others, and the value names each part's outcome in order.
func TestSignalRoundPartsStandAlone(t *testing.T) {
	a, k1 := signalFixture(t)
	k2 := make([]byte, 16)
	k2[15] = 2
	a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: k2, IDRef: MessageIDRef("w2"), PhoneNumberID: "3001", BusinessID: "1001",
		PeerRef: "ref1", Type: "text", Content: []byte("sealed"), CreatedAt: 2001}))
	a.mustApply(cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001",
		Writes: []SignalWrite{{Key: "sessions\x00other:1", Value: []byte("v1")}}}))
	before := stateOf(t, a.f)

	round := SignalRound{
		Commits: []SignalCommit{
			// Both queued messages of one consumer under one session write.
			{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00ref1:1"}},
				Writes:   []SignalWrite{{Key: "sessions\x00ref1:1", Value: []byte("after two")}},
				Outbound: []OutboundEnvelope{{MessageKey: k1, Sealed: []byte("env1")}, {MessageKey: k2, Sealed: []byte("env2")}}},
			// A stale read of another session: refused alone.
			{PhoneNumberID: "3001", Expect: []SignalExpect{{Key: "sessions\x00other:1"}},
				Writes: []SignalWrite{{Key: "sessions\x00other:1", Value: []byte("stale")}}},
			// A number that does not exist.
			{PhoneNumberID: "9999"},
		},
		Statuses: []MessageStatuses{
			{PhoneNumberID: "3001", Updates: []StatusUpdate{{IDRef: MessageIDRef("w1"), Status: StatusSent, At: 3}}, SentKeys: [][]byte{k1}},
			{PhoneNumberID: "9999"},
		},
	}
	r := a.apply(cmd(t, CmdSignalRound, round))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	got, err := RoundOutcomes(r.Value, round.Parts())
	if err != nil {
		t.Fatal(err)
	}
	want := []error{nil, ErrVersion, ErrNotFound, nil, ErrNotFound}
	for i := range want {
		if !errIs(got[i], want[i]) {
			t.Fatalf("part %d: %v, want %v", i, got[i], want[i])
		}
	}
	if stateOf(t, a.f) == before {
		t.Fatal("the round changed nothing")
	}
	if v, _, _ := a.f.SignalRecord("3001", "sessions\x00other:1"); string(v) != "v1" {
		t.Fatalf("a refused part wrote its session: %q", v)
	}
	if p, _ := a.f.PendingOutbound(nil, 10); len(p) != 0 {
		t.Fatalf("%d messages still pending", len(p))
	}
	env, _ := a.f.StoredEnvelopes(nil, 10)
	if len(env) != 1 || string(env[0].Sealed) != "env2" {
		t.Fatalf("envelopes %+v, want only env2 (env1 was sent in the same round)", env)
	}
	if m, err := a.f.MessageByID("w1"); err != nil || m.Status != StatusSent {
		t.Fatalf("w1: %+v %v", m.Status, err)
	}
	if _, err := RoundOutcomes(r.Value, round.Parts()+1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("miscounted value: %v", err)
	}
}
