package connector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/state/record"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
)

// fakeNet is an in-memory network.Network for driving the connector
// precisely: the test pushes deliveries and sees every send, ack and
// registration.
type fakeNet struct {
	mu      sync.Mutex
	regs    map[string]network.Registration // number → latest registration (prekeys accumulate)
	regCnt  map[string]int
	sent    []network.Envelope
	acked   map[string]int
	receipt []network.Receipt
	typing  []string // "from>to"
	ch      chan network.Delivery
	// failSends makes that many next sends fail (recorded in sent anyway).
	failSends int
	// beforePublish, when set, sees every batch of prekeys before it is
	// published (Register or AddPreKeys).
	beforePublish func(number string, otks []network.OneTimePreKey)
	// ackHold, when set, holds every Ack until it is closed.
	ackHold chan struct{}
}

// errFakeUnreachable is the fake network's failure of a send.
var errFakeUnreachable = errors.New("fake network: unreachable")

func newFakeNet() *fakeNet {
	return &fakeNet{regs: map[string]network.Registration{}, regCnt: map[string]int{}, acked: map[string]int{},
		ch: make(chan network.Delivery, 64)}
}

func (f *fakeNet) Register(_ context.Context, reg network.Registration) error {
	f.mu.Lock()
	hook := f.beforePublish
	f.mu.Unlock()
	if hook != nil {
		hook(reg.Number, reg.PreKeys)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.regs[reg.Number]
	reg.PreKeys = append(old.PreKeys, reg.PreKeys...)
	f.regs[reg.Number] = reg
	f.regCnt[reg.Number]++
	return nil
}
func (f *fakeNet) Login(_ context.Context, number string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.regs[number]; !ok {
		return network.ErrNotRegistered
	}
	return nil
}
func (f *fakeNet) AddPreKeys(_ context.Context, number string, otks []network.OneTimePreKey) error {
	f.mu.Lock()
	hook := f.beforePublish
	f.mu.Unlock()
	if hook != nil {
		hook(number, otks)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.regs[number]
	r.PreKeys = append(r.PreKeys, otks...)
	f.regs[number] = r
	return nil
}
func (f *fakeNet) PreKeyCount(_ context.Context, number string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.regs[number].PreKeys), nil
}
func (f *fakeNet) FetchBundle(_ context.Context, number string) (network.PreKeyBundle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.regs[number]
	if !ok {
		return network.PreKeyBundle{}, network.ErrNotRegistered
	}
	b := network.PreKeyBundle{Number: number, DeviceID: r.DeviceID, RegistrationID: r.RegistrationID,
		IdentityKey: r.IdentityKey, SignedPreKeyID: r.SignedPreKey.ID, SignedPreKey: r.SignedPreKey.Public,
		SignedPreKeySig: r.SignedPreKey.Signature}
	if len(r.PreKeys) > 0 {
		b.PreKeyID, b.PreKey = r.PreKeys[0].ID, r.PreKeys[0].Public
		r.PreKeys = r.PreKeys[1:]
		f.regs[number] = r
	}
	return b, nil
}
func (f *fakeNet) Send(_ context.Context, env network.Envelope) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, env)
	if f.failSends > 0 {
		f.failSends--
		return errFakeUnreachable
	}
	return nil
}
func (f *fakeNet) Receive(context.Context) (<-chan network.Delivery, error) { return f.ch, nil }
func (f *fakeNet) Ack(_ context.Context, _ string, ids ...string) error {
	f.mu.Lock()
	hold := f.ackHold
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.acked[id]++
	}
	return nil
}
func (f *fakeNet) SendReceipt(_ context.Context, r network.Receipt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receipt = append(f.receipt, r)
	return nil
}
func (f *fakeNet) Typing(_ context.Context, from, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typing = append(f.typing, from+">"+to)
	return nil
}
func (f *fakeNet) Close() error { return nil }

func (f *fakeNet) ackCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acked[id]
}

// testPhone is a consumer device built directly on signalstore.
type testPhone struct {
	number string
	st     *signalstore.SignalStore
}

