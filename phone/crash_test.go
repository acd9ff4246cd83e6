package phone_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

var errInjected = errors.New("injected fault")

// faultStore fails the first Write that stores an inbox message while armed: the process "crashes"
// between decrypting an envelope and saving what the decryption produced.
type faultStore struct {
	phone.Store
	armed atomic.Bool
	fired atomic.Bool
}

func (s *faultStore) Write(entries ...phone.Entry) error {
	for _, e := range entries {
		if e.Bucket == "inbox" && s.armed.CompareAndSwap(true, false) {
			s.fired.Store(true)
			return errInjected
		}
	}
	return s.Store.Write(entries...)
}

// ackDropper loses the phone's acks and receipts while armed: the crash comes after the message is
// stored but before the relay or the sender hear about it.
type ackDropper struct {
	*relayclient.Client
	drop    atomic.Bool
	dropped atomic.Int32
}

func (a *ackDropper) Ack(ctx context.Context, number string, ids ...string) error {
	if a.drop.Load() {
		a.dropped.Add(1)
		return errInjected
	}
	return a.Client.Ack(ctx, number, ids...)
}

func (a *ackDropper) SendReceipt(ctx context.Context, r network.Receipt) error {
	if a.drop.Load() {
		return errInjected
	}
	return a.Client.SendReceipt(ctx, r)
}

// startOn starts a phone on st over a transport the test controls.
func (e *env) startOn(number string, st phone.Store) (*phone.Phone, *ackDropper) {
	e.t.Helper()
	p, err := phone.New(phone.Config{Number: number, Name: "Crash", Store: st}, quiet())
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := relayclient.Dial(tctx(e.t), e.url, relayclient.Options{Signer: p, Logger: quiet()})
	if err != nil {
		e.t.Fatal(err)
	}
	t := &ackDropper{Client: c}
	if err := p.Start(tctx(e.t), t); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Close(); _ = c.Close() })
	return p, t
}

// TestCrashBetweenDecryptAndSave: the receiving phone's store fails the write of a decrypted
// message (a crash at that point), the phone goes down without acking, comes back on the same
// store, and the relay's redelivery is shown exactly once — then a crash after the save but before
// the ack and the receipt is redelivered and still shown once, with its delivery receipt sent again.
func TestCrashBetweenDecryptAndSave(t *testing.T) {
	e := newEnv(t)
	a := e.phone("4915100000041", nil, nil)
	const bNum = "4915100000042"
	st := &faultStore{Store: phone.NewMemStore()}
	b, _ := e.startOn(bNum, st)
	ctx := tctx(t)
	if _, err := a.SendText(ctx, bNum, "first"); err != nil {
		t.Fatal(err)
	}
	waitPhoneInbox(t, b, "first")

	st.armed.Store(true)
	second, err := a.SendText(ctx, bNum, "second")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the injected fault", st.fired.Load)
	_ = b.Close() // the crash: nothing after the failed write happens
	if got := phoneTexts(t, b); len(got) != 1 {
		t.Fatalf("inbox after the failed save: %v", got)
	}
	b, tr := e.startOn(bNum, st)
	waitPhoneInbox(t, b, "first", "second")
	eventually(t, "second delivered to the sender", func() bool { return status(t, a, second.ID) == phone.StatusDelivered })

	// A crash after the save, before the ack: the redelivery is a duplicate and is shown once.
	tr.drop.Store(true)
	third, err := a.SendText(ctx, bNum, "third")
	if err != nil {
		t.Fatal(err)
	}
	waitPhoneInbox(t, b, "first", "second", "third")
	eventually(t, "the lost ack", func() bool { return tr.dropped.Load() > 0 })
	_ = b.Close()
	if s := status(t, a, third.ID); s != phone.StatusSent {
		t.Fatalf("third is %q before the restart; the dropped receipt should have left it sent", s)
	}
	b, _ = e.startOn(bNum, st)
	// The redelivered "third" is acked this time; "fourth" queued behind it proves it was handled.
	if _, err := a.SendText(ctx, bNum, "fourth"); err != nil {
		t.Fatal(err)
	}
	waitPhoneInbox(t, b, "first", "second", "third", "fourth")
	eventually(t, "third delivered", func() bool { return status(t, a, third.ID) == phone.StatusDelivered })
	// The conversation still works the other way (the session survived both crashes).
	if _, err := b.SendText(ctx, a.Number(), "back"); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, a, "back")
}

func phoneTexts(t *testing.T, p *phone.Phone) []string {
	t.Helper()
	return inboxTexts(t, &device{Phone: p})
}

func waitPhoneInbox(t *testing.T, p *phone.Phone, want ...string) {
	t.Helper()
	waitInbox(t, &device{Phone: p}, want...)
}
