package raftfsm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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

// TestHotRecordsFollowChanges checks the decoded phone and template
// records a batch hands to the next (hotRecords): accepts, then a
// template re-categorised and the number's limits lowered, each in a
// batch of its own or beside accepts, then more accepts. Accepts after
// the change must price with the new category and meet the new limit, as
// on a replica that reopens its database before every batch (and so
// decodes everything afresh).
func TestHotRecordsFollowChanges(t *testing.T) {
	n := 0
	accept := func() []byte {
		n++
		k := make([]byte, 16)
		k[0], k[14], k[15] = 0x10, byte(n>>8), byte(n)
		return EncodeAcceptMessage(AcceptMessage{Key: k, IDRef: MessageIDRef(fmt.Sprint("w", n)), IDSealed: []byte("s"),
			PhoneNumberID: "3001", BusinessID: "1001", PeerRef: fmt.Sprint("peer", n), PeerSealed: []byte("p"),
			Type: "template", TemplateName: "hello", TemplateLanguage: "en", Content: []byte("c"), CreatedAt: int64(1700000000000 + n)})
	}
	var entries [][][]byte
	add := func(cmds ...[]byte) { entries = append(entries, cmds) }
	add(cmd(t, CmdCreateTenant, tenantPayload(1, "+15551234567")))
	add(cmd(t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: TierUnlimited}))
	add(cmd(t, CmdSubmitTemplate, SubmitTemplate{Template: Template{ID: "77", WABAID: "2001", BusinessID: "1001",
		Name: "hello", Language: "en", Category: "UTILITY", CreatedAt: 1700000000000}}))
	add(accept(), accept())
	add(cmd(t, CmdSetTemplateCategory, SetTemplateCategory{ID: "77", Previous: "UTILITY", Category: "MARKETING", At: 1700000000100}))
	add(accept(), accept())
	add(accept(), cmd(t, CmdSetTemplateCategory, SetTemplateCategory{ID: "77", Previous: "MARKETING", Category: "UTILITY", At: 1700000000200}), accept())
	add(accept())
	// One message a second for the number, burst 1: the second accept in
	// the same millisecond range is refused.
	add(cmd(t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 1}))
	add(accept(), accept())
	add(accept())

	run := func(reopen bool) (string, []string) {
		path := filepath.Join(t.TempDir(), "fsm.db")
		f, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		var outcomes []string
		for i, cmds := range entries {
			if reopen {
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if f, err = Open(path, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range results(t, f.Apply(entry(uint64(i+1), cmds...))) {
				outcomes = append(outcomes, fmt.Sprint(r.Err))
			}
		}
		return stateOf(t, f), outcomes
	}
	kept, keptOut := run(false)
	fresh, freshOut := run(true)
	if fmt.Sprint(keptOut) != fmt.Sprint(freshOut) {
		t.Fatalf("outcomes with records kept between batches %v, decoded afresh %v", keptOut, freshOut)
	}
	if kept != fresh {
		t.Fatal("records kept between batches left another state than records decoded afresh")
	}
	if !strings.Contains(fmt.Sprint(keptOut), ErrThroughput.Error()) {
		t.Fatalf("the lowered limit refused nothing: %v", keptOut)
	}
}
