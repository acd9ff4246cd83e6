package connector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waedge/waedge/node/nodetest"
)

// TestSessionFromSignedPreKeyAlone: once the business number's one-time
// prekeys are gone (drained by fetches), a new consumer's bundle carries
// the signed prekey alone; libsignal starts the session from it (3-DH),
// the business decrypts the first message and its reply decrypts on the
// phone; the pkmsg then makes the connector top the pool up.
func TestSessionFromSignedPreKeyAlone(t *testing.T) {
	const batch = 8
	u := newUnit(t, Config{PreKeyBatch: batch})
	const business, consumer = "15550001000", "4915100000047"
	pool := func() int {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		return len(u.fn.regs[business].PreKeys)
	}
	for i := 0; i < batch; i++ { // a drain: every one-time key handed out, none used
		if _, err := u.fn.FetchBundle(context.Background(), business); err != nil {
			t.Fatal(err)
		}
	}
	b, err := u.fn.FetchBundle(context.Background(), business)
	if err != nil || b.PreKeyID != 0 || len(b.PreKey) != 0 || pool() != 0 {
		t.Fatalf("bundle after the drain: one-time key %d (%d bytes), pool %d, %v", b.PreKeyID, len(b.PreKey), pool(), err)
	}
	ph := newTestPhone(t, consumer)
	ph.register(t, u.fn)
	u.deliver(ph.envelope(t, u.fn, business, "ph.spk1", "no one-time key"), "ph.spk1")
	nodetest.WaitFor(t, "first message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.spk1") == 1 })
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.spk1")); err != nil {
		t.Fatalf("inbound message not stored: %v", err)
	}
	reply := u.accept(t, `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"text","text":{"body":"hi back"}}`)
	if c := ph.open(t, u.sentTo(t, reply)); c.Text == nil || c.Text.Body != "hi back" {
		t.Fatalf("reply %+v", c)
	}
	// The phone goes on in the same session (a plain message now).
	u.deliver(ph.envelope(t, u.fn, business, "ph.spk2", "second"), "ph.spk2")
	nodetest.WaitFor(t, "second message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.spk2") == 1 })
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.spk2")); err != nil {
		t.Fatalf("second message: %v", err)
	}
	nodetest.WaitFor(t, fmt.Sprintf("pool topped up to %d", batch), 10*time.Second, func() bool { return pool() == batch })
}
