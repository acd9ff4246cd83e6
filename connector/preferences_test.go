package connector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
)

// setBlocked puts consumer on (or takes it off) the block list of the
// unit's number, as POST/DELETE /{phone-number-id}/block_users does.
func (u *unit) setBlocked(t *testing.T, consumer string, blocked bool) {
	t.Helper()
	p, err := u.n.FSM().Phone("3")
	if err != nil {
		t.Fatal(err)
	}
	c := raftfsm.PutPhoneSetting{PhoneNumberID: "3", BusinessID: p.BusinessID,
		Name: raftfsm.BlockSettingPrefix + u.sealer.ConsumerRef("3", consumer), Value: []byte(`{}`), Delete: !blocked}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutPhoneSetting, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raftfsm.Outcome(u.n.Propose(context.Background(), cmd)); err != nil {
		t.Fatal(err)
	}
}

// TestBlockedUserInboundIsDropped: what a blocked user sends is acked and
// dropped — no message, no webhook — and after an unblock the same
// Signal session carries the next message (the dropped one's ratchet step
// was committed).
func TestBlockedUserInboundIsDropped(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer = "15550001000", "4915100000051"
	ph := newTestPhone(t, consumer)
	u.deliver(ph.envelope(t, u.fn, business, "bl.1", "before the block"), "bl.1")
	nodetest.WaitFor(t, "first message acked", 10*time.Second, func() bool { return u.fn.ackCount("bl.1") == 1 })
	u.setBlocked(t, consumer, true)
	count, hooks := u.n.FSM().MessageCount(), len(outboxBodies(t, u))

	u.deliver(ph.envelope(t, u.fn, business, "bl.2", "while blocked"), "bl.2")
	nodetest.WaitFor(t, "blocked message acked", 10*time.Second, func() bool { return u.fn.ackCount("bl.2") == 1 })
	if u.n.FSM().MessageCount() != count {
		t.Fatal("a blocked user's message was stored")
	}
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "bl.2")); err == nil {
		t.Fatal("a blocked user's message is readable")
	}
	bodies := outboxBodies(t, u)
	if len(bodies) != hooks {
		t.Fatalf("%d webhooks queued for a blocked user's message", len(bodies)-hooks)
	}

	u.setBlocked(t, consumer, false)
	u.deliver(ph.envelope(t, u.fn, business, "bl.3", "after the unblock"), "bl.3")
	nodetest.WaitFor(t, "message after unblock acked", 10*time.Second, func() bool { return u.fn.ackCount("bl.3") == 1 })
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "bl.3")); err != nil {
		t.Fatalf("message after the unblock: %v", err)
	}
	found := false
	for _, b := range outboxBodies(t, u) {
		if strings.Contains(b, "while blocked") {
			t.Fatal("the blocked message reached a webhook")
		}
		found = found || strings.Contains(b, "after the unblock")
	}
	if !found {
		t.Fatal("no webhook for the message after the unblock")
	}
}

// TestMarketingPreference: a consumer's stop and resume of marketing
// messages are recorded (by keyed reference) with a user_preferences
// webhook each, and acked after the commit.
func TestMarketingPreference(t *testing.T) {
	u := newUnit(t, Config{})
	const consumer = "4915100000052"
	ref := u.sealer.ConsumerRef("3", consumer)
	prefs := func() []string {
		var out []string
		for _, b := range outboxBodies(t, u) {
			if strings.Contains(b, `"field":"user_preferences"`) {
				out = append(out, b)
			}
		}
		return out
	}
	u.signal(network.SignalMarketingStop, consumer, "pref.1")
	nodetest.WaitFor(t, "stop acked", 10*time.Second, func() bool { return u.fn.ackCount("pref.1") == 1 })
	if !u.n.FSM().MarketingStopped("3", ref) {
		t.Fatal("stop not recorded")
	}
	got := prefs()
	if len(got) != 1 || !strings.Contains(got[0], `"user_preferences":[{"wa_id":"`+consumer+`","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop"`) ||
		!strings.Contains(got[0], `"metadata":{"display_phone_number":"15550001000","phone_number_id":"3"}`) {
		t.Fatalf("user_preferences webhooks %q", got)
	}
	u.signal(network.SignalMarketingResume, consumer, "pref.2")
	nodetest.WaitFor(t, "resume acked", 10*time.Second, func() bool { return u.fn.ackCount("pref.2") == 1 })
	if u.n.FSM().MarketingStopped("3", ref) {
		t.Fatal("resume not recorded")
	}
	if got := prefs(); len(got) != 2 || !strings.Contains(got[1], `"value":"resume"`) {
		t.Fatalf("user_preferences webhooks %q", got)
	}
}
