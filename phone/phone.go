// Package phone is a simulated consumer phone for the sandbox network: its own Signal identity
// (go.mau.fi/libsignal), a connection to the relay, end-to-end encrypted messaging with businesses
// and other phones, automatic delivery receipts, read receipts on request, encrypted media, spam
// reports and blocks. The relay and waedge only ever see its ciphertext.
package phone

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/waedge/waedge/network"
)

// Transport is what a phone needs from the network: the Network interface, blob storage and
// integrity reports. *relayclient.Client implements it.
type Transport interface {
	network.Network
	network.BlobStore
	network.Reporter
}

// Config configures a Phone.
type Config struct {
	// Number is the phone's number (digits only). Required.
	Number string
	// Name is the profile name sent with messages.
	Name string
	// Store keeps identity, sessions and messages; nil keeps them in memory.
	Store Store
	// Now is the clock; default time.Now.
	Now func() time.Time
	// PreKeyBatch is how many one-time prekeys are published at a time; default 50.
	PreKeyBatch int
	// OnUpdate, if set, is called after a message is received or a sent message changes status.
	// It runs on the phone's receive goroutine and must not block for long.
	OnUpdate func(Message)
	// OnTyping, if set, is called when a peer is typing.
	OnTyping func(from string)
}

// Message directions and statuses.
const (
	DirectionIn  = "in"
	DirectionOut = "out"

	StatusPending       = "pending"
	StatusSent          = "sent"
	StatusDelivered     = "delivered"
	StatusRead          = "read"
	StatusFailed        = "failed"
	StatusReceived      = "received"
	StatusUndecryptable = "undecryptable"
)

