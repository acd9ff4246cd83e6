package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
)

// fakeRounds stands in for the cluster under a rounder: it decodes every
// round, refuses commands over 1 MiB as the node does, and answers each
// part with refuse(part) (nil: applied).
type fakeRounds struct {
	mu     sync.Mutex
	sizes  []int
	parts  []int
	refuse func(raftfsm.SignalCommit) error
}

func (f *fakeRounds) propose(_ context.Context, cmd []byte) (raftfsm.Result, error) {
	typ, payload, err := raftfsm.DecodeCommand(cmd)
	if err != nil || typ != raftfsm.CmdSignalRoundV2 {
		return raftfsm.Result{}, fmt.Errorf("not a binary round: %v %v", typ, err)
	}
	round, err := decodeRound(typ, payload)
	if err != nil {
		return raftfsm.Result{}, err
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(cmd))
	f.parts = append(f.parts, round.Parts())
	f.mu.Unlock()
	if len(cmd) > 1<<20 {
		return raftfsm.Result{}, errors.New("command too large")
	}
	var value []byte
	for _, c := range round.Commits {
		code := uint16(0)
		if f.refuse != nil {
			code = raftfsm.ErrorCode(f.refuse(c))
		}
		value = append(value, byte(code>>8), byte(code))
	}
	for range round.Statuses {
		value = append(value, 0, 0)
	}
	return raftfsm.Result{Value: value}, nil
}

// TestRoundsAnswerEveryPartAndStayUnderTheSizeLimit: parts handed in
// together are committed in few rounds, each under the node's command
// size limit however much is waiting, and every part gets its own
// outcome — a refused part does not refuse its round's others.
func TestRoundsAnswerEveryPartAndStayUnderTheSizeLimit(t *testing.T) {
	f := &fakeRounds{refuse: func(c raftfsm.SignalCommit) error {
		if c.PhoneNumberID == "stale" {
			return raftfsm.ErrVersion
		}
		return nil
	}}
	rd := newRounder(f.propose, 512)
	// 200 parts of ~20 KiB (4 MB in all) are queued before the round
	// loop starts, so it finds them all waiting.
	const n = 200
	outs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		phone := "3"
		if i%10 == 0 {
			phone = "stale"
		}
		p := &roundPart{commit: &raftfsm.SignalCommit{PhoneNumberID: phone,
			Writes: []raftfsm.SignalWrite{{Key: fmt.Sprint("sessions\x00", i), Value: bytes.Repeat([]byte{byte(i)}, 20<<10)}}}}
		if i%3 == 0 {
			p = &roundPart{statuses: &raftfsm.MessageStatuses{PhoneNumberID: "3", ReadsDone: [][]byte{make([]byte, 16)}}}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = roundErr(rd.submit(context.Background(), p))
		}()
	}
	nodetest.WaitFor(t, "every part queued", 10*time.Second, func() bool { return len(rd.in) == n })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rd.run(ctx)
	go rd.run(ctx)
	wg.Wait()
	for i, err := range outs {
		want := error(nil)
		if i%10 == 0 && i%3 != 0 {
			want = raftfsm.ErrVersion
		}
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("part %d: %v, want %v", i, err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for i, size := range f.sizes {
		if size > 1<<20 {
			t.Errorf("round %d: %d bytes, over the command size limit", i, size)
		}
		total += f.parts[i]
	}
	if total != n {
		t.Errorf("%d parts committed in %d rounds, want %d", total, len(f.sizes), n)
	}
	if len(f.sizes) > n/10 {
		t.Errorf("%d rounds for %d waiting parts: not grouped", len(f.sizes), n)
	}
}

// TestGroupByPair: a pair's queued messages form groups of at most
// maxGroup in queue order; other pairs' messages are not mixed in.
func TestGroupByPair(t *testing.T) {
	var pending []raftfsm.PendingMessage
	for i := 0; i < maxGroup+10; i++ {
		for _, peer := range []string{"a", "b"} {
			pending = append(pending, raftfsm.PendingMessage{Key: []byte{byte(i)},
				Message: raftfsm.Message{PhoneNumberID: "3", PeerRef: peer}})
		}
	}
	pending = append(pending, raftfsm.PendingMessage{Key: []byte{0}, Message: raftfsm.Message{PhoneNumberID: "4", PeerRef: "a"}})
	groups := groupByPair(pending)
	if len(groups) != 5 {
		t.Fatalf("%d groups, want 5 (a, b, a, b, other number)", len(groups))
	}
	for gi, g := range groups {
		if len(g) > maxGroup {
			t.Errorf("group %d has %d messages", gi, len(g))
		}
		for i, pm := range g {
			if pm.Message.PeerRef != g[0].Message.PeerRef || pm.Message.PhoneNumberID != g[0].Message.PhoneNumberID {
				t.Fatalf("group %d mixes pairs", gi)
			}
			if i > 0 && pm.Key[0] != g[i-1].Key[0]+1 {
				t.Fatalf("group %d out of queue order at %d", gi, i)
			}
		}
	}
}

// decodeRound decodes a round of either encoding.
func decodeRound(typ raftfsm.CommandType, payload []byte) (raftfsm.SignalRound, error) {
	if typ == raftfsm.CmdSignalRoundV2 {
		return raftfsm.DecodeSignalRound(payload)
	}
	var round raftfsm.SignalRound
	err := raftfsm.DecodePayload(payload, &round)
	return round, err
}
