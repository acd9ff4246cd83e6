package raftfsm

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/cloudapi"
)

// BenchmarkExpire measures expiring N stored messages (default 100,000;
// WAEDGE_BENCH_EXPIRE_N overrides) in commands of DefaultExpireBudget
// deletions (WAEDGE_BENCH_EXPIRE_BUDGET overrides): the total time, the
// longest single command — the longest a concurrent send waits behind
// expiry, since Apply is serial — and the process CPU per deleted record
// (the machine may be shared: CPU time is the figure to compare).
//
//   - inbound: each message with its 24-hour window and its webhook event
//     (3 records per message; wamids without a key, so a message_refs
//     entry each).
//
//   - outbound: messages accepted as the API accepts them (keyed wamids,
//     so no message_refs entry) and still in the connector's pending
//     queue, as in `waedge bench expiry` (1 record per message).
//
//     go test ./raftfsm/ -run '^$' -bench BenchmarkExpire -benchtime 1x
func BenchmarkExpire(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_N")); err == nil && v > 0 {
		n = v
	}
	budget := DefaultExpireBudget
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_BUDGET")); err == nil && v > 0 {
		budget = v
	}
	b.Run("inbound", func(b *testing.B) { benchExpire(b, n, budget, 3, storeInbound) })
	b.Run("outbound", func(b *testing.B) { benchExpire(b, n, budget, 1, storeOutbound) })
}