// Message is one message as the phone's user sees it.
type Message struct {
	ID          string          `json:"id"`
	Direction   string          `json:"direction"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	ProfileName string          `json:"profile_name,omitempty"`
	Timestamp   int64           `json:"timestamp"`             // sender clock, unix ms
	ReceivedAt  int64           `json:"received_at,omitempty"` // unix ms, incoming only
	Status      string          `json:"status"`
	Content     network.Content `json:"content"`
}

// Phone is a simulated consumer device.
type Phone struct {
	cfg Config
	log *slog.Logger
	st  Store
	sig *SignalStore

	locks Locks      // one per remote Signal address
	msgMu sync.Mutex // message store updates

	mu     sync.Mutex
	t      Transport
	cancel context.CancelFunc
	done   chan struct{}
	typing map[string]int64 // peer → when it last showed typing (unix ms), under mu
}

// Buckets of the phone's own state (SignalStore uses others).
const (
	bMeta     = "phone_meta"
	bInbox    = "inbox"
	bSent     = "sent"
	bMsgIndex = "msg_index" // message id → "inbox/<key>" or "sent/<key>"
	bSeen     = "seen"      // envelope id → received ms (dedupe)
	bPeers    = "peers"     // number → device id
)

// New creates a phone, loading its identity from cfg.Store or creating one.
func New(cfg Config, logger *slog.Logger) (*Phone, error) {
	if !network.ValidNumber(cfg.Number) {
		return nil, fmt.Errorf("phone number %q: %w", cfg.Number, network.ErrInvalid)
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PreKeyBatch <= 0 {
		cfg.PreKeyBatch = 50
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sig, err := OpenSignalStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	return &Phone{cfg: cfg, log: logger, st: cfg.Store, sig: sig}, nil
}

// Number returns the phone's number.
func (p *Phone) Number() string { return p.cfg.Number }

// Name returns the phone's profile name.
func (p *Phone) Name() string { return p.cfg.Name }

// IdentityKey returns the phone's serialized public identity key.
func (p *Phone) IdentityKey() []byte { return p.sig.IdentityPublicKey() }

// Sign implements network.Signer for the phone's own number.
func (p *Phone) Sign(number string, msg []byte) ([]byte, error) {
	if number != p.cfg.Number {
		return nil, ErrWrongNumber
	}
	return p.sig.SignAuth(msg), nil
}

// Start connects the phone to the network: it logs in (registering on first use or when the relay no
// longer knows it), tops up one-time prekeys and starts handling deliveries until Close.
func (p *Phone) Start(ctx context.Context, t Transport) error {
	registered, err := p.st.Get(bMeta, "registered")
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	err = network.ErrNotRegistered
	if registered != nil {
		err = t.Login(ctx, p.cfg.Number)
	}
	if errors.Is(err, network.ErrNotRegistered) {
		err = p.register(ctx, t)
	}
	if err != nil {
		return fmt.Errorf("join network: %w", err)
	}
	if err := p.topUpPreKeys(ctx, t); err != nil {
		return err
	}
	ch, err := t.Receive(ctx)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.t, p.cancel, p.done = t, cancel, make(chan struct{})
	done := p.done
	p.mu.Unlock()
	go func() {
		defer close(done)
		p.loop(lctx, ch)
	}()
	return nil
}

func (p *Phone) register(ctx context.Context, t Transport) error {
	otks, err := p.sig.NewPreKeys(ctx, p.cfg.PreKeyBatch)
	if err != nil {
		return err
	}
	reg, err := p.sig.Registration(ctx, p.cfg.Number, network.RolePhone, otks)
	if err != nil {
		return err
	}
	if err := t.Register(ctx, reg); err != nil {
		return err
	}
	return p.st.Put(bMeta, "registered", []byte{1})
}

// topUpPreKeys publishes fresh one-time prekeys when fewer than half a batch are left.
func (p *Phone) topUpPreKeys(ctx context.Context, t Transport) error {
	n, err := t.PreKeyCount(ctx, p.cfg.Number)
	if err != nil {
		return fmt.Errorf("prekey count: %w", err)
	}
	if n >= p.cfg.PreKeyBatch/2 {
		return nil
	}
	otks, err := p.sig.NewPreKeys(ctx, p.cfg.PreKeyBatch-n)
	if err != nil {
		return err
	}
	if err := t.AddPreKeys(ctx, p.cfg.Number, otks); err != nil {
		return fmt.Errorf("add prekeys: %w", err)
	}
	return nil
}

// Close stops handling deliveries. It does not close the transport, which belongs to the caller.
func (p *Phone) Close() error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.t = nil, nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

func (p *Phone) transport() (Transport, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.t == nil {
		return nil, ErrNotStarted
	}
	return p.t, nil
}

// ---- receiving ----

func (p *Phone) loop(ctx context.Context, ch <-chan network.Delivery) {
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-ch:
			if !ok {
				return
			}
			p.handle(ctx, d)
		}
	}
}

func (p *Phone) handle(ctx context.Context, d network.Delivery) {
	t, err := p.transport()
	if err != nil {
		return
	}
	switch d.Type {
	case network.DeliveryEnvelope:
		if !p.handleEnvelope(ctx, t, d.Envelope) {
			return // not stored: no ack, so the relay delivers it again after a reconnect
		}
	case network.DeliveryReceipt:
		p.handleReceipt(d.Receipt)
	case network.DeliveryTyping:
		p.mu.Lock()
		if p.typing == nil {
			p.typing = map[string]int64{}
		}
		p.typing[d.Typing.From] = p.cfg.Now().UnixMilli()
		p.mu.Unlock()
		if p.cfg.OnTyping != nil {
			p.cfg.OnTyping(d.Typing.From)
		}
		return // typing is not queued, so it has no ack
	case network.DeliverySignal:
		// Integrity signals concern businesses; a phone has nothing to do with them.
	}
	// Everything is stored before the ack: an unacked delivery comes back after a reconnect.
	if err := t.Ack(ctx, p.cfg.Number, d.ID); err != nil && ctx.Err() == nil {
		p.log.Debug("ack failed; the relay will redeliver", "err", err)
	}
}

// handleEnvelope decrypts and stores one envelope and reports whether it may be acked. The session
// update of the decryption, the prekey it consumed, the message, its dedupe record and the peer's
// device are written in one transaction, under the peer's lock: after a crash either all of it is
// stored (the redelivery is recognised as seen) or none (the redelivery decrypts again).
func (p *Phone) handleEnvelope(ctx context.Context, t Transport, env *network.Envelope) bool {
	if env.To != p.cfg.Number {
		return true
	}
	if seen, err := p.st.Get(bSeen, env.ID); err != nil {
		return false
	} else if seen != nil {
		// A redelivery of something already stored: the crash (or lost ack) may have come before the
		// delivery receipt went out, so send it again (receipts are idempotent).
		if m, err := p.Message(env.ID); err == nil && m.Direction == DirectionIn && m.Status != StatusUndecryptable {
			p.sendDelivered(ctx, t, env)
		}
		return true
	}
	addr := Address(env.From, env.FromDevice)
	unlock := p.locks.Lock(addr.String())
	defer unlock()
	work := newPendingStore(p.st)
	sig, err := OpenSignalStore(work)
	if err != nil {
		p.log.Error("open signal store", "err", err)
		return false
	}
	pt, err := sig.Decrypt(ctx, addr, env.Kind, env.Ciphertext)
	now := p.cfg.Now().UnixMilli()
	seenRec := Entry{Bucket: bSeen, Key: env.ID, Value: binary.BigEndian.AppendUint64(nil, uint64(now))}
	msg := Message{ID: env.ID, Direction: DirectionIn, From: env.From, To: env.To, ProfileName: env.ProfileName,
		Timestamp: env.Timestamp, ReceivedAt: now, Status: StatusReceived}
	switch {
	case IsDuplicate(err):
		// The same ciphertext again under another id (a sender retry whose first copy we decrypted).
		return p.st.Write(seenRec) == nil
	case err != nil:
		p.log.Warn("undecryptable envelope", "err", err)
		msg.Status = StatusUndecryptable
	default:
		c, err := network.DecodeContent(pt)
		if err != nil || c.ID != env.ID {
			p.log.Warn("envelope with malformed content")
			msg.Status = StatusUndecryptable
		} else {
			msg.Content = c
		}
	}
	extra := []Entry{seenRec}
	if err == nil {
		extra = append(extra, work.entries()...) // a failed decryption changes nothing
	}
	dev := binary.BigEndian.AppendUint32(nil, env.FromDevice)
	if old, _ := p.st.Get(bPeers, env.From); string(old) != string(dev) {
		extra = append(extra, Entry{Bucket: bPeers, Key: env.From, Value: dev})
	}
	if err := p.storeMessage(bInbox, msg, extra...); err != nil {
		p.log.Error("store message", "err", err)
		return false
	}
	if p.cfg.OnUpdate != nil {
		p.cfg.OnUpdate(msg)
	}
	if msg.Status == StatusReceived {
		p.sendDelivered(ctx, t, env)
	}
	if env.Kind == network.KindPreKeyMessage {
		if err := p.topUpPreKeys(ctx, t); err != nil && ctx.Err() == nil {
			p.log.Debug("prekey top-up failed", "err", err)
		}
	}
	return true
}

func (p *Phone) sendDelivered(ctx context.Context, t Transport, env *network.Envelope) {
	r := network.Receipt{EnvelopeIDs: []string{env.ID}, From: p.cfg.Number, To: env.From,
		Status: network.StatusDelivered, Timestamp: p.cfg.Now().UnixMilli()}
	if err := t.SendReceipt(ctx, r); err != nil && ctx.Err() == nil {
		p.log.Debug("delivery receipt failed", "err", err)
	}
}

var statusRank = map[string]int{StatusPending: 0, StatusFailed: 1, StatusSent: 2, StatusDelivered: 3, StatusRead: 4}

func (p *Phone) handleReceipt(r *network.Receipt) {
	for _, id := range r.EnvelopeIDs {
		m, err := p.updateMessage(id, func(m *Message) bool {
			if m.Direction != DirectionOut || m.To != r.From || statusRank[r.Status] <= statusRank[m.Status] {
				return false
			}
			m.Status = r.Status
			return true
		})
		if err == nil && m != nil && p.cfg.OnUpdate != nil {
			p.cfg.OnUpdate(*m)
		}
	}
}

// ---- message store ----

// storeMessage appends m to bucket (with its index entry and any extra entries) in one write.
func (p *Phone) storeMessage(bucket string, m Message, extra ...Entry) error {
	p.msgMu.Lock()
	defer p.msgMu.Unlock()
	if ref, err := p.st.Get(bMsgIndex, m.ID); err != nil {
		return err
	} else if ref != nil {
		return p.st.Write(extra...) // already stored
	}
	seq := uint64(0)
	if raw, err := p.st.Get(bMeta, "msg_seq"); err != nil {
		return err
	} else if len(raw) == 8 {
		seq = binary.BigEndian.Uint64(raw)
	}
	seq++
	key := fmt.Sprintf("%020d", seq)
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return p.st.Write(append([]Entry{
		{Bucket: bMeta, Key: "msg_seq", Value: binary.BigEndian.AppendUint64(nil, seq)},
		{Bucket: bucket, Key: key, Value: v},
		{Bucket: bMsgIndex, Key: m.ID, Value: []byte(bucket + "/" + key)},
	}, extra...)...)
}

func splitRef(ref []byte) (bucket, key string, ok bool) {
	for i, c := range ref {
		if c == '/' {
			return string(ref[:i]), string(ref[i+1:]), true
		}
	}
	return "", "", false
}

// updateMessage applies change to a stored message and writes it back if change returns true.
func (p *Phone) updateMessage(id string, change func(m *Message) bool) (*Message, error) {
	p.msgMu.Lock()
	defer p.msgMu.Unlock()
	ref, err := p.st.Get(bMsgIndex, id)
	if err != nil {
		return nil, err
	}
	bucket, key, ok := splitRef(ref)
	if !ok {
		return nil, ErrNoMessage
	}
	raw, err := p.st.Get(bucket, key)
	if err != nil || raw == nil {
		return nil, ErrNoMessage
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("message record: %w", ErrStore)
	}
	if !change(&m) {
		return nil, nil
	}
	v, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &m, p.st.Put(bucket, key, v)
}

// Message returns one stored message (incoming or outgoing) by id.
func (p *Phone) Message(id string) (Message, error) {
	ref, err := p.st.Get(bMsgIndex, id)
	if err != nil {
		return Message{}, err
	}
	bucket, key, ok := splitRef(ref)
	if !ok {
		return Message{}, ErrNoMessage
	}
	raw, err := p.st.Get(bucket, key)
	if err != nil || raw == nil {
		return Message{}, ErrNoMessage
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, fmt.Errorf("message record: %w", ErrStore)
	}
	return m, nil
}

func (p *Phone) list(bucket string) ([]Message, error) {
	var out []Message
	err := p.st.ForEach(bucket, func(_ string, v []byte) error {
		var m Message
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("message record: %w", ErrStore)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// Inbox returns the received messages, oldest first.
func (p *Phone) Inbox() ([]Message, error) { return p.list(bInbox) }

// Sent returns the sent messages with their delivery status, oldest first.
func (p *Phone) Sent() ([]Message, error) { return p.list(bSent) }

// ---- sending ----

// NewMessageID returns a fresh random message (and envelope) id.
func NewMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "ph." + hex.EncodeToString(b)
}

// Send encrypts content for to and hands it to the network. An empty content ID gets a fresh one;
// the message id is also the envelope id, so receipts refer to it.
func (p *Phone) Send(ctx context.Context, to string, c network.Content) (Message, error) {
	t, err := p.transport()
	if err != nil {
		return Message{}, err
	}
	if !network.ValidNumber(to) {
		return Message{}, fmt.Errorf("recipient: %w", network.ErrInvalid)
	}
	if c.ID == "" {
		c.ID = NewMessageID()
	}
	pt, err := network.EncodeContent(&c)
	if err != nil {
		return Message{}, err
	}
	dev := uint32(1)
	if raw, _ := p.st.Get(bPeers, to); len(raw) == 4 {
		dev = binary.BigEndian.Uint32(raw)
	}
	addr := Address(to, dev)
	unlock := p.locks.Lock(addr.String())
	defer unlock()
	has, err := p.sig.ContainsSession(ctx, addr)
	if err != nil {
		return Message{}, err
	}
	if !has {
		b, err := t.FetchBundle(ctx, to)
		if err != nil {
			return Message{}, fmt.Errorf("fetch bundle: %w", err)
		}
		if b.DeviceID != dev { // a device id we did not expect: lock and use that address instead
			return Message{}, fmt.Errorf("bundle for device %d: %w", b.DeviceID, ErrBadBundle)
		}
		if err := p.sig.StartSession(ctx, b); err != nil {
			return Message{}, err
		}
	}
	// The session record is stored by Encrypt before the ciphertext leaves the phone.
	kind, ct, err := p.sig.Encrypt(ctx, addr, pt)
	if err != nil {
		return Message{}, err
	}
	now := p.cfg.Now().UnixMilli()
	msg := Message{ID: c.ID, Direction: DirectionOut, From: p.cfg.Number, To: to, ProfileName: p.cfg.Name,
		Timestamp: now, Status: StatusPending, Content: c}
	if err := p.storeMessage(bSent, msg); err != nil {
		return Message{}, err
	}
	env := network.Envelope{ID: c.ID, From: p.cfg.Number, To: to, FromDevice: 1, Kind: kind, Ciphertext: ct,
		Timestamp: now, ProfileName: p.cfg.Name}
	if err := p.sendEnvelope(ctx, t, env); err != nil {
		_, _ = p.updateMessage(c.ID, func(m *Message) bool { m.Status = StatusFailed; return true })
		msg.Status = StatusFailed
		return msg, fmt.Errorf("send: %w", err)
	}
	// A fast receipt may already have moved the status past "sent"; never go back.
	_, _ = p.updateMessage(c.ID, func(m *Message) bool {
		if statusRank[m.Status] >= statusRank[StatusSent] {
			return false
		}
		m.Status = StatusSent
		return true
	})
	if stored, err := p.Message(c.ID); err == nil {
		msg = stored
	}
	return msg, nil
}

// sendEnvelope retries the same bytes while the connection is down: re-encrypting would spend
// another counter, and the relay deduplicates by envelope id.
func (p *Phone) sendEnvelope(ctx context.Context, t Transport, env network.Envelope) error {
	backoff := 20 * time.Millisecond
	for {
		err := t.Send(ctx, env)
		if !errors.Is(err, network.ErrDisconnected) {
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// SendText sends a text message.
func (p *Phone) SendText(ctx context.Context, to, body string) (Message, error) {
	return p.Send(ctx, to, network.Content{Type: network.ContentText, Text: &network.Text{Body: body}})
}

// SendMedia seals data with a fresh key, uploads the blob and sends a media message of type typ
// (image, video, audio, document or sticker).
func (p *Phone) SendMedia(ctx context.Context, to, typ, mimeType string, data []byte, caption string) (Message, error) {
	t, err := p.transport()
	if err != nil {
		return Message{}, err
	}
	if !network.IsMediaType(typ) {
		return Message{}, fmt.Errorf("media type %q: %w", typ, network.ErrInvalid)
	}
	blob, ref, err := network.SealMedia(data)
	if err != nil {
		return Message{}, err
	}
	id, err := t.PutBlob(ctx, blob)
	if err != nil {
		return Message{}, fmt.Errorf("upload media: %w", err)
	}
	ref.BlobID, ref.MIMEType, ref.Caption = id, mimeType, caption
	return p.Send(ctx, to, network.Content{Type: typ, Media: &ref})
}

// FetchMedia downloads and decrypts the media of a stored message.
func (p *Phone) FetchMedia(ctx context.Context, messageID string) ([]byte, string, error) {
	t, err := p.transport()
	if err != nil {
		return nil, "", err
	}
	m, err := p.Message(messageID)
	if err != nil {
		return nil, "", err
	}
	if m.Content.Media == nil {
		return nil, "", ErrNotMedia
	}
	blob, err := t.GetBlob(ctx, m.Content.Media.BlobID)
	if err != nil {
		return nil, "", fmt.Errorf("download media: %w", err)
	}
	data, err := network.OpenMedia(blob, *m.Content.Media)
	if err != nil {
		return nil, "", err
	}
	return data, m.Content.Media.MIMEType, nil
}

// MarkRead sends a read receipt for a received message (once).
func (p *Phone) MarkRead(ctx context.Context, messageID string) error {
	t, err := p.transport()
	if err != nil {
		return err
	}
	m, err := p.Message(messageID)
	if err != nil {
		return err
	}
	if m.Direction != DirectionIn {
		return ErrNoMessage
	}
	if m.Status == StatusRead {
		return nil
	}
	r := network.Receipt{EnvelopeIDs: []string{m.ID}, From: p.cfg.Number, To: m.From, Status: network.StatusRead,
		Timestamp: p.cfg.Now().UnixMilli()}
	if err := t.SendReceipt(ctx, r); err != nil {
		return fmt.Errorf("read receipt: %w", err)
	}
	_, err = p.updateMessage(m.ID, func(m *Message) bool { m.Status = StatusRead; return true })
	return err
}

// TypingSeen returns, per peer, when it last showed this phone a typing
// indicator (unix ms; kept in memory only).
func (p *Phone) TypingSeen() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.typing))
	for k, v := range p.typing {
		out[k] = v
	}
	return out
}

// Typing tells to that this phone's user is typing.
func (p *Phone) Typing(ctx context.Context, to string) error {
	t, err := p.transport()
	if err != nil {
		return err
	}
	return t.Typing(ctx, p.cfg.Number, to)
}

// ReportSpam reports business to the network (it receives a spam_report signal).
func (p *Phone) ReportSpam(ctx context.Context, business string) error {
	return p.report(ctx, business, network.SignalSpamReport)
}

// Block blocks business: the network refuses its messages to this phone and tells it.
func (p *Phone) Block(ctx context.Context, business string) error {
	return p.report(ctx, business, network.SignalBlock)
}

// Unblock lifts a block.
func (p *Phone) Unblock(ctx context.Context, business string) error {
	return p.report(ctx, business, network.SignalUnblock)
}

// StopMarketing stops marketing messages from business (the client's
// "Offers and announcements" setting): the business receives a
// user_preferences webhook, and its marketing templates to this phone
// fail with 131050.
func (p *Phone) StopMarketing(ctx context.Context, business string) error {
	return p.report(ctx, business, network.SignalMarketingStop)
}

// ResumeMarketing lifts StopMarketing.
func (p *Phone) ResumeMarketing(ctx context.Context, business string) error {
	return p.report(ctx, business, network.SignalMarketingResume)
}

func (p *Phone) report(ctx context.Context, business, kind string) error {
	t, err := p.transport()
	if err != nil {
		return err
	}
	if !network.ValidNumber(business) {
		return fmt.Errorf("business number: %w", network.ErrInvalid)
	}
	return t.Report(ctx, p.cfg.Number, business, kind)
}

// Prune deletes the messages (received or sent) and dedupe records older than before, as a real
// phone's chats expire; sessions and identities stay. It returns how many messages it deleted.
func (p *Phone) Prune(before time.Time) (int, error) {
	cutoff := before.UnixMilli()
	p.msgMu.Lock()
	defer p.msgMu.Unlock()
	var dels []Entry
	n := 0
	for _, bucket := range []string{bInbox, bSent} {
		err := p.st.ForEach(bucket, func(key string, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message record: %w", ErrStore)
			}
			at := m.Timestamp
			if m.ReceivedAt != 0 {
				at = m.ReceivedAt
			}
			if at < cutoff {
				n++
				dels = append(dels, Entry{Bucket: bucket, Key: key, Delete: true}, Entry{Bucket: bMsgIndex, Key: m.ID, Delete: true})
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	err := p.st.ForEach(bSeen, func(key string, v []byte) error {
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff {
			dels = append(dels, Entry{Bucket: bSeen, Key: key, Delete: true})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for len(dels) > 0 {
		chunk := dels[:min(len(dels), 1000)]
		if err := p.st.Write(chunk...); err != nil {
			return 0, err
		}
		dels = dels[len(chunk):]
	}
	return n, nil
}
