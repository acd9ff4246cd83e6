package raftfsm

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestWebhookRedeliver: CmdWebhookAttemptsV2 keeps a finished event's
// sealed body, phone number and group in the delivery log (the older
// commands do not), and CmdWebhookRedeliver queues a fresh copy of it —
// new key, same body, WABA, phone number and creation time, no attempts,
// due at once, in no group — leaving the log entry in place. A command naming an entry
// without a body, of another business, unknown or older than its
// number's retention fails whole, queuing nothing.
func TestWebhookRedeliver(t *testing.T) {
	a := retentionFixture(t)
	a.inbound("3001", "a", t0)
	a.inbound("3001", "b", t0+10)
	evs, _ := a.f.Outbox(0)
	if len(evs) != 2 {
		t.Fatalf("outbox %d events", len(evs))
	}
	kOld, kNew := evs[0].Key, evs[1].Key
	a.mustApply(cmd(t, CmdWebhookAttempts, WebhookAttempts{Attempts: []WebhookAttempt{{Key: kOld, Status: "200", Delivered: true, At: t0 + 100}}}))
	a.mustApply(cmd(t, CmdWebhookAttemptsV2, WebhookAttempts{Attempts: []WebhookAttempt{{Key: kNew, Status: "410", GiveUp: true, At: t0 + 200}}}))
	log := map[string]WebhookLogEntry{}
	if err := a.f.WebhookLog(func(k []byte, e WebhookLogEntry) bool { log[string(k)] = e; return true }); err != nil {
		t.Fatal(err)
	}
	if l := log[string(kOld)]; l.Body != nil || l.Outcome != WebhookDelivered {
		t.Fatalf("entry of the old command %+v", l)
	}
	l := log[string(kNew)]
	if string(l.Body) != "sealed-body" || l.PhoneNumberID != "3001" || l.Outcome != WebhookDropped {
		t.Fatalf("entry of V2 %+v", l)
	}

	redeliverAt := func(at int64, business string, keys ...[]byte) Result {
		var nks [][]byte
		for range keys {
			nks = append(nks, msgKey(at))
		}
		return a.apply(cmd(t, CmdWebhookRedeliver, WebhookRedeliver{BusinessID: business, Keys: keys, NewKeys: nks, At: at}))
	}
	redeliver := func(business string, keys ...[]byte) Result { return redeliverAt(t0+1000, business, keys...) }
	for _, c := range []struct {
		name     string
		business string
		keys     [][]byte
		want     error
	}{
		{"an entry without a body", "1001", [][]byte{kNew, kOld}, ErrInvalid},
		{"another business", "1002", [][]byte{kNew}, ErrNotFound},
		{"an unknown entry", "1001", [][]byte{kNew, msgKey(t0 + 5)}, ErrNotFound},
		{"no entries", "1001", nil, ErrInvalid},
		{"older than the number's retention", "1001", [][]byte{kNew}, ErrInvalid},
	} {
		at := int64(t0 + 1000)
		if c.name == "older than the number's retention" {
			at = t0 + 10 + (MaxRetention + time.Hour).Milliseconds()
		}
		if r := redeliverAt(at, c.business, c.keys...); !errors.Is(r.Err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, r.Err, c.want)
		}
		if evs, _ := a.f.Outbox(0); len(evs) != 0 {
			t.Fatalf("%s: queued %d events", c.name, len(evs))
		}
	}
	if r := redeliver("1001", kNew); r.Err != nil {
		t.Fatal(r.Err)
	}
	evs, _ = a.f.Outbox(0)
	if len(evs) != 1 {
		t.Fatalf("outbox %d events", len(evs))
	}
	e := evs[0]
	if bytes.Equal(e.Key, kNew) || string(e.Body) != "sealed-body" || e.WABAID != "2001" || e.BusinessID != "1001" ||
		e.PhoneNumberID != "3001" || e.Attempts != 0 || e.Held || e.Group != "" || e.NextAt != t0+1000 || e.CreatedAt != t0+10 {
		t.Fatalf("redelivered %+v", e)
	}
	n := 0
	_ = a.f.WebhookLog(func(k []byte, _ WebhookLogEntry) bool { n++; return true })
	if n != 2 {
		t.Fatalf("log has %d entries, want both kept", n)
	}
	// Its delivery is logged under the new key, with its body again.
	a.mustApply(cmd(t, CmdWebhookAttemptsV2, WebhookAttempts{Attempts: []WebhookAttempt{{Key: e.Key, Status: "200", Delivered: true, At: t0 + 1100}}}))
	log = map[string]WebhookLogEntry{}
	_ = a.f.WebhookLog(func(k []byte, e WebhookLogEntry) bool { log[string(k)] = e; return true })
	if l := log[string(e.Key)]; l.Outcome != WebhookDelivered || string(l.Body) != "sealed-body" {
		t.Fatalf("redelivered entry %+v", l)
	}
}
