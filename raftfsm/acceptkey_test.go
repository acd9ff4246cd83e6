package raftfsm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// TestAcceptKeyTakenWithinAndAcrossBatches checks the accept's duplicate
// key check, which skips its lookups for keys above the stored ones
// (keyTops): a key stored earlier in the same batch, below the bound, in
// the pending or envelope queue of another number's message, or by a
// command of another kind in the same batch is still refused — applied
// as one batch, and one command per batch, with the same results and
// the same state.
func TestAcceptKeyTakenWithinAndAcrossBatches(t *testing.T) {
	key := func(n byte) []byte { k := make([]byte, 16); k[0], k[15] = 0x10, n; return k }
	n := 0
	accept := func(phone string, k []byte) []byte {
		n++
		return EncodeAcceptMessage(AcceptMessage{Key: k, IDRef: MessageIDRef(fmt.Sprint("w", n)), IDSealed: []byte("s"),
			PhoneNumberID: phone, BusinessID: map[string]string{"3001": "1001", "3002": "1002"}[phone],
			PeerRef: fmt.Sprint("peer", n), PeerSealed: []byte("p"), Type: "text", Content: []byte("c"), CreatedAt: int64(1000 + n)})
	}
	script := []struct {
		c        []byte
		conflict bool
	}{
		{accept("3001", key(5)), false},
		{accept("3001", key(5)), true},  // stored earlier in this batch
		{accept("3002", key(5)), true},  // in the pending queue (another number)
		{accept("3001", key(3)), false}, // below the bound, new
		{accept("3001", key(3)), true},  // below the bound, stored
		{accept("3001", key(6)), false},
		{cmd(t, CmdSignalCommit, SignalCommit{PhoneNumberID: "3001",
			Outbound: []OutboundEnvelope{{MessageKey: key(5), Sealed: []byte("env")}}}), false},
		{accept("3002", key(5)), true}, // in the envelope queue
		{cmd(t, CmdRecordInbound, RecordInbound{Key: key(9), IDRef: MessageIDRef("in9"), PhoneNumberID: "3002",
			PeerRef: "peer-in", Type: "text", ReceivedAt: 2000}), false},
		{accept("3002", key(9)), true},  // stored by another command in this batch
		{accept("3001", key(9)), false}, // 3002's inbound message: another range, and in no queue
		{accept("3001", key(10)), false},
	}
	after := [][]byte{accept("3001", key(5)), accept("3001", key(10)), accept("3001", key(11))}
	afterConflict := []bool{true, true, false}

	run := func(oneBatch bool) string {
		f := openFSM(t)
		a := &applier{t: t, f: f}
		a.mustApply(tenantCmd(t, 1, "+15551234567"))
		a.mustApply(tenantCmd(t, 2, "+15551234568"))
		var rs []Result
		if oneBatch {
			cmds := make([][]byte, len(script))
			for i, s := range script {
				cmds[i] = s.c
			}
			a.idx++
			rs = results(t, f.ApplyBatch([]*raft.Log{entry(a.idx, cmds...)})[0])
		} else {
			for _, s := range script {
				rs = append(rs, a.apply(s.c))
			}
		}
		for i, s := range script {
			if errors.Is(rs[i].Err, ErrConflict) != s.conflict || !s.conflict && rs[i].Err != nil {
				t.Fatalf("one batch %v: command %d: %v, want conflict %v", oneBatch, i, rs[i].Err, s.conflict)
			}
		}
		for i, c := range after {
			if r := a.apply(c); errors.Is(r.Err, ErrConflict) != afterConflict[i] || !afterConflict[i] && r.Err != nil {
				t.Fatalf("one batch %v: next batch, command %d: %v, want conflict %v", oneBatch, i, r.Err, afterConflict[i])
			}
		}
		return stateOf(t, f)
	}
	if run(true) != run(false) {
		t.Fatal("one batch and one command per batch left different states")
	}
}
