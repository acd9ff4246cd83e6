package raftfsm

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkApplyWebhookRound measures what one replica spends applying a
// dispatcher round of delivered events (CmdWebhookAttemptsV2, 256 per
// command, one entry): each event leaves the outbox and its group and is
// written to the delivery log with its sealed body. The events are
// queued (one per message, with a body the size of a sealed status
// event) before the timer starts. µs/event is the apply's wall time per
// event, the bbolt commit included, in wall time; cpu-µs/event the process's CPU time
// per event (what a loaded machine does not distort).
func BenchmarkApplyWebhookRound(b *testing.B) {
	const round = 256
	a := &applier{t: b, f: openFSM(b)}
	a.mustApply(tenantCmd(b, 1, "+15551234567"))
	a.mustApply(cmd(b, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
	body := bytes.Repeat([]byte("s"), 700)
	n := b.N * round
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = msgKey(t0 + int64(i))
		wamid := fmt.Sprintf("wamid.bench.%d", i)
		a.mustApply(cmd(b, CmdRecordInbound, RecordInbound{Key: keys[i], IDRef: MessageIDRef(wamid), PhoneNumberID: "3001",
			PeerRef: "ref-c", PeerSealed: []byte("sealed"), Type: "text", Content: []byte("c"), ReceivedAt: t0 + int64(i),
			Event: &OutboxEvent{Key: keys[i], Body: body, CreatedAt: t0 + int64(i)}}))
	}
	cmds := make([][]byte, b.N)
	for r := range cmds {
		atts := make([]WebhookAttempt, round)
		for i := range atts {
			atts[i] = WebhookAttempt{Key: keys[r*round+i], Delivered: true, Status: "200", At: t0 + int64(n+r)}
		}
		cmds[r] = cmd(b, CmdWebhookAttemptsV2, WebhookAttempts{Attempts: atts})
	}
	b.ResetTimer()
	cpu0 := processCPU()
	for _, c := range cmds {
		a.mustApply(c)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(n), "cpu-µs/event")
	if evs, _ := a.f.Outbox(1); len(evs) != 0 {
		b.Fatal("outbox not drained")
	}
}