func newTestPhone(t testing.TB, number string) *testPhone {
	st, err := signalstore.Open(signalstore.NewMemStore())
	if err != nil {
		t.Fatal(err)
	}
	return &testPhone{number: number, st: st}
}

// envelope encrypts content for the business, starting a session from the
// business's bundle when there is none.
func (p *testPhone) envelope(t testing.TB, fn *fakeNet, business, id, text string) network.Envelope {
	t.Helper()
	ctx := context.Background()
	addr := signalstore.Address(business, 1)
	if ok, _ := p.st.ContainsSession(ctx, addr); !ok {
		b, err := fn.FetchBundle(ctx, business)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.st.StartSession(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	body, err := network.EncodeContent(&network.Content{ID: id, Type: network.ContentText, Text: &network.Text{Body: text}})
	if err != nil {
		t.Fatal(err)
	}
	kind, ct, err := p.st.Encrypt(ctx, addr, body)
	if err != nil {
		t.Fatal(err)
	}
	return network.Envelope{ID: id, From: p.number, To: business, FromDevice: 1, Kind: kind, Ciphertext: ct,
		Timestamp: time.Now().UnixMilli(), ProfileName: "Ana"}
}

// register puts the phone on the fake network with a few one-time
// prekeys, so the business can fetch its bundle.
func (p *testPhone) register(t testing.TB, fn *fakeNet) {
	t.Helper()
	ctx := context.Background()
	otks, err := p.st.NewPreKeys(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := p.st.Registration(ctx, p.number, network.RolePhone, otks)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
}

// open decrypts an envelope the business sent to the phone.
func (p *testPhone) open(t testing.TB, env network.Envelope) network.Content {
	t.Helper()
	pt, err := p.st.Decrypt(context.Background(), signalstore.Address(env.From, env.FromDevice), env.Kind, env.Ciphertext)
	if err != nil {
		t.Fatalf("phone cannot decrypt %s (kind %d): %v", env.ID, env.Kind, err)
	}
	c, err := network.DecodeContent(pt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sentTo waits for the business's envelope with id and returns it.
func (u *unit) sentTo(t testing.TB, id string) network.Envelope {
	t.Helper()
	var env network.Envelope
	nodetest.WaitFor(t, "envelope "+id+" sent", 10*time.Second, func() bool {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		for _, e := range u.fn.sent {
			if e.ID == id {
				env = e
				return true
			}
		}
		return false
	})
	return env
}

// accept stores an outbound message from the business number (phone-number
// id 3) as the Cloud API does: content, consumer number, wamid and
// callback data sealed under the number's retention class. It returns the
// wamid.
func (u *unit) accept(t *testing.T, body string) string {
	t.Helper()
	ctx := context.Background()
	req, err := cloudapi.ParseSend([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	p, err := u.n.FSM().Phone("3")
	if err != nil {
		t.Fatal(err)
	}
	ret := p.EffectiveRetention()
	content, err := cloudapi.EncodeContent(req)
	if err != nil {
		t.Fatal(err)
	}
	var keyID [9]byte
	_, _ = rand.Read(keyID[:])
	waID := req.WAID()
	wamid := cloudapi.NewWAMID(waID, true, keyID)
	sm, err := seal.SealMessage(ctx, u.sealer, ret, wamid, waID, content, req.BizOpaqueCallbackData)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(u.now().UnixNano()))
	copy(key[8:], keyID[:8])
	typ := req.MessageContent().Type
	propose(t, u.n, raftfsm.CmdAcceptMessage, raftfsm.AcceptMessage{Key: key[:], IDRef: sm.IDRef,
		IDSealed: sm.ID, PhoneNumberID: "3", BusinessID: "1",
		PeerRef: u.sealer.ConsumerRef("3", waID), PeerSealed: sm.Peer,
		Type: typ, Content: sm.Content, CallbackSealed: sm.Callback,
		RequireWindow: typ != "template", CreatedAt: u.now().UnixMilli()})
	return wamid
}

type unit struct {
	n      *node.Node
	fn     *fakeNet
	sealer *seal.Sealer
	clock  *atomic.Int64 // offset added to the real clock
}

func (u *unit) now() time.Time { return time.Now().Add(time.Duration(u.clock.Load())) }

func propose(t testing.TB, n *node.Node, typ raftfsm.CommandType, payload any) {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Propose(context.Background(), cmd)
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
}

// newUnit runs a connector on a one-node cluster with a fake network; the
// business number is 15550001000 (phone-number id 3, WABA 2).
func newUnit(t testing.TB, cfg Config) *unit { return newUnitWith(t, cfg, nil) }

// newUnitWith is newUnit with the connector's proposer wrapped by wrap
// (nil: the node itself).
func newUnitWith(t testing.TB, cfg Config, wrap func(*unit, Proposer) Proposer) *unit {
	n := nodetest.Cluster(t, 1)[0]
	u := &unit{n: n, fn: newFakeNet(), sealer: seal.New(n, n.KEK(), nil), clock: &atomic.Int64{}}
	u.sealer = seal.New(n, n.KEK(), u.now)
	propose(t, n, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme", WABAID: "2",
		PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok"))})
	propose(t, n, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "2", BusinessID: "1", AppID: "4",
		CallbackURL: "http://127.0.0.1:1/hook"})
	cfg.Numbers, cfg.Poll = 20*time.Millisecond, 5*time.Millisecond
	var p Proposer = n
	if wrap != nil {
		p = wrap(u, n)
	}
	c := New(Deps{Cluster: p, Sealer: u.sealer, Now: u.now,
		Dial: func(context.Context, network.Signer) (network.Network, error) { return u.fn, nil }}, cfg)
	n.RegisterWorker("network", c.Run)
	nodetest.WaitFor(t, "business registered", 10*time.Second, func() bool {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		return len(u.fn.regs["15550001000"].PreKeys) > 0
	})
	return u
}

func (u *unit) deliver(env network.Envelope, ackID string) {
	e := env
	u.fn.ch <- network.Delivery{Type: network.DeliveryEnvelope, ID: ackID, Envelope: &e}
}

func outboxBodies(t *testing.T, u *unit) []string {
	ev, err := u.n.FSM().Outbox(0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ev {
		b, err := u.sealer.Open(raftfsm.WebhookAAD(e.WABAID), e.Body)
		if err != nil {
			t.Fatalf("outbox body does not open: %v", err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestInboundRetransmitAndReinstall: an envelope is acknowledged only
// after its message is committed, a retransmit of the same ciphertext is
// acknowledged again without a second message, and a consumer who
// reinstalled (new identity key, same number) is accepted with the change
// surfaced on the webhook and through the identity hash.
// TestAckDoesNotHoldThePair: the network's answer to an ack is not waited
// for on the pair's shard — the consumer's next message is decrypted and
// committed while the ack of the first is still outstanding; both acks go
// once the network answers.
func TestAckDoesNotHoldThePair(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer = "15550001000", "4915100000044"
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release)
	u.fn.mu.Lock()
	u.fn.ackHold = hold
	u.fn.mu.Unlock()
	ph := newTestPhone(t, consumer)
	u.deliver(ph.envelope(t, u.fn, business, "ph.a1", "one"), "ph.a1")
	u.deliver(ph.envelope(t, u.fn, business, "ph.a2", "two"), "ph.a2")
	nodetest.WaitFor(t, "both messages committed while the first ack is held", 10*time.Second, func() bool {
		_, err1 := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.a1"))
		_, err2 := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.a2"))
		return err1 == nil && err2 == nil
	})
	if u.fn.ackCount("ph.a1")+u.fn.ackCount("ph.a2") != 0 {
		t.Fatal("an ack went through while the network held it")
	}
	release()
	nodetest.WaitFor(t, "both acked", 10*time.Second, func() bool {
		return u.fn.ackCount("ph.a1") == 1 && u.fn.ackCount("ph.a2") == 1
	})
}

func TestInboundRetransmitAndReinstall(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer = "15550001000", "4915100000042"
	ph := newTestPhone(t, consumer)
	env := ph.envelope(t, u.fn, business, "ph.1", "first message")
	u.deliver(env, "ph.1")
	nodetest.WaitFor(t, "first message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.1") == 1 })
	wamid := inboundWAMID(consumer, "ph.1")
	m, err := u.n.FSM().MessageByID(wamid)
	if err != nil || m.PeerRef != u.sealer.ConsumerRef("3", consumer) || m.NetworkID != "ph.1" {
		t.Fatalf("message %+v %v", m, err)
	}
	count := u.n.FSM().MessageCount()

	// The relay redelivers (our ack was lost): acked again, nothing new.
	u.deliver(env, "ph.1")
	nodetest.WaitFor(t, "retransmit acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.1") == 2 })
	if u.n.FSM().MessageCount() != count {
		t.Fatal("a retransmit stored a second message")
	}
	firstKey := ph.st.IdentityPublicKey()
	if h, ok := (Identities{FSM: u.n.FSM(), Sealer: u.sealer}).IdentityHash("3", consumer); !ok || h != IdentityHash(firstKey) {
		t.Fatalf("identity hash %q %v", h, ok)
	}
	for _, b := range outboxBodies(t, u) {
		if strings.Contains(b, `"identity"`) {
			t.Fatal("identity object on a first contact")
		}
	}

	// Reinstall: a new identity under the same number.
	ph2 := newTestPhone(t, consumer)
	u.deliver(ph2.envelope(t, u.fn, business, "ph.2", "back again"), "ph.2")
	nodetest.WaitFor(t, "post-reinstall message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.2") == 1 })
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.2")); err != nil {
		t.Fatalf("message after reinstall: %v", err)
	}
	newHash := IdentityHash(ph2.st.IdentityPublicKey())
	if h, _ := (Identities{FSM: u.n.FSM(), Sealer: u.sealer}).IdentityHash("3", consumer); h != newHash {
		t.Fatalf("identity hash after reinstall %q, want %q", h, newHash)
	}
	found := false
	for _, b := range outboxBodies(t, u) {
		if strings.Contains(b, "back again") && strings.Contains(b, `"identity"`) && strings.Contains(b, newHash) {
			found = true
		}
	}
	if !found {
		t.Fatal("the webhook of the first message after a reinstall carries no identity change")
	}
	// Nothing under the consumer's number is a key in the Signal store.
	_ = u.n.FSM().SignalForEach("3", "", func(k string, _ []byte, _ uint64) error {
		if strings.Contains(k, consumer) {
			t.Errorf("signal store key %q holds the consumer's number", k)
		}
		return nil
	})

	// The reinstall archived the old session state; the record was pruned
	// back to its current state because it crossed the prune size.
	ov := newOverlay(context.Background(), u.n.FSM(), u.sealer, "3")
	raw, err := ov.Get("sessions", consumer+":1")
	if err != nil || raw == nil {
		t.Fatalf("session: %v", err)
	}
	ser := serialize.NewProtoBufSerializer()
	rec, err := record.NewSessionFromBytes(raw, ser.Session, ser.State)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.PreviousSessionStates()); n != 1 {
		t.Fatalf("%d archived states after one reinstall, want 1", n)
	}
}

// TestSessionRecordsAreCapped: with a small prune size, archived states
// are dropped as soon as a record grows past it.
func TestSessionRecordsAreCapped(t *testing.T) {
	u := newUnit(t, Config{SessionPruneSize: 1500})
	const business, consumer = "15550001000", "4915100000043"
	for i, id := range []string{"ph.a", "ph.b", "ph.c"} {
		ph := newTestPhone(t, consumer) // a new identity each time: a new session
		u.deliver(ph.envelope(t, u.fn, business, id, "hello"), id)
		nodetest.WaitFor(t, "message acked", 10*time.Second, func() bool { return u.fn.ackCount(id) == 1 })
		ov := newOverlay(context.Background(), u.n.FSM(), u.sealer, "3")
		raw, _ := ov.Get("sessions", consumer+":1")
		ser := serialize.NewProtoBufSerializer()
		rec, err := record.NewSessionFromBytes(raw, ser.Session, ser.State)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rec.PreviousSessionStates()); n != 0 {
			t.Fatalf("after session %d: %d archived states kept (%d bytes)", i+1, n, len(raw))
		}
	}
}

// TestSignedPreKeyRotation: once the signed prekey is older than the
// rotation period a new one is committed and published; the previous one
// stays loadable, older ones are removed.
func TestSignedPreKeyRotation(t *testing.T) {
	u := newUnit(t, Config{SignedPreKeyRotation: time.Hour})
	const business = "15550001000"
	first := func() uint32 {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		return u.fn.regs[business].SignedPreKey.ID
	}
	id1 := first()
	for step := 1; step <= 2; step++ {
		u.clock.Add(int64(time.Duration(step) * 2 * time.Hour))
		want := id1 + uint32(step)
		nodetest.WaitFor(t, "rotated signed prekey published", 90*time.Second, func() bool { return first() == want })
	}
	ov := newOverlay(context.Background(), u.n.FSM(), u.sealer, "3")
	st, err := signalstore.Open(ov)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id, want := range map[uint32]bool{id1: false, id1 + 1: true, id1 + 2: true} {
		if ok, _ := st.ContainsSignedPreKey(ctx, id); ok != want {
			t.Errorf("signed prekey %d present=%v, want %v", id, ok, want)
		}
	}
}

// TestIdentityIsCreatedOnce: racing creators (two leaders in turn, or
// retries) end with exactly one identity for a number.
func TestIdentityIsCreatedOnce(t *testing.T) {
	n := nodetest.Cluster(t, 1)[0]
	propose(t, n, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme", WABAID: "2",
		PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok"))})
	c := New(Deps{Cluster: n, Sealer: seal.New(n, n.KEK(), nil)}, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- (&run{c: c, fsm: n.FSM()}).ensureIdentity(context.Background(), "3")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, version, err := n.FSM().SignalRecord("3", "signal_meta\x00identity")
	if err != nil || v == nil || version != 1 {
		t.Fatalf("identity written %d times (%v)", version, err)
	}
}

// TestMarkReadReachesThePhone: the business marking a message read (with a
// typing indicator) sends the phone a read receipt naming the phone's own
// envelope id, and a typing indicator; the queue entry is then cleared.
func TestMarkReadReachesThePhone(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer = "15550001000", "4915100000044"
	ph := newTestPhone(t, consumer)
	u.deliver(ph.envelope(t, u.fn, business, "ph.r1", "read me"), "ph.r1")
	nodetest.WaitFor(t, "message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.r1") == 1 })
	propose(t, u.n, raftfsm.CmdMarkRead, raftfsm.MarkRead{PhoneNumberID: "3",
		IDRef: raftfsm.MessageIDRef(inboundWAMID(consumer, "ph.r1")), At: time.Now().UnixMilli(), Typing: true})
	nodetest.WaitFor(t, "read receipt and typing sent", 10*time.Second, func() bool {
		u.fn.mu.Lock()
		defer u.fn.mu.Unlock()
		return len(u.fn.receipt) == 1 && len(u.fn.typing) == 1
	})
	u.fn.mu.Lock()
	r, typing := u.fn.receipt[0], u.fn.typing[0]
	u.fn.mu.Unlock()
	if r.Status != network.StatusRead || r.To != consumer || r.From != business || len(r.EnvelopeIDs) != 1 || r.EnvelopeIDs[0] != "ph.r1" {
		t.Fatalf("receipt %+v", r)
	}
	if typing != business+">"+consumer {
		t.Fatalf("typing %q", typing)
	}
	nodetest.WaitFor(t, "read queue cleared", 10*time.Second, func() bool {
		reads, _ := u.n.FSM().PendingReads(10)
		return len(reads) == 0
	})
}

// TestStatusWebhooksCarryCallbackData: biz_opaque_callback_data is stored
// only sealed and the connector opens it into every status webhook of the
// message (sent, delivered).
func TestStatusWebhooksCarryCallbackData(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer, callback = "15550001000", "4915100000045", "order-7f3a-callback"
	ph := newTestPhone(t, consumer)
	ph.register(t, u.fn)
	wamid := u.accept(t, `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"template",`+
		`"biz_opaque_callback_data":"`+callback+`","template":{"name":"hello","language":{"code":"en"}}}`)
	env := u.sentTo(t, wamid)
	if c := ph.open(t, env); c.ID != wamid {
		t.Fatalf("phone got %+v", c)
	}
	u.fn.ch <- network.Delivery{Type: network.DeliveryReceipt, ID: "rc.1", Receipt: &network.Receipt{
		EnvelopeIDs: []string{wamid}, From: consumer, To: business, Status: network.StatusDelivered, Timestamp: u.now().UnixMilli()}}
	for _, status := range []string{"sent", "delivered"} {
		nodetest.WaitFor(t, status+" webhook with the callback data", 10*time.Second, func() bool {
			for _, b := range outboxBodies(t, u) {
				if strings.Contains(b, `"status":"`+status+`"`) && strings.Contains(b, `"biz_opaque_callback_data":"`+callback+`"`) {
					return true
				}
			}
			return false
		})
	}
	m, err := u.n.FSM().MessageByID(wamid)
	if err != nil || strings.Contains(string(m.CallbackSealed), callback) || len(m.CallbackSealed) == 0 {
		t.Fatalf("stored message: %v, callback sealed %q", err, m.CallbackSealed)
	}
}

// TestConversationAfterSessionExpired: once a consumer's session record is
// past its data key (30 days without a message), the expire command
// deletes it with the consumer's identity record; the business's next
// message fetches a fresh bundle and starts a new session the phone
// accepts, and the phone's answer on that session decrypts.
func TestConversationAfterSessionExpired(t *testing.T) {
	u := newUnit(t, Config{})
	const business, consumer = "15550001000", "4915100000046"
	ph := newTestPhone(t, consumer)
	ph.register(t, u.fn)
	u.deliver(ph.envelope(t, u.fn, business, "ph.s1", "hello"), "ph.s1")
	nodetest.WaitFor(t, "first message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.s1") == 1 })
	reply := u.accept(t, `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"text","text":{"body":"hi back"}}`)
	if c := ph.open(t, u.sentTo(t, reply)); c.Text == nil || c.Text.Body != "hi back" {
		t.Fatalf("reply %+v", c)
	}
	ref := u.sealer.ConsumerRef("3", consumer)
	records := func() int {
		n := 0
		for _, k := range []string{"sessions\x00" + ref + ":1", "identities\x00" + ref + ":1"} {
			if v, _, _ := u.n.FSM().SignalRecord("3", k); v != nil {
				n++
			}
		}
		return n
	}
	if records() != 2 {
		t.Fatal("no session and identity record after the exchange")
	}

	u.clock.Add(int64(32 * 24 * time.Hour))
	for more := true; more; {
		cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdExpire, raftfsm.Expire{Now: u.now().UnixMilli()})
		res, err := u.n.Propose(context.Background(), cmd)
		if err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		r, _ := raftfsm.DecodeExpireResult(res.Value)
		more = r.More
	}
	if n := records(); n != 0 {
		t.Fatalf("%d Signal records of the consumer left after their key expired", n)
	}

	// The business writes again (a template: the window is long closed).
	again := u.accept(t, `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"template",`+
		`"template":{"name":"hello","language":{"code":"en"}}}`)
	env := u.sentTo(t, again)
	if env.Kind != network.KindPreKeyMessage {
		t.Fatalf("message after expiry is kind %d, want a new session (prekey message)", env.Kind)
	}
	if c := ph.open(t, env); c.ID != again {
		t.Fatalf("phone got %+v", c)
	}
	u.deliver(ph.envelope(t, u.fn, business, "ph.s2", "still here"), "ph.s2")
	nodetest.WaitFor(t, "answer acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.s2") == 1 })
	if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.s2")); err != nil {
		t.Fatalf("the phone's answer on the new session was not stored: %v", err)
	}
}
