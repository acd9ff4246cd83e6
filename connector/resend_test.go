package connector

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
)

// TestResendNeverReEncrypts: an outbound message is encrypted once and its
// ciphertext committed; when the network refuses it, the connector sends
// the stored envelope again — the very same bytes — and never encrypts it
// anew (which would spend another message key and change the ciphertext).
// This is the path a new leader takes after failover: it finds committed
// envelopes in the replicated outbox and resends them.
func TestResendNeverReEncrypts(t *testing.T) {
	u := newUnit(t, Config{Resend: 50 * time.Millisecond})
	const business, consumer = "15550001000", "4915100000077"
	ph := newTestPhone(t, consumer)
	u.deliver(ph.envelope(t, u.fn, business, "ph.x", "hi"), "ph.x") // a session and an open window
	nodetest.WaitFor(t, "inbound acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.x") == 1 })

	u.fn.mu.Lock()
	u.fn.failSends, u.fn.sent = 2, nil
	u.fn.mu.Unlock()
	wamid := cloudapi.NewWAMID(consumer, true, [9]byte{1, 2, 3})
	content, err := cloudapi.EncodeContent(&cloudapi.SendRequest{MessagingProduct: "whatsapp", Type: "text",
		Text: &cloudapi.Text{Body: "your order shipped"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := u.n.FSM().Phone("3")
	if err != nil {
		t.Fatal(err)
	}
	sm, err := seal.SealMessage(ctx, u.sealer, p.EffectiveRetention(), wamid, consumer, content, "")
	if err != nil {
		t.Fatal(err)
	}
	propose(t, u.n, raftfsm.CmdAcceptMessage, raftfsm.AcceptMessage{Key: timeKey(u.now()), IDRef: sm.IDRef,
		IDSealed: sm.ID, PhoneNumberID: "3", BusinessID: "1",
		PeerRef: u.sealer.ConsumerRef("3", consumer), PeerSealed: sm.Peer,
		Type: "text", Content: sm.Content, RequireWindow: true, CreatedAt: u.now().UnixMilli()})

	var sent []network.Envelope
	nodetest.WaitFor(t, "two refused sends and a third that goes through", 10*time.Second, func() bool {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		sent = append(sent[:0], u.fn.sent...)
		return len(sent) >= 3 && u.fn.failSends == 0
	})
	for i, env := range sent[1:] {
		if env.ID != sent[0].ID || env.Kind != sent[0].Kind || !bytes.Equal(env.Ciphertext, sent[0].Ciphertext) {
			t.Fatalf("attempt %d differs from the first: the message was encrypted again", i+2)
		}
	}
	// The phone decrypts it, once.
	pt, err := ph.st.Decrypt(ctx, signalstore.Address(business, 1), sent[0].Kind, sent[0].Ciphertext)
	if err != nil {
		t.Fatalf("phone cannot decrypt the resent envelope: %v", err)
	}
	c, err := network.DecodeContent(pt)
	if err != nil || c.Text == nil || c.Text.Body != "your order shipped" {
		t.Fatalf("decrypted %+v %v", c, err)
	}
	if _, err := ph.st.Decrypt(ctx, signalstore.Address(business, 1), sent[1].Kind, sent[1].Ciphertext); err == nil {
		t.Fatal("a resend decrypted a second time: it was not the same message")
	}
	// Once accepted by the network, the envelope leaves the replicated outbox.
	nodetest.WaitFor(t, "envelope outbox empty", 10*time.Second, func() bool {
		st, _ := u.n.FSM().StoredEnvelopes(nil, 10)
		return len(st) == 0
	})
}

// timeKey is a 16-byte message key starting with t (as proposers make them).
func timeKey(t time.Time) []byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], uint64(t.UnixNano()))
	k[15] = 1
	return k[:]
}

// TestResendWaitsFromTheSend: an envelope whose commit took longer than
// cfg.Resend (counted from when its message was claimed) is sent once;
// while its `sent` status is still being committed it is not sent again
// until cfg.Resend has passed since that send. The resend timer used to run
// from the claim, and under load every envelope still
// waiting for its `sent` commit went to the network twice (issue 12).
func TestResendWaitsFromTheSend(t *testing.T) {
	const resend = 10 * time.Second // on the test clock, which the test moves
	heldCommit, releaseCommit := make(chan struct{}, 1), make(chan struct{})
	heldSent, releaseSent := make(chan struct{}, 1), make(chan struct{})
	var onceC, onceS, relC, relS sync.Once
	u := newUnitWith(t, Config{Resend: resend}, func(_ *unit, p Proposer) Proposer {
		return &commitGate{Proposer: p,
			onSignal: func(sc raftfsm.SignalCommit, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
				if len(sc.Outbound) > 0 {
					onceC.Do(func() { heldCommit <- struct{}{}; <-releaseCommit })
				}
				return next()
			},
			onStatuses: func(ms raftfsm.MessageStatuses) {
				if len(ms.SentKeys) > 0 {
					onceS.Do(func() { heldSent <- struct{}{}; <-releaseSent })
				}
			}}
	})
	t.Cleanup(func() { relC.Do(func() { close(releaseCommit) }); relS.Do(func() { close(releaseSent) }) })
	const consumer = "4915100000091"
	ph := newTestPhone(t, consumer)
	ph.register(t, u.fn)
	w := u.accept(t, `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"template","template":{"name":"r","language":{"code":"en"}}}`)
	wait := func(what string, ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never came", what)
		}
	}
	wait("the envelope's commit", heldCommit)
	u.clock.Add(int64(2 * resend)) // the claim is now older than cfg.Resend
	relC.Do(func() { close(releaseCommit) })
	wait("the sent status", heldSent)
	if n := u.fn.sentCount(w); n != 1 {
		t.Fatalf("%d sends before the sent status, want 1", n)
	}
	// The connector scans every 5 ms (at most every 100 ms when idle): a
	// resend timed from the claim would happen within this window.
	if poll.Wait(400*time.Millisecond, func() bool { return u.fn.sentCount(w) != 1 }) {
		t.Fatalf("sent %d times within cfg.Resend of the send", u.fn.sentCount(w))
	}
	// cfg.Resend after the send, with the status still not committed, it
	// does go again (the same bytes: TestResendNeverReEncrypts).
	u.clock.Add(int64(resend + time.Second))
	nodetest.WaitFor(t, "the resend", 10*time.Second, func() bool { return u.fn.sentCount(w) == 2 })
	relS.Do(func() { close(releaseSent) })
	checkDelivered(t, u, ph, []string{w})
}
