package connector

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
)

func (u *unit) signal(kind, consumer, id string) {
	u.fn.ch <- network.Delivery{Type: network.DeliverySignal, ID: id, Signal: &network.Signal{Kind: kind,
		Business: "15550001000", Consumer: consumer, Timestamp: time.Now().UnixMilli()}}
}

func qualityHooks(t *testing.T, u *unit) []string {
	var out []string
	for _, b := range outboxBodies(t, u) {
		if strings.Contains(b, `"phone_number_quality_update"`) {
			out = append(out, b)
		}
	}
	return out
}

// Integrity signals are counted after commit and acked; the rating moves
// and its webhook is queued once per change; nothing names the consumer.
func TestIntegritySignals(t *testing.T) {
	u := newUnit(t, Config{})
	const consumer = "4915100000077"
	u.signal(network.SignalSpamReport, consumer, "sig.1")
	nodetest.WaitFor(t, "first signal acked", 10*time.Second, func() bool { return u.fn.ackCount("sig.1") == 1 })
	if p, _ := u.n.FSM().Phone("3"); raftfsm.QualityOf(p) != raftfsm.QualityGreen {
		t.Fatalf("one report: %s", raftfsm.QualityOf(p))
	}
	// A redelivery (our ack was lost) is acked again but not counted twice.
	u.signal(network.SignalSpamReport, consumer, "sig.1")
	nodetest.WaitFor(t, "redelivery acked", 10*time.Second, func() bool { return u.fn.ackCount("sig.1") == 2 })
	u.signal(network.SignalBlock, consumer, "sig.2")
	nodetest.WaitFor(t, "block acked", 10*time.Second, func() bool { return u.fn.ackCount("sig.2") == 1 })
	if p, _ := u.n.FSM().Phone("3"); raftfsm.QualityOf(p) != raftfsm.QualityGreen || len(qualityHooks(t, u)) != 0 {
		t.Fatalf("two signals: %s (the redelivery was counted?)", raftfsm.QualityOf(p))
	}
	u.signal(network.SignalSpamReport, consumer, "sig.3") // 3 of 3 per 1 consumer reached: RED
	nodetest.WaitFor(t, "third signal acked", 10*time.Second, func() bool { return u.fn.ackCount("sig.3") == 1 })
	u.signal(network.SignalSpamReport, consumer, "sig.4") // still RED: no second webhook
	nodetest.WaitFor(t, "fourth signal acked", 10*time.Second, func() bool { return u.fn.ackCount("sig.4") == 1 })
	p, _ := u.n.FSM().Phone("3")
	hooks := qualityHooks(t, u)
	if raftfsm.QualityOf(p) != raftfsm.QualityRed || len(hooks) != 1 ||
		!strings.Contains(hooks[0], `"display_phone_number":"15550001000","event":"FLAGGED","current_limit":"TIER_1K"`) {
		t.Fatalf("rating %s, hooks %q", raftfsm.QualityOf(p), hooks)
	}
	rows, _ := u.n.FSM().Integrity("3", "", "")
	var spam, block int64
	for _, r := range rows {
		switch r.Kind {
		case raftfsm.SignalSpamReport:
			spam += r.Count
		case raftfsm.SignalBlock:
			block += r.Count
		}
	}
	if spam != 3 || block != 1 {
		t.Fatalf("counted %d spam, %d block: %+v", spam, block, rows)
	}
	var dump bytes.Buffer
	if err := u.n.FSM().Dump(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump.String(), strings.TrimSpace(hexOf(consumer))) ||
		strings.Contains(dump.String(), hexOf(u.sealer.ConsumerRef("3", consumer))) {
		t.Fatal("the reporting consumer is stored")
	}
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
	}
	return b.String()
}
