package phone_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

// testBusiness plays waedge's part: its own libsignal store, talking to the relay only through the
// network.Network interface.
type testBusiness struct {
	number string
	sig    *phone.SignalStore
	net    network.Network
	locks  phone.Locks
	ch     <-chan network.Delivery
}

func (b *testBusiness) Sign(number string, msg []byte) ([]byte, error) {
	if number != b.number {
		return nil, phone.ErrWrongNumber
	}
	return b.sig.SignAuth(msg), nil
}

func newBusiness(t *testing.T, e *env, number string) *testBusiness {
	t.Helper()
	ctx := tctx(t)
	sig, err := phone.OpenSignalStore(phone.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	b := &testBusiness{number: number, sig: sig}
	c, err := relayclient.Dial(ctx, e.url, relayclient.Options{Signer: b, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b.net = c
	otks, err := sig.NewPreKeys(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sig.Registration(ctx, number, network.RoleBusiness, otks)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.net.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if b.ch, err = b.net.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// next returns the next delivery of type want, acking everything it reads.
func (b *testBusiness) next(t *testing.T, want network.DeliveryType) network.Delivery {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case d := <-b.ch:
			if d.ID != "" {
				if err := b.net.Ack(context.Background(), b.number, d.ID); err != nil {
					t.Fatal(err)
				}
			}
			if d.Type == want {
				return d
			}
		case <-timeout:
			t.Fatalf("business got no delivery of type %d", want)
		}
	}
}

func (b *testBusiness) decrypt(t *testing.T, env *network.Envelope) network.Content {
	t.Helper()
	addr := phone.Address(env.From, env.FromDevice)
	unlock := b.locks.Lock(addr.String())
	defer unlock()
	pt, err := b.sig.Decrypt(context.Background(), addr, env.Kind, env.Ciphertext)
	if err != nil {
		t.Fatalf("business decrypt: %v", err)
	}
	c, err := network.DecodeContent(pt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *testBusiness) send(t *testing.T, to string, c network.Content) network.Envelope {
	t.Helper()
	ctx := tctx(t)
	addr := phone.Address(to, 1)
	unlock := b.locks.Lock(addr.String())
	defer unlock()
	if ok, _ := b.sig.ContainsSession(ctx, addr); !ok {
		bundle, err := b.net.FetchBundle(ctx, to)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.sig.StartSession(ctx, bundle); err != nil {
			t.Fatal(err)
		}
	}
	pt, err := network.EncodeContent(&c)
	if err != nil {
		t.Fatal(err)
	}
	kind, ct, err := b.sig.Encrypt(ctx, addr, pt)
	if err != nil {
		t.Fatal(err)
	}
	env := network.Envelope{ID: c.ID, From: b.number, To: to, FromDevice: 1, Kind: kind, Ciphertext: ct,
		Timestamp: time.Now().UnixMilli()}
	if err := b.net.Send(ctx, env); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestPhoneAndBusinessOverNetworkInterface(t *testing.T) {
	e := newEnv(t)
	biz := newBusiness(t, e, "15550001000")
	p := e.phone("4915100001000", nil, nil)
	ctx := tctx(t)

	// Consumer starts the conversation: the business answers the pkmsg.
	m, err := p.SendText(ctx, biz.number, marker+"I need help")
	if err != nil {
		t.Fatal(err)
	}
	d := biz.next(t, network.DeliveryEnvelope)
	if d.Envelope.Kind != network.KindPreKeyMessage || d.Envelope.ProfileName != p.Name() {
		t.Fatalf("first envelope kind %d name %q", d.Envelope.Kind, d.Envelope.ProfileName)
	}
	if c := biz.decrypt(t, d.Envelope); c.Text == nil || c.Text.Body != marker+"I need help" || c.ID != m.ID {
		t.Fatalf("business decrypted %+v", c)
	}
	if err := biz.net.SendReceipt(ctx, network.Receipt{EnvelopeIDs: []string{m.ID}, From: biz.number, To: p.Number(),
		Status: network.StatusRead, Timestamp: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "phone sees the business read receipt", func() bool { return status(t, p, m.ID) == phone.StatusRead })

	// The business replies with an interactive prompt; the phone answers with a button reply.
	prompt := network.Content{ID: "wamid.reply1", Type: network.ContentInteractive, Interactive: &network.Interactive{
		Type: "button", Body: marker + "Pick one", Buttons: []network.Button{{ID: "yes", Title: "Yes"}}}}
	if env := biz.send(t, p.Number(), prompt); env.Kind != network.KindSignalMessage {
		t.Fatalf("business reply kind %d", env.Kind)
	}
	eventually(t, "prompt in inbox", func() bool { _, err := p.Message("wamid.reply1"); return err == nil })
	r := biz.next(t, network.DeliveryReceipt)
	if r.Receipt.Status != network.StatusDelivered || r.Receipt.EnvelopeIDs[0] != "wamid.reply1" {
		t.Fatalf("receipt %+v", r.Receipt)
	}
	if err := biz.net.Typing(ctx, biz.number, p.Number()); err != nil {
		t.Fatal(err)
	}
	reply, err := p.Send(ctx, biz.number, network.Content{Type: network.ContentButtonReply,
		Reply: &network.Reply{ID: "yes", Title: "Yes"}, Context: &network.Context{MessageID: "wamid.reply1"}})
	if err != nil {
		t.Fatal(err)
	}
	d = biz.next(t, network.DeliveryEnvelope)
	if c := biz.decrypt(t, d.Envelope); c.Type != network.ContentButtonReply || c.Context.MessageID != "wamid.reply1" || c.ID != reply.ID {
		t.Fatalf("business decrypted %+v", c)
	}

	// Integrity signals.
	if err := p.ReportSpam(ctx, biz.number); err != nil {
		t.Fatal(err)
	}
	if s := biz.next(t, network.DeliverySignal); s.Signal.Kind != network.SignalSpamReport || s.Signal.Consumer != p.Number() {
		t.Fatalf("signal %+v", s.Signal)
	}
	if err := p.Block(ctx, biz.number); err != nil {
		t.Fatal(err)
	}
	if s := biz.next(t, network.DeliverySignal); s.Signal.Kind != network.SignalBlock {
		t.Fatalf("signal %+v", s.Signal)
	}
	pt, _ := network.EncodeContent(&network.Content{ID: "wamid.blocked", Type: network.ContentText, Text: &network.Text{Body: "x"}})
	if err := biz.net.Send(ctx, network.Envelope{ID: "wamid.blocked", From: biz.number, To: p.Number(), FromDevice: 1,
		Kind: network.KindSignalMessage, Ciphertext: pt}); err == nil {
		t.Fatal("blocked business could still send")
	}
	for _, f := range e.tap.all() {
		if bytes.Contains(f, []byte(marker)) {
			t.Fatal("the relay received plaintext")
		}
	}
}

func TestBusinessInitiatesWithBundle(t *testing.T) {
	e := newEnv(t)
	biz := newBusiness(t, e, "15550002000")
	p := e.phone("4915100002000", nil, nil)
	ctx := tctx(t)
	before, err := p.client.PreKeyCount(ctx, p.Number())
	if err != nil {
		t.Fatal(err)
	}
	env := biz.send(t, p.Number(), network.Content{ID: "wamid.t1", Type: network.ContentTemplate,
		Template: &network.Template{Name: "hello_world", Language: "en_US", Body: "Hello"}})
	if env.Kind != network.KindPreKeyMessage {
		t.Fatalf("business first message kind %d", env.Kind)
	}
	eventually(t, "template in inbox", func() bool { _, err := p.Message("wamid.t1"); return err == nil })
	// The business's bundle consumed exactly one of the phone's one-time prekeys.
	if n, err := p.client.PreKeyCount(ctx, p.Number()); err != nil || n != before-1 {
		t.Fatalf("prekeys left %d (%v), want %d", n, err, before-1)
	}
	m, err := p.SendText(ctx, biz.number, "thanks")
	if err != nil {
		t.Fatal(err)
	}
	d := biz.next(t, network.DeliveryEnvelope)
	if d.Envelope.Kind != network.KindSignalMessage {
		t.Fatalf("phone answer kind %d, want msg on the business's session", d.Envelope.Kind)
	}
	if c := biz.decrypt(t, d.Envelope); c.ID != m.ID {
		t.Fatalf("decrypted %+v", c)
	}
}
