package raftfsm

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkApplyWebhookRound measures what one replica spends applying a
// dispatcher round of delivered events (256 per command, one entry), in
// the msgpack command the dispatcher proposed until stop 20
// (CmdWebhookAttemptsV2, "v2") and in the binary one it proposes now
// (CmdWebhookAttemptsV3, "v3"): each event leaves the outbox and its
// group and is written to the delivery log with its sealed body. The
// events are queued (one per message, with a body the size of a sealed
// status event; 256 per entry) before the timer starts. cpu-µs/event is
// the process's CPU time per event, the bbolt commit included (what a
// loaded machine does not distort); ns/op is one round's wall time;
// pages/event the pages the commits wrote. "v3-node" is v3 as a node
// applies it (checkpoints every 1024 entries instead of an fsync per
// commit) at two round sizes: 32 events, as a drain on this machine
// commits them, and 256.
func BenchmarkApplyWebhookRound(b *testing.B) {
	v2 := func(tb testing.TB, c WebhookAttempts) []byte { return cmd(tb, CmdWebhookAttemptsV2, c) }
	v3 := func(_ testing.TB, c WebhookAttempts) []byte { return EncodeWebhookAttempts(c) }
	for _, v := range []struct {
		name  string
		enc   func(testing.TB, WebhookAttempts) []byte
		round int
		opts  Options
	}{
		{"v2", v2, 256, Options{}},
		{"v3", v3, 256, Options{}},
		{"v3-node/round=32", v3, 32, Options{CheckpointEvery: 1024}},
		{"v3-node/round=256", v3, 256, Options{CheckpointEvery: 1024}},
	} {
		b.Run(v.name, func(b *testing.B) { benchWebhookRound(b, v.enc, v.round, v.opts) })
	}
}

func benchWebhookRound(b *testing.B, enc func(testing.TB, WebhookAttempts) []byte, round int, opts Options) {
	f, err := OpenWithOptions(filepath.Join(b.TempDir(), "fsm.db"), nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	a := &applier{t: b, f: f}
	a.mustApply(tenantCmd(b, 1, "+15551234567"))
	a.mustApply(cmd(b, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "http://x"}))
	body := bytes.Repeat([]byte("s"), 700)
	n := b.N * round
	keys := make([][]byte, n)
	for r := 0; r < b.N; r++ {
		cmds := make([][]byte, round)
		for j := range cmds {
			i := r*round + j
			keys[i] = msgKey(t0 + int64(i))
			wamid := fmt.Sprintf("wamid.bench.%d", i)
			cmds[j] = cmd(b, CmdRecordInbound, RecordInbound{Key: keys[i], IDRef: MessageIDRef(wamid), PhoneNumberID: "3001",
				PeerRef: "ref-c", PeerSealed: []byte("sealed"), Type: "text", Content: []byte("c"), ReceivedAt: t0 + int64(i),
				Event: &OutboxEvent{Key: keys[i], Body: body, CreatedAt: t0 + int64(i)}})
		}
		a.idx++
		for _, res := range results(b, a.f.Apply(entry(a.idx, cmds...))) {
			if res.Err != nil {
				b.Fatal(res.Err)
			}
		}
	}
	cmds := make([][]byte, b.N)
	for r := range cmds {
		atts := make([]WebhookAttempt, round)
		for i := range atts {
			atts[i] = WebhookAttempt{Key: keys[r*round+i], Delivered: true, Status: "200", At: t0 + int64(n+r)}
		}
		cmds[r] = enc(b, WebhookAttempts{Attempts: atts})
	}
	b.ResetTimer()
	cpu0, w0 := processCPU(), pagesWritten(a.f)
	for _, c := range cmds {
		a.mustApply(c)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(n), "cpu-µs/event")
	b.ReportMetric(float64(pagesWritten(a.f)-w0)/float64(n), "pages/event")
	if evs, _ := a.f.Outbox(1); len(evs) != 0 {
		b.Fatal("outbox not drained")
	}
}

// pagesWritten is how many pages f's commits have written.
func pagesWritten(f *FSM) int64 {
	st := f.db.Stats()
	return st.TxStats.GetWrite()
}
