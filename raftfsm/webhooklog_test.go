package raftfsm

import (
	"testing"
	"time"
)

// TestWebhookLog: an event that leaves the outbox (delivered or dropped)
// is kept in the delivery log with its attempts and last status, newest
// first, and entries older than WebhookLogKeep are dropped by later
// attempts (the leader's time, so every replica drops the same).
func TestWebhookLog(t *testing.T) {
	a := retentionFixture(t)
	a.inbound("3001", "a", t0)
	evs, _ := a.f.Outbox(0)
	k1 := evs[0].Key
	a.mustApply(cmd(t, CmdWebhookAttempt, WebhookAttempt{Key: k1, Status: "503", At: t0 + 1, NextAt: t0 + 1000}))
	a.mustApply(cmd(t, CmdWebhookAttempt, WebhookAttempt{Key: k1, Status: "200", Delivered: true, At: t0 + 2000}))
	a.inbound("3001", "b", t0+10)
	evs, _ = a.f.Outbox(0)
	k2 := evs[0].Key
	a.mustApply(cmd(t, CmdWebhookAttempt, WebhookAttempt{Key: k2, Status: "unreadable", GiveUp: true, At: t0 + 3000}))
	if evs, _ := a.f.Outbox(0); len(evs) != 0 {
		t.Fatalf("outbox still holds %d events", len(evs))
	}
	var got []WebhookLogEntry
	read := func() {
		got = got[:0]
		if err := a.f.WebhookLog(func(_ []byte, e WebhookLogEntry) bool { got = append(got, e); return true }); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if len(got) != 2 || got[0].Outcome != WebhookDropped || got[0].Attempts != 1 || got[0].LastStatus != "unreadable" ||
		got[1].Outcome != WebhookDelivered || got[1].Attempts != 2 || got[1].LastStatus != "200" || got[1].WABAID != "2001" {
		t.Fatalf("log %+v", got)
	}
	// Eight days later another delivery drops both old entries.
	later := t0 + (8 * 24 * time.Hour).Milliseconds()
	a.inbound("3001", "c", later)
	evs, _ = a.f.Outbox(0)
	a.mustApply(cmd(t, CmdWebhookAttempt, WebhookAttempt{Key: evs[0].Key, Status: "200", Delivered: true, At: later + 1}))
	read()
	if len(got) != 1 || got[0].CreatedAt != later {
		t.Fatalf("after a week: %+v", got)
	}
}
