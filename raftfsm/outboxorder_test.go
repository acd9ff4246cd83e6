package raftfsm

import (
	"fmt"
	"testing"
)

// twoSentMessages is a fresh state machine with a subscribed WABA and two
// accepted messages, m1 and m2 (keys statMsgKey(1) and (2)).
func twoSentMessages(t *testing.T) *applier {
	a := &applier{t: t, f: openFSM(t)}
	a.mustApply(tenantCmd(t, 1, "+15551234567"))
	a.mustApply(cmd(t, CmdSetSubscription, SetSubscription{WABAID: "2001", BusinessID: "1001", AppID: "4001", CallbackURL: "https://example.com/h", At: st0}))
	for i, id := range []string{"m1", "m2"} {
		a.mustApply(cmd(t, CmdAcceptMessage, AcceptMessage{Key: statMsgKey(i + 1), IDRef: MessageIDRef(id), PhoneNumberID: "3001",
			BusinessID: "1001", PeerRef: "ref" + id, Type: "text", CreatedAt: st0}))
	}
	return a
}

// TestStatusEventsOfOneMessageGoOneAtATime: a message's sent, delivered
// and read events are queued in that order with only the oldest
// deliverable; each leaves the outbox and releases the next, also when
// the older one is given up; another message's event is independent.
func TestStatusEventsOfOneMessageGoOneAtATime(t *testing.T) {
	a := twoSentMessages(t)
	ev := func(n int) *OutboxEvent {
		return &OutboxEvent{Key: statMsgKey(100 + n), Body: []byte(fmt.Sprint("event ", n)), CreatedAt: st0 + int64(n)}
	}
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		{IDRef: MessageIDRef("m1"), Status: StatusSent, At: st0 + 1, Event: ev(1)},
		{IDRef: MessageIDRef("m1"), Status: StatusDelivered, At: st0 + 2, Event: ev(2)},
		{IDRef: MessageIDRef("m2"), Status: StatusSent, At: st0 + 3, Event: ev(3)},
	}}))
	a.mustApply(cmd(t, CmdMessageStatuses, MessageStatuses{PhoneNumberID: "3001", Updates: []StatusUpdate{
		{IDRef: MessageIDRef("m1"), Status: StatusRead, At: st0 + 4, Event: ev(4)},
	}}))
	held := func() string {
		out, err := a.f.Outbox(0)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, e := range out {
			s += fmt.Sprintf("%s:%v@%d ", e.Body, e.Held, e.NextAt-st0)
		}
		return s
	}
	if got, want := held(), "event 1:false@1 event 2:true@2 event 3:false@3 event 4:true@4 "; got != want {
		t.Fatalf("queued %q, want %q", got, want)
	}
	// sent delivered: delivered becomes deliverable at that moment.
	a.mustApply(cmd(t, CmdWebhookAttempts, WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(101), Delivered: true, Status: "200", At: st0 + 50}}}))
	if got, want := held(), "event 2:false@50 event 3:false@3 event 4:true@4 "; got != want {
		t.Fatalf("after sent: %q, want %q", got, want)
	}
	// A failed attempt releases nothing; giving up does.
	a.mustApply(cmd(t, CmdWebhookAttempts, WebhookAttempts{Attempts: []WebhookAttempt{
		{Key: statMsgKey(102), Status: "503", At: st0 + 60, NextAt: st0 + 1060}}}))
	if got, want := held(), "event 2:false@1060 event 3:false@3 event 4:true@4 "; got != want {
		t.Fatalf("after a failure: %q, want %q", got, want)
	}
	a.mustApply(cmd(t, CmdWebhookAttempt, WebhookAttempt{Key: statMsgKey(102), GiveUp: true, Status: "unreadable", At: st0 + 70}))
	if got, want := held(), "event 3:false@3 event 4:false@70 "; got != want {
		t.Fatalf("after giving up: %q, want %q", got, want)
	}
}