// storeInbound stores n inbound messages a millisecond apart, 31 days
// before t0, each with its window and webhook event.
func storeInbound(a *applier, n int) {
	a.mustApply(tenantCmd(a.t, 1, "+15551234567"))
	a.mustApply(cmd(a.t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
	content := make([]byte, 250) // a sealed 200-byte text
	const per = 1000
	for i := 0; i < n; i += per {
		var cmds [][]byte
		for j := i; j < min(i+per, n); j++ {
			at := t0 - 31*dayMs + int64(j)
			key := msgKey(at)
			cmds = append(cmds, cmd(a.t, CmdRecordInbound, RecordInbound{Key: key, IDRef: MessageIDRef(fmt.Sprint("wamid.", j)),
				PhoneNumberID: "3001", PeerRef: fmt.Sprintf("ref-%024d", j), PeerSealed: content[:40], Type: "text",
				Content: content, ReceivedAt: at, Event: &OutboxEvent{Key: key, Body: content, CreatedAt: at}}))
		}
		a.idx++
		a.f.ApplyBatch([]*raft.Log{entry(a.idx, cmds...)})
	}
}

// storeOutbound accepts n template messages a millisecond apart, 31 days
// before t0, to 1,000 consumers, with keyed wamids (as the API issues
// them); they stay in the connector's pending queue.
func storeOutbound(a *applier, n int) {
	a.mustApply(tenantCmd(a.t, 1, "+15551234567"))
	a.mustApply(cmd(a.t, CmdSetMessagingTier, SetMessagingTier{PhoneNumberID: "3001", Tier: TierUnlimited}))
	a.mustApply(cmd(a.t, CmdSetPhoneLimits, SetPhoneLimits{PhoneNumberID: "3001", ThroughputMPS: 100_000, PairPerMinute: 100_000}))
	content := make([]byte, 300)
	sealed := make([]byte, 60)
	const per = 1000
	for i := 0; i < n; i += per {
		var cmds [][]byte
		for j := i; j < min(i+per, n); j++ {
			at := t0 - 31*dayMs + int64(j)
			k := make([]byte, messageKeyLen)
			binary.BigEndian.PutUint64(k, uint64(at)*1e6)
			binary.BigEndian.PutUint64(k[8:], uint64(j))
			wamid := cloudapi.NewWAMIDWithKeyID(fmt.Sprint(15550000000+j%1000), true, WAMIDKeyID(k, [9]byte{byte(j)}))
			cmds = append(cmds, EncodeAcceptMessage(AcceptMessage{Key: k, IDRef: MessageIDRef(wamid), IDSealed: sealed,
				PhoneNumberID: "3001", BusinessID: "1001", PeerRef: fmt.Sprintf("%032x", j%1000), PeerSealed: sealed,
				Type: "text", Content: content, CreatedAt: at}))
		}
		a.idx++
		a.f.ApplyBatch([]*raft.Log{entry(a.idx, cmds...)})
	}
}

func benchExpire(b *testing.B, n, budget, perMessage int, store func(*applier, int)) {
	for range b.N {
		b.StopTimer()
		a := &applier{t: b, f: openFSM(b)}
		store(a, n)
		if got := a.f.MessageCount(); got != n {
			b.Fatalf("stored %d of %d", got, n)
		}
		b.StartTimer()
		start := time.Now()
		cpu0 := processCPU()
		var worst time.Duration
		cmds, deleted := 0, 0
		for {
			t := time.Now()
			r := a.expire(t0, budget)
			worst = max(worst, time.Since(t))
			cmds++
			deleted += r.Deleted
			if !r.More {
				break
			}
		}
		cpu := processCPU() - cpu0
		el := time.Since(start)
		if a.f.MessageCount() != 0 || deleted < perMessage*n {
			b.Fatalf("deleted %d of %d", deleted, perMessage*n)
		}
		b.ReportMetric(el.Seconds(), "s/expiry")
		b.ReportMetric(float64(worst.Milliseconds()), "ms-worst-command")
		b.ReportMetric(float64(cmds), "commands")
		b.ReportMetric(float64(deleted)/el.Seconds(), "records/s")
		b.ReportMetric(float64(cpu)/float64(deleted), "cpu-ns/record")
	}
}

// BenchmarkAcceptAfterExpire measures what a send costs the state machine
// right after a large expiry freed its pages, against the same store
// before the expiry: N outbound messages stored (WAEDGE_BENCH_EXPIRE_N,
// default 50,000), then 20,000 accepts in entries of 32, before and after
// expiring the N.
//
//	go test ./raftfsm/ -run '^$' -bench BenchmarkAcceptAfterExpire -benchtime 1x
func BenchmarkAcceptAfterExpire(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_N")); err == nil && v > 0 {
		n = v
	}
	for _, expired := range []bool{false, true} {
		b.Run(fmt.Sprint("expired=", expired), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				a := &applier{t: b, f: openFSM(b)}
				storeOutbound(a, n)
				if expired {
					for r := a.expire(t0, MaxExpireBudget); r.More; r = a.expire(t0, MaxExpireBudget) {
					}
				}
				const m, per = 20000, 32
				var entries [][]byte
				sealed := make([]byte, 60)
				for i := 0; i < m; i += per {
					var cmds [][]byte
					for j := i; j < i+per; j++ {
						at := t0 + int64(j)
						k := make([]byte, messageKeyLen)
						binary.BigEndian.PutUint64(k, uint64(at)*1e6)
						binary.BigEndian.PutUint64(k[8:], uint64(n+j))
						wamid := cloudapi.NewWAMIDWithKeyID(fmt.Sprint(15550000000+j%1000), true, WAMIDKeyID(k, [9]byte{byte(j)}))
						cmds = append(cmds, EncodeAcceptMessage(AcceptMessage{Key: k, IDRef: MessageIDRef(wamid), IDSealed: sealed,
							PhoneNumberID: "3001", BusinessID: "1001", PeerRef: fmt.Sprintf("%032x", j%1000), PeerSealed: sealed,
							Type: "text", Content: make([]byte, 300), CreatedAt: at}))
					}
					entries = append(entries, EncodeEntry(cmds))
				}
				b.StartTimer()
				cpu0 := processCPU()
				for _, e := range entries {
					a.idx++
					a.f.ApplyBatch([]*raft.Log{{Index: a.idx, Term: 1, Type: raft.LogCommand, Data: e}})
				}
				b.ReportMetric(float64(processCPU()-cpu0)/m, "cpu-ns/accept")
			}
		})
	}
}
