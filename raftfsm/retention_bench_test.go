package raftfsm

import (
	"fmt"
	"github.com/hashicorp/raft"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkExpire measures expiring N stored messages (default 100,000;
// WAEDGE_BENCH_EXPIRE_N overrides), each with its window and webhook event,
// in commands of DefaultExpireBudget deletions: the total time, and the
// longest single command — the longest a concurrent send waits behind
// expiry, since Apply is serial.
//
//	go test ./raftfsm/ -run '^$' -bench BenchmarkExpire -benchtime 1x
func BenchmarkExpire(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("WAEDGE_BENCH_EXPIRE_N")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		b.StopTimer()
		a := &applier{t: b, f: openFSM(b)}
		a.mustApply(tenantCmd(b, 1, "+15551234567"))
		a.mustApply(cmd(b, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
		content := make([]byte, 250) // a sealed 200-byte text
		const per = 1000
		for i := 0; i < n; i += per {
			var cmds [][]byte
			for j := i; j < min(i+per, n); j++ {
				at := t0 - 31*dayMs + int64(j)
				key := msgKey(at)
				cmds = append(cmds, cmd(b, CmdRecordInbound, RecordInbound{Key: key, IDRef: MessageIDRef(fmt.Sprint("wamid.", j)),
					PhoneNumberID: "3001", PeerRef: fmt.Sprintf("ref-%024d", j), PeerSealed: content[:40], Type: "text",
					Content: content, ReceivedAt: at, Event: &OutboxEvent{Key: key, Body: content, CreatedAt: at}}))
			}
			a.idx++
			a.f.ApplyBatch([]*raft.Log{entry(a.idx, cmds...)})
		}
		b.StartTimer()
		start := time.Now()
		var worst time.Duration
		cmds, deleted := 0, 0
		for {
			t := time.Now()
			r := a.expire(t0, DefaultExpireBudget)
			worst = max(worst, time.Since(t))
			cmds++
			deleted += r.Deleted
			if !r.More {
				break
			}
		}
		el := time.Since(start)
		if a.f.MessageCount() != 0 || deleted != 3*n {
			b.Fatalf("deleted %d of %d", deleted, 3*n)
		}
		b.ReportMetric(el.Seconds(), "s/expiry")
		b.ReportMetric(float64(worst.Milliseconds()), "ms-worst-command")
		b.ReportMetric(float64(cmds), "commands")
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	}
}
