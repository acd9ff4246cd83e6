// Package connector is waedge's end of the end-to-end encrypted network:
// a leader-only worker that holds each business number's Signal identity,
// encrypts accepted messages for consumers' phones, decrypts what they
// send, and turns receipts into Cloud API statuses. All Signal state lives
// in the replicated FSM; libsignal runs only here, against an overlay of
// that state, and every result is committed through Raft before any
// ciphertext leaves or any envelope is acknowledged (DESIGN.md).
package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/protocol"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
)

// errUnsupported marks a message the network side cannot carry yet.
var errUnsupported = errors.New("connector: message type not supported by the network")

// ErrUnknownNumber reports a signing request for a number this connector
// does not serve.
var ErrUnknownNumber = errors.New("connector: not a business number of this cluster")

// Proposer replicates commands and exposes the local replica (node.Node).
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Dialer opens a network connection whose logins are signed by signer.
type Dialer func(ctx context.Context, signer network.Signer) (network.Network, error)

// Deps are the connector's dependencies.
type Deps struct {
	Cluster Proposer
	Sealer  Sealer
	Dial    Dialer
	Logger  *slog.Logger
	Now     func() time.Time
	// Egress is the policy media links are fetched under (default: every
	// internal range refused, nothing allowed).
	Egress *egress.Policy
}

// Config tunes the connector; zero values take the defaults.
type Config struct {
	// Shards is the number of workers; one (number, consumer) pair always
	// maps to the same worker, which is its session lock. Default 64.
	Shards int
	// PreKeyBatch is how many one-time prekeys are generated at a time;
	// the pool is replenished below a quarter of it. Default 100.
	PreKeyBatch int
	// Poll is how often the pending queues are scanned. Default 5ms.
	Poll time.Duration
	// Resend is how long a stored envelope waits before it is sent again.
	// Default 3s.
	Resend time.Duration
	// Numbers is how often registered numbers are checked. Default 1s.
	Numbers time.Duration
	// SignedPreKeyRotation is the age at which a number's signed prekey is
	// replaced (the previous one stays valid until the next rotation).
	// Default 7 days.
	SignedPreKeyRotation time.Duration
	// SessionPruneSize is the session record size above which archived
	// states are dropped; default 16 KiB. SessionMaxSize is the size above
	// which the session is reset; default 64 KiB.
	SessionPruneSize, SessionMaxSize int
	// RoundParts caps the Signal operations and status batches one round
	// commits in one command. Default 512.
	RoundParts int
	// RoundsInFlight is how many rounds may be replicating at once.
	// Default 2.
	RoundsInFlight int
}

func (c *Config) defaults() {
	if c.Shards <= 0 {
		c.Shards = 64
	}
	if c.PreKeyBatch <= 0 {
		c.PreKeyBatch = 100
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Millisecond
	}
	if c.Resend <= 0 {
		c.Resend = 3 * time.Second
	}
	if c.Numbers <= 0 {
		c.Numbers = time.Second
	}
	if c.SignedPreKeyRotation <= 0 {
		c.SignedPreKeyRotation = 7 * 24 * time.Hour
	}
	if c.SessionPruneSize <= 0 {
		c.SessionPruneSize = 16 << 10
	}
	if c.RoundParts <= 0 {
		c.RoundParts = 512
	}
	if c.RoundsInFlight <= 0 {
		c.RoundsInFlight = 2
	}
	if c.SessionMaxSize <= c.SessionPruneSize {
		c.SessionMaxSize = max(64<<10, c.SessionPruneSize*2)
	}
}

// Connector is the leader-only network worker.
type Connector struct {
	d     Deps
	cfg   Config
	log   *slog.Logger
	links *http.Client // fetches media links (media.go)
}

// New returns a connector; run it with Run as a leader-only worker.
func New(d Deps, cfg Config) *Connector {
	cfg.defaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Egress == nil {
		d.Egress = egress.New(egress.Config{})
	}
	if d.Sealer != nil {
		d.Sealer = newRefCache(d.Sealer)
	}
	return &Connector{d: d, cfg: cfg, log: d.Logger, links: linkClient(d.Egress)}
}

// number is one business number served on the network.
type number struct {
	phoneID, wabaID, businessID, display, digits string
	retentionNs                                  atomic.Int64 // the phone's retention (seals what the connector stores)
	priv                                         [32]byte     // identity private key (for relay logins)
	rotationCheck                                time.Time    // next signed-prekey age check
}

// retention is the phone's current retention.
func (n *number) retention() time.Duration { return time.Duration(n.retentionNs.Load()) }

// run is the state of one leadership term.
type run struct {
	c   *Connector
	fsm *raftfsm.FSM
	net network.Network

	mu        sync.Mutex
	byDigits  map[string]*number
	byPhoneID map[string]*number
	inflight  map[string]time.Time // message key → when its work was queued or sent
	replenish map[string]bool      // numbers whose prekey pool needs a check

	// The pending queue is walked from near where the last scan ended
	// (scan): pendFrom is the last key it walked; a full walk from the
	// oldest key runs every fullScanEvery, and at the next scan after a
	// claim was released (rescan), so released and late-committed
	// messages are found. envScanAt is when the envelope outbox is
	// walked next (it only holds resends).
	pendFrom   []byte
	fullScanAt time.Time
	rescan     bool
	envScanAt  time.Time

	shards []chan func(context.Context)
	rounds *rounder // one replicated command per round (round.go)
	acks   chan ackReq
	keys   *raftfsm.KeySource
}

// Run serves the network until ctx ends (leadership lost or shutdown).
func (c *Connector) Run(ctx context.Context) error {
	r := &run{c: c, fsm: c.d.Cluster.FSM(), byDigits: map[string]*number{}, byPhoneID: map[string]*number{},
		inflight: map[string]time.Time{}, replenish: map[string]bool{}, keys: raftfsm.NewKeySource()}
	nw, err := c.d.Dial(ctx, r)
	if err != nil {
		return fmt.Errorf("connect to network: %w", err)
	}
	r.net = nw
	defer nw.Close()
	deliveries, err := nw.Receive(ctx)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	var wg sync.WaitGroup
	r.rounds = newRounder(c.d.Cluster.Propose, c.cfg.RoundParts)
	for i := 0; i < c.cfg.RoundsInFlight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.rounds.run(ctx)
		}()
	}
	r.acks = make(chan ackReq, 4096)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.runAcks(ctx)
	}()
	r.shards = make([]chan func(context.Context), c.cfg.Shards)
	for i := range r.shards {
		ch := make(chan func(context.Context), 256)
		r.shards[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case task := <-ch:
					task(ctx)
				}
			}
		}()
	}
	defer wg.Wait()
	if err := r.syncNumbers(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("number sync", slog.Any("err", err))
	}
	numbers := time.NewTicker(c.cfg.Numbers)
	defer numbers.Stop()
	// The pending queues are polled every cfg.Poll while they yield work;
	// idle (or all claimed, e.g. while the network is unreachable) the
	// interval doubles up to maxIdlePoll, so a large backlog is not walked
	// hundreds of times a second.
	interval := c.cfg.Poll
	poll := time.NewTimer(interval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("network connection closed")
			}
			r.deliver(ctx, d)
		case <-numbers.C:
			if err := r.syncNumbers(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("number sync", slog.Any("err", err))
			}
		case <-poll.C:
			if r.scan(ctx) > 0 {
				interval = c.cfg.Poll
			} else {
				interval = min(2*interval, max(maxIdlePoll, c.cfg.Poll))
			}
			poll.Reset(interval)
		}
	}
}

// Sign implements network.Signer with the identity key of a business
// number.
func (r *run) Sign(digits string, msg []byte) ([]byte, error) {
	r.mu.Lock()
	n := r.byDigits[digits]
	r.mu.Unlock()
	if n == nil {
		return nil, ErrUnknownNumber
	}
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(n.priv), msg)
	return sig[:], nil
}

// shard queues task on the worker of (phone, consumer): the per-pair
// session lock of invariant 3 (root DESIGN.md). consumer is always the sealed
// consumer ref (never the raw number), outbound and inbound alike.
func (r *run) shard(ctx context.Context, phoneID, consumer string, task func(context.Context)) {
	h := fnv.New32a()
	h.Write([]byte(phoneID))
	h.Write([]byte{0})
	h.Write([]byte(consumer))
	select {
	case r.shards[h.Sum32()%uint32(len(r.shards))] <- task:
	case <-ctx.Done():
	}
}

// newKey returns a new 16-byte record key (raftfsm.KeySource: time first,
// so keys append in order; unique across nodes).
func (r *run) newKey() []byte { return r.keys.Key(r.c.d.Now()) }

// propose encodes and replicates one command.
func (r *run) propose(ctx context.Context, t raftfsm.CommandType, payload any) (raftfsm.Result, error) {
	cmd, err := raftfsm.EncodeCommand(t, payload)
	if err != nil {
		return raftfsm.Result{}, err
	}
	return r.c.d.Cluster.Propose(ctx, cmd)
}

// ---- numbers ----

// syncNumbers attaches every registered business number to the network:
// identity created once through Raft, then logged in (or registered with
// a first batch of prekeys), and keeps each prekey pool filled.
func (r *run) syncNumbers(ctx context.Context) error {
	tenants, err := r.fsm.ListTenants()
	if err != nil {
		return err
	}
	for _, t := range tenants {
		p, err := r.fsm.Phone(t.PhoneNumberID)
		if err != nil || !p.Registered {
			continue
		}
		r.mu.Lock()
		n := r.byPhoneID[t.PhoneNumberID]
		if n != nil {
			n.retentionNs.Store(int64(p.EffectiveRetention()))
		}
		check := r.replenish[t.PhoneNumberID]
		delete(r.replenish, t.PhoneNumberID)
		r.mu.Unlock()
		if n == nil {
			if err := r.attach(ctx, t, p.EffectiveRetention()); err != nil {
				r.c.log.Warn("attach business number", slog.String("phone_number_id", t.PhoneNumberID), slog.Any("err", err))
			}
			continue
		}
		if now := r.c.d.Now(); now.After(n.rotationCheck) {
			n.rotationCheck = now.Add(time.Minute)
			if err := r.rotate(ctx, n); err != nil {
				r.c.log.Warn("signed prekey rotation", slog.String("phone_number_id", n.phoneID), slog.Any("err", err))
			}
		}
		if check {
			if err := r.topUp(ctx, n); err != nil {
				r.c.log.Warn("prekey top-up", slog.String("phone_number_id", n.phoneID), slog.Any("err", err))
			}
		}
	}
	return nil
}

func (r *run) attach(ctx context.Context, t raftfsm.Tenant, retention time.Duration) error {
	if err := r.ensureIdentity(ctx, t.PhoneNumberID); err != nil {
		return err
	}
	ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, t.PhoneNumberID)
	raw, err := ov.Get("signal_meta", "identity")
	if err != nil || len(raw) < 32 {
		return fmt.Errorf("load identity: %w", signalstore.ErrStore)
	}
	n := &number{phoneID: t.PhoneNumberID, wabaID: t.WABAID, businessID: t.BusinessID, display: t.DisplayPhoneNumber,
		digits: cloudapi.NormalizePhone(t.DisplayPhoneNumber), priv: [32]byte(raw[:32])}
	n.retentionNs.Store(int64(retention))
	r.mu.Lock()
	r.byDigits[n.digits] = n
	r.mu.Unlock()
	err = r.net.Login(ctx, n.digits)
	if errors.Is(err, network.ErrNotRegistered) {
		err = r.register(ctx, n)
	}
	if err != nil {
		r.mu.Lock()
		delete(r.byDigits, n.digits)
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	r.byPhoneID[n.phoneID] = n
	r.mu.Unlock()
	r.c.log.Info("business number on the network", slog.String("phone_number_id", n.phoneID))
	return r.topUp(ctx, n)
}

// ensureIdentity creates a number's Signal identity exactly once: the
// commit expects the identity to be absent, so two racing leaders cannot
// both mint one.
func (r *run) ensureIdentity(ctx context.Context, phoneID string) error {
	ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, phoneID)
	if raw, err := ov.Get("signal_meta", "identity"); err != nil || raw != nil {
		return err
	}
	if _, err := signalstore.Open(ov); err != nil {
		return err
	}
	if err := r.commitStore(ctx, ov); !errors.Is(err, raftfsm.ErrVersion) {
		return err
	}
	return nil // another creator won
}

// commitStore commits an overlay's store changes alone (no effect); a
// stale read comes back as raftfsm.ErrVersion.
func (r *run) commitStore(ctx context.Context, ov *overlay) error {
	sc, err := ov.commit()
	if err != nil {
		return err
	}
	return r.mustPropose(ctx, raftfsm.CmdSignalCommit, sc)
}

// newPreKeys generates, commits and returns a batch of one-time prekeys
// (published only after the commit).
func (r *run) newPreKeys(ctx context.Context, n *number) (*signalstore.SignalStore, []network.OneTimePreKey, error) {
	for {
		ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, n.phoneID)
		st, err := signalstore.Open(ov)
		if err != nil {
			return nil, nil, err
		}
		otks, err := st.NewPreKeys(ctx, r.c.cfg.PreKeyBatch)
		if err != nil {
			return nil, nil, err
		}
		err = r.commitStore(ctx, ov)
		if errors.Is(err, raftfsm.ErrVersion) {
			continue // another operation took prekey ids meanwhile
		}
		return st, otks, err
	}
}

func (r *run) register(ctx context.Context, n *number) error {
	st, otks, err := r.newPreKeys(ctx, n)
	if err != nil {
		return err
	}
	reg, err := st.Registration(ctx, n.digits, network.RoleBusiness, otks)
	if err != nil {
		return err
	}
	return r.net.Register(ctx, reg)
}

// rotate replaces a number's signed prekey when it is older than the
// rotation period: committed first, then published.
func (r *run) rotate(ctx context.Context, n *number) error {
	ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, n.phoneID)
	st, err := signalstore.Open(ov)
	if err != nil {
		return err
	}
	_, created, err := st.SignedPreKeyAge(ctx)
	if err != nil || r.c.d.Now().Sub(time.Unix(created, 0)) < r.c.cfg.SignedPreKeyRotation {
		return err
	}
	if _, err := st.RotateSignedPreKey(ctx); err != nil {
		return err
	}
	if err := r.commitStore(ctx, ov); err != nil {
		return err // ErrVersion: retried at the next check
	}
	reg, err := st.Registration(ctx, n.digits, network.RoleBusiness, nil)
	if err != nil {
		return err
	}
	return r.net.Register(ctx, reg)
}

// capSession bounds addr's session record: archived states are pruned
// above SessionPruneSize, and a record still above SessionMaxSize (a peer
// piling up skipped keys) is reset, so the next message starts afresh.
func (r *run) capSession(ctx context.Context, st *signalstore.SignalStore, addr *protocol.SignalAddress) error {
	size, err := st.PruneSession(ctx, addr, r.c.cfg.SessionPruneSize)
	if err != nil || size <= r.c.cfg.SessionMaxSize {
		return err
	}
	r.c.log.Warn("session record over its size cap reset", slog.Int("bytes", size))
	return st.DeleteSession(ctx, addr)
}

func (r *run) topUp(ctx context.Context, n *number) error {
	left, err := r.net.PreKeyCount(ctx, n.digits)
	if err != nil || left >= r.c.cfg.PreKeyBatch/4 {
		return err
	}
	_, otks, err := r.newPreKeys(ctx, n)
	if err != nil {
		return err
	}
	return r.net.AddPreKeys(ctx, n.digits, otks)
}

func (r *run) phone(phoneID string) *number {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byPhoneID[phoneID]
}

func (r *run) numberOf(digits string) *number {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.byDigits[digits]; n != nil && r.byPhoneID[n.phoneID] == n {
		return n
	}
	return nil
}

// ---- queues ----

// scan hands new work from the replicated queues to the shards: accepted
// messages to encrypt, committed envelopes to (re)send, read receipts.
// maxIdlePoll bounds the pending-queue poll interval when idle.
const maxIdlePoll = 100 * time.Millisecond

// Under load most of the pending queue is claimed (being encrypted or
// waiting for its round), and walking all of it at every poll was a
// twelfth of the leader's CPU in `bench e2e` outbound. A scan therefore
// resumes pendingLookback before the last key it walked (keys are the
// accepting node's clock first, so a message committed a little late
// still sorts after that point), and walks the whole queue only every
// fullScanEvery or after a claim was released.
const (
	pendingLookback = 250 * time.Millisecond
	fullScanEvery   = 500 * time.Millisecond
)

// pendingStart is where the next scan of the pending queue starts (nil:
// the oldest key). mono is the process's clock (the schedule of scans is
// local; claims use the connector's clock).
func (r *run) pendingStart(mono time.Time) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rescan || len(r.pendFrom) != 16 || !mono.Before(r.fullScanAt) {
		r.rescan = false
		r.fullScanAt = mono.Add(fullScanEvery)
		return nil
	}
	var from [16]byte
	t := int64(binary.BigEndian.Uint64(r.pendFrom[:8])) - int64(pendingLookback)
	binary.BigEndian.PutUint64(from[:8], uint64(max(t, 0)))
	return from[:]
}

// scan returns how many items it handed out.
func (r *run) scan(ctx context.Context) int {
	n := 0
	now := r.c.d.Now()
	from := r.pendingStart(time.Now())
	pending, last, err := r.fsm.PendingOutboundFrom(from, r.claimed(now, time.Hour), 1024)
	if err == nil {
		if last != nil {
			r.mu.Lock()
			if from == nil || bytes.Compare(last, r.pendFrom) > 0 {
				r.pendFrom = last
			}
			r.mu.Unlock()
		}
		var claimed []raftfsm.PendingMessage
		for _, pm := range pending {
			if r.claim(pm.Key, now, time.Hour) {
				claimed = append(claimed, pm)
			}
		}
		n += len(claimed)
		// A consumer's queued messages are encrypted in sequence under one
		// commit (encryptPair).
		for _, group := range groupByPair(claimed) {
			r.shard(ctx, group[0].Message.PhoneNumberID, group[0].Message.PeerRef, func(ctx context.Context) { r.encryptPair(ctx, group) })
		}
	}
	// The envelope outbox only holds resends (a fresh envelope is sent by
	// its encryptPair): walked a few times per resend period, not at
	// every poll.
	if mono := time.Now(); !mono.Before(r.envScanAt) {
		r.envScanAt = mono.Add(r.c.cfg.Resend / 4)
		stored, _ := r.fsm.StoredEnvelopes(r.claimed(now, r.c.cfg.Resend), 1024)
		for _, se := range stored {
			if r.claim(se.Key, now, r.c.cfg.Resend) {
				n++
				se := se
				r.shard(ctx, se.Message.PhoneNumberID, se.Message.PeerRef, func(ctx context.Context) { r.resend(ctx, se) })
			}
		}
	}
	reads, err := r.fsm.PendingReads(256)
	if err == nil {
		for _, pr := range reads {
			if r.claim(pr.Key, now, r.c.cfg.Resend) {
				n++
				pr := pr
				go r.sendRead(ctx, pr)
			}
		}
	}
	return n
}

// claimed reports keys with a claim younger than ttl (skipped by scans
// without being decoded).
func (r *run) claimed(now time.Time, ttl time.Duration) func([]byte) bool {
	return func(k []byte) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		t, ok := r.inflight[string(k)]
		return ok && now.Sub(t) < ttl
	}
}

// claim marks key as being worked on; it returns false while an earlier
// claim is younger than ttl.
func (r *run) claim(key []byte, now time.Time, ttl time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.inflight[string(key)]; ok && now.Sub(t) < ttl {
		return false
	}
	r.inflight[string(key)] = now
	if len(r.inflight) > 200_000 { // forget very old claims (their work ended)
		for k, t := range r.inflight {
			if now.Sub(t) > time.Hour {
				delete(r.inflight, k)
			}
		}
	}
	return true
}

// retryIn keeps an outbound message's claim (an hour long, see scan) for
// only d more.
func (r *run) retryIn(key []byte, d time.Duration) {
	r.mu.Lock()
	r.inflight[string(key)] = r.c.d.Now().Add(d - time.Hour)
	r.mu.Unlock()
}

// touch restarts key's claim at the current time (an envelope handed to
// the network: its resend waits cfg.Resend from now).
func (r *run) touch(key []byte) {
	now := r.c.d.Now()
	r.mu.Lock()
	r.inflight[string(key)] = now
	r.mu.Unlock()
}

// forget drops the claim of a key that left its queue (an envelope the
// network took, a read receipt sent).
func (r *run) forget(key []byte) {
	r.mu.Lock()
	delete(r.inflight, string(key))
	r.mu.Unlock()
}

// release drops the claim of a pending message whose work did not finish;
// the next scan walks the whole pending queue (the key may be behind
// where scans resume).
func (r *run) release(key []byte) {
	r.mu.Lock()
	delete(r.inflight, string(key))
	r.rescan = true
	r.mu.Unlock()
}

// ---- outbound ----

// sealedEnvelope is what the envelope outbox stores (sealed).
func (r *run) sealEnvelope(ctx context.Context, retention time.Duration, env *network.Envelope) ([]byte, error) {
	b, err := network.MarshalEnvelope(env)
	if err != nil {
		return nil, err
	}
	return r.c.d.Sealer.SealFor(ctx, retention, seal.EnvelopeAAD(env.ID), b)
}

// revealed is a stored message with what is sealed in it opened.
type revealed struct {
	raftfsm.Message
	wamid, peer string
	callback    string // biz_opaque_callback_data
}

// reveal opens a stored message's wamid, consumer number and callback data
// (sealed under the message's data key, so they die with it).
func (r *run) reveal(m raftfsm.Message) (revealed, error) {
	id, err := seal.OpenID(r.c.d.Sealer, m)
	if err != nil {
		return revealed{}, err
	}
	peer, err := seal.OpenPeer(r.c.d.Sealer, m, id)
	if err != nil {
		return revealed{}, err
	}
	return revealed{Message: m, wamid: id, peer: peer, callback: r.callbackData(m, id)}, nil
}

// callbackData opens a message's biz_opaque_callback_data ("" when it has
// none, or its data key is gone).
func (r *run) callbackData(m raftfsm.Message, wamid string) string {
	cb, err := seal.OpenCallback(r.c.d.Sealer, m, wamid)
	if err != nil {
		return ""
	}
	return cb
}

// statusUpdate builds a status change with its webhook.
func (r *run) statusUpdate(ctx context.Context, n *number, m revealed, status string, cause error) raftfsm.StatusUpdate {
	now := r.c.d.Now()
	ev := cloudapi.StatusEvent{MessageID: m.wamid, RecipientID: m.peer, At: now.Unix(), CallbackData: m.callback,
		Billing: billing(n.phoneID, m.PeerRef, m.Type, m.Category, now)}
	var st cloudapi.Status
	switch status {
	case raftfsm.StatusSent:
		st = cloudapi.SentStatus(ev)
	case raftfsm.StatusDelivered:
		st = cloudapi.DeliveredStatus(ev)
	case raftfsm.StatusRead:
		st = cloudapi.ReadStatus(ev)
	default:
		var ge *graph.Error
		if errors.As(cause, &ge) {
			st = cloudapi.FailedStatus(ev, ge)
		} else {
			st = cloudapi.FailedStatus(ev)
		}
	}
	md := cloudapi.Metadata{DisplayPhoneNumber: n.digits, PhoneNumberID: n.phoneID}
	u := raftfsm.StatusUpdate{IDRef: m.IDRef, Status: status, At: now.UnixMilli()}
	if m.wamid == "" {
		return u // nothing to tell the business about (its data key is gone)
	}
	body := cloudapi.MarshalStatusNotification(n.wabaID, md, st) // MarshalASCII's bytes, without reflection
	if body, err := r.sealBody(ctx, n, body); err == nil {
		u.Event = &raftfsm.OutboxEvent{Key: r.newKey(), Body: body, CreatedAt: now.UnixMilli(), PhoneNumberID: n.phoneID}
	}
	return u
}

// sealEvent encodes a webhook body and seals it for the outbox: it carries
// message content and consumer numbers.
func (r *run) sealEvent(ctx context.Context, n *number, v any) ([]byte, error) {
	body, err := cloudapi.MarshalASCII(v)
	if err != nil {
		return nil, err
	}
	return r.sealBody(ctx, n, body)
}

// sealBody seals an encoded webhook body for the outbox.
func (r *run) sealBody(ctx context.Context, n *number, body []byte) ([]byte, error) {
	return r.c.d.Sealer.SealFor(ctx, n.retention(), raftfsm.WebhookAAD(n.wabaID), body)
}

// statuses commits status changes (and clears sent envelopes / read
// receipts) in the next round; it reports whether they were committed.
func (r *run) statuses(ctx context.Context, n *number, updates []raftfsm.StatusUpdate, sent, reads [][]byte) bool {
	c := raftfsm.MessageStatuses{PhoneNumberID: n.phoneID, Updates: updates, SentKeys: sent, ReadsDone: reads}
	if err := r.commitStatuses(ctx, c); err != nil {
		return false
	}
	for _, k := range sent {
		r.forget(k)
	}
	return true
}

// sendRead sends the consumer a read receipt (and a typing indicator) for
// a message the business marked read.
func (r *run) sendRead(ctx context.Context, pr raftfsm.PendingRead) {
	n := r.phone(pr.Message.PhoneNumberID)
	m, err := r.reveal(pr.Message)
	if n == nil || err != nil || m.NetworkID == "" {
		if n != nil {
			r.statuses(ctx, n, nil, nil, [][]byte{pr.Key})
		}
		return
	}
	rc := network.Receipt{EnvelopeIDs: []string{m.NetworkID}, From: n.digits, To: m.peer,
		Status: network.StatusRead, Timestamp: r.c.d.Now().UnixMilli()}
	if err := r.net.SendReceipt(ctx, rc); err != nil {
		return
	}
	if pr.Typing {
		_ = r.net.Typing(ctx, n.digits, m.peer)
	}
	if r.statuses(ctx, n, nil, nil, [][]byte{pr.Key}) {
		r.forget(pr.Key)
	}
}

// ---- inbound ----

// deliver routes one network delivery. Envelopes go to their pair's shard;
// receipts become statuses; everything is acknowledged only after its
// effect is committed.
func (r *run) deliver(ctx context.Context, d network.Delivery) {
	switch {
	case d.Envelope != nil:
		env := d.Envelope
		n := r.numberOf(env.To)
		if n == nil {
			return // not attached yet: stays queued on the relay, redelivered
		}
		// The same key as outbound (the consumer's sealed ref), so a pair's
		// sends and receives share one worker: its session lock.
		r.shard(ctx, n.phoneID, r.c.d.Sealer.ConsumerRef(n.phoneID, env.From), func(ctx context.Context) { r.receive(ctx, n, d) })
	case d.Receipt != nil:
		go r.receipt(ctx, d)
	case d.Signal != nil:
		go r.integrity(ctx, d)
	}
}

// qualityEvent is the phone_number_quality_update event name of a move to
// a rating: a number leaving GREEN is flagged, one back at GREEN is
// unflagged (docs/cloud-api.md §6.7).
func qualityEvent(rating string) string {
	if rating == raftfsm.QualityGreen {
		return "UNFLAGGED"
	}
	return "FLAGGED"
}

// integrity records one integrity signal of a business number (issue 5)
// and acks it after the commit. Only the kind, a count and the time are
// proposed: nothing about the consumer (the network's Consumer field) is
// kept. Apply derives the new quality rating; it cannot seal, so the
// webhook for every rating the number could move to is sealed here and
// Apply queues the one that applies, only when the rating changes.
func (r *run) integrity(ctx context.Context, d network.Delivery) {
	sig := d.Signal
	n := r.numberOf(sig.Business)
	if n == nil {
		return // not attached yet: stays queued on the relay, redelivered
	}
	if sig.Kind == network.SignalMarketingStop || sig.Kind == network.SignalMarketingResume {
		r.preference(ctx, n, d)
		return
	}
	count := sig.Count
	if count < 1 {
		count = 1
	}
	now := r.c.d.Now()
	ref := sha256.Sum256([]byte("waedge signal delivery v1\x00" + d.ID))
	c := raftfsm.RecordIntegrity{PhoneNumberID: n.phoneID, Kind: sig.Kind, Count: count, At: now.UnixMilli(),
		DeliveryRef: hex.EncodeToString(ref[:16])}
	tier := raftfsm.DefaultTier
	if p, err := r.fsm.Phone(n.phoneID); err == nil {
		tier = raftfsm.TierOf(p)
	}
	for _, rating := range []string{raftfsm.QualityGreen, raftfsm.QualityYellow, raftfsm.QualityRed} {
		body, err := r.sealEvent(ctx, n, cloudapi.QualityNotification(n.wabaID, now.Unix(), cloudapi.QualityUpdate{
			DisplayPhoneNumber: n.digits, Event: qualityEvent(rating), CurrentLimit: tier}))
		if err != nil {
			return // not acked: redelivered
		}
		ev := &raftfsm.OutboxEvent{Key: r.newKey(), Body: body, CreatedAt: now.UnixMilli(), PhoneNumberID: n.phoneID}
		switch rating {
		case raftfsm.QualityGreen:
			c.Events.Green = ev
		case raftfsm.QualityYellow:
			c.Events.Yellow = ev
		default:
			c.Events.Red = ev
		}
	}
	_, err := raftfsm.Outcome(r.propose(ctx, raftfsm.CmdRecordIntegrity, c))
	switch {
	case err == nil, errors.Is(err, raftfsm.ErrConflict): // recorded now, or before a lost ack
	case errors.Is(err, raftfsm.ErrInvalid):
		// A kind this version does not know: acking keeps it from
		// blocking the queue; nothing about it is logged but the kind.
		r.c.log.Warn("integrity signal refused", slog.String("phone_number_id", n.phoneID), slog.String("kind", sig.Kind))
	default:
		return // not committed, or not known to be: the relay redelivers
	}
	r.ack(ctx, n.digits, d.ID)
}

// preference records a consumer's marketing preference (stop or resume)
// with its user_preferences webhook, and acks it after the commit. The
// consumer is kept only by its keyed reference; the number is only in the
// sealed webhook body.
func (r *run) preference(ctx context.Context, n *number, d network.Delivery) {
	sig := d.Signal
	if !network.ValidNumber(sig.Consumer) {
		_ = r.net.Ack(ctx, n.digits, d.ID) // nothing to record
		return
	}
	stop := sig.Kind == network.SignalMarketingStop
	now := r.c.d.Now()
	md := cloudapi.Metadata{DisplayPhoneNumber: n.digits, PhoneNumberID: n.phoneID}
	body, err := r.sealEvent(ctx, n, cloudapi.UserPreferencesNotification(n.wabaID, md, sig.Consumer, stop, now.Unix()))
	if err != nil {
		return // not acked: redelivered
	}
	c := raftfsm.SetUserPreference{PhoneNumberID: n.phoneID, PeerRef: r.c.d.Sealer.ConsumerRef(n.phoneID, sig.Consumer),
		Stop: stop, At: now.UnixMilli(),
		Event: &raftfsm.OutboxEvent{Key: r.newKey(), Body: body, CreatedAt: now.UnixMilli(), PhoneNumberID: n.phoneID}}
	if _, err := raftfsm.Outcome(r.propose(ctx, raftfsm.CmdSetUserPreference, c)); err != nil {
		return // not committed, or not known to be: the relay redelivers
	}
	_ = r.net.Ack(ctx, n.digits, d.ID)
}

func (r *run) receipt(ctx context.Context, d network.Delivery) {
	rc := d.Receipt
	n := r.numberOf(rc.To)
	if n == nil {
		return
	}
	status := raftfsm.StatusDelivered
	if rc.Status == network.StatusRead {
		status = raftfsm.StatusRead
	}
	var updates []raftfsm.StatusUpdate
	ref := r.c.d.Sealer.ConsumerRef(n.phoneID, rc.From)
	for _, id := range rc.EnvelopeIDs {
		sm, err := r.fsm.MessageByID(id)
		if err != nil || sm.PhoneNumberID != n.phoneID || sm.Direction != raftfsm.DirectionOut || sm.PeerRef != ref {
			continue
		}
		m := revealed{Message: sm, wamid: id, peer: rc.From, callback: r.callbackData(sm, id)}
		// Statuses arrive in order on the webhook even when a receipt
		// overtakes the commit of "sent": the missing steps come first.
		for _, st := range []string{raftfsm.StatusSent, raftfsm.StatusDelivered, raftfsm.StatusRead} {
			if rank(st) > rank(m.Status) && rank(st) <= rank(status) {
				updates = append(updates, r.statusUpdate(ctx, n, m, st, nil))
			}
		}
	}
	if len(updates) == 0 || r.statuses(ctx, n, updates, nil, nil) {
		r.ack(ctx, n.digits, d.ID)
	}
}

// ackReq is one delivery to acknowledge to the network.
type ackReq struct{ number, id string }

// ack queues the acknowledgement of delivery id of number. The caller has
// committed what the delivery brought (or decided to drop it); the ack
// itself is sent by runAcks, batched, so the pair's shard does not wait
// for the network's answer. An ack that fails or is lost only makes the
// network deliver again, which the ciphertext-hash table absorbs.
func (r *run) ack(ctx context.Context, number, id string) {
	select {
	case r.acks <- ackReq{number, id}:
	case <-ctx.Done():
	}
}

// runAcks sends queued acks until ctx ends: whatever is queued when the
// previous request returned goes in one request per number.
func (r *run) runAcks(ctx context.Context) {
	for {
		var first ackReq
		select {
		case <-ctx.Done():
			return
		case first = <-r.acks:
		}
		numbers := []string{first.number}
		ids := map[string][]string{first.number: {first.id}}
	drain:
		for range 4 * network.MaxAckIDs {
			select {
			case a := <-r.acks:
				if _, ok := ids[a.number]; !ok {
					numbers = append(numbers, a.number)
				}
				ids[a.number] = append(ids[a.number], a.id)
			default:
				break drain
			}
		}
		for _, num := range numbers {
			_ = r.net.Ack(ctx, num, ids[num]...) // the client splits at network.MaxAckIDs
		}
	}
}

// inboundWAMID is the Cloud API id of an inbound message: derived from the
// sender's envelope id, so a redelivery gets the same id.
func inboundWAMID(from, envelopeID string) string {
	h := sha256.Sum256([]byte(from + "\x00" + envelopeID))
	return cloudapi.NewWAMID(from, false, [9]byte(h[:9]))
}

// receive decrypts one envelope on its pair's shard and commits the
// session with the stored message and its webhook before the ack.
func (r *run) receive(ctx context.Context, n *number, d network.Delivery) {
	env := d.Envelope
	sum := sha256.Sum256(env.Ciphertext)
	hash := sum[:16]
	if r.fsm.InboundSeen(n.phoneID, hash) {
		r.ack(ctx, n.digits, d.ID) // a retransmit of what we committed
		return
	}
	for attempt := 0; attempt < 5; attempt++ {
		ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, n.phoneID)
		st, err := signalstore.Open(ov)
		if err != nil {
			return
		}
		addr := signalstore.Address(env.From, env.FromDevice)
		pt, err := st.Decrypt(ctx, addr, env.Kind, env.Ciphertext)
		if err == nil {
			err = r.capSession(ctx, st, addr)
		}
		if signalstore.IsDuplicate(err) {
			r.ack(ctx, n.digits, d.ID)
			return
		}
		if err != nil {
			// Undecryptable (forged, or a session this side lost): nothing
			// is stored; acking keeps one bad envelope from blocking the
			// queue. The error text may quote message fields: not logged.
			r.c.log.Warn("undecryptable envelope", slog.String("phone_number_id", n.phoneID))
			r.ack(ctx, n.digits, d.ID)
			return
		}
		content, err := network.DecodeContent(pt)
		if err != nil || content.ID != env.ID {
			r.ack(ctx, n.digits, d.ID)
			return
		}
		if r.fsm.Blocked(n.phoneID, r.c.d.Sealer.ConsumerRef(n.phoneID, env.From)) {
			// The business blocked this user (block_users): as on Meta,
			// nothing of the message reaches the business — no stored
			// message, no webhook, no window. The session the decrypt
			// advanced is still committed, so the pair's later messages
			// (after an unblock) decrypt; a redelivery is a duplicate.
			sc, err := ov.commit()
			if err != nil {
				return
			}
			if err := r.commitSignal(ctx, sc); errors.Is(err, raftfsm.ErrVersion) {
				continue
			} else if err != nil {
				return // not acked: the relay redelivers
			}
			_ = r.net.Ack(ctx, n.digits, d.ID)
			r.c.log.Debug("inbound from a blocked user dropped", slog.String("phone_number_id", n.phoneID))
			return
		}
		now := r.c.d.Now()
		wamid := inboundWAMID(env.From, env.ID)
		if content.Context != nil {
			content.Context.MessageID = r.cloudID(content.Context.MessageID, env.From)
		}
		if content.Reaction != nil {
			content.Reaction.MessageID = r.cloudID(content.Reaction.MessageID, env.From)
		}
		mediaID := ""
		if network.IsMediaType(content.Type) {
			mediaID, err = r.inboundMedia(ctx, n, content.Media)
			if errors.Is(err, network.ErrBadMedia) || errors.Is(err, network.ErrNotFound) {
				content.Type = "unsupported" // the blob does not match its reference: nothing to hand on
			} else if err != nil {
				return // not acked: redelivered and retried
			}
		}
		msg := toCloud(env.From, n.digits, wamid, now.Unix(), content, mediaID)
		if ov.replaced("identities", addr.String()) {
			// The consumer reinstalled: the new key is accepted (as WhatsApp
			// does) and surfaced on the message, as the Cloud API does.
			if key, _ := ov.Get("identities", addr.String()); key != nil {
				msg = msg.WithIdentity(cloudapi.Identity{CreatedTimestamp: now.UnixMilli(), Hash: IdentityHash(key)})
			}
		}
		stored, err := cloudapi.EncodeInboundContent(msg.MessageContent())
		if err != nil {
			return
		}
		sm, err := seal.SealMessage(ctx, r.c.d.Sealer, n.retention(), wamid, env.From, stored, "")
		if err != nil {
			return
		}
		md := cloudapi.Metadata{DisplayPhoneNumber: n.digits, PhoneNumberID: n.phoneID}
		contact := cloudapi.WebhookContact{Profile: cloudapi.Profile{Name: env.ProfileName}, WAID: env.From}
		body, err := cloudapi.MarshalMessageNotification(n.wabaID, md, contact, msg) // MarshalASCII's bytes
		if err == nil {
			body, err = r.sealBody(ctx, n, body)
		}
		if err != nil {
			return
		}
		sc, err := ov.commit()
		if err != nil {
			return
		}
		sc.Inbound = &raftfsm.RecordInbound{Key: r.newKey(), IDRef: sm.IDRef, IDSealed: sm.ID, PhoneNumberID: n.phoneID,
			PeerRef: r.c.d.Sealer.ConsumerRef(n.phoneID, env.From), PeerSealed: sm.Peer,
			Type: msg.Type, Content: sm.Content, ReceivedAt: now.UnixMilli(), NetworkID: env.ID,
			Event: &raftfsm.OutboxEvent{Key: r.newKey(), Body: body, CreatedAt: now.UnixMilli(), PhoneNumberID: n.phoneID}}
		sc.InboundHash = hash
		err = r.commitSignal(ctx, sc)
		if errors.Is(err, raftfsm.ErrVersion) {
			continue // the session moved on under us: decrypt again
		}
		if err != nil && !errors.Is(err, raftfsm.ErrConflict) { // conflict: committed before a lost ack
			if ctx.Err() == nil {
				r.c.log.Warn("inbound commit not made", slog.Any("err", err))
			}
			return // not acked: the relay redelivers
		}
		r.ack(ctx, n.digits, d.ID)
		if err == nil {
			r.countClick(ctx, n, sm.IDRef, content)
		}
		if env.Kind == network.KindPreKeyMessage {
			r.mu.Lock()
			r.replenish[n.phoneID] = true
			r.mu.Unlock()
		}
		return
	}
}

// countClick counts a tap on a quick-reply button of a template message
// in the template's analytics (raftfsm templateclicks.go): content is the
// tap, committed as the inbound message tapRef. Nothing is proposed for
// other messages. A click that is not committed (the leader changes) is
// lost: analytics, not a message.
func (r *run) countClick(ctx context.Context, n *number, tapRef string, content network.Content) {
	if content.Type != network.ContentButtonReply || content.Context == nil || content.Reply == nil {
		return
	}
	m, err := r.fsm.MessageByID(content.Context.MessageID)
	if err != nil || m.PhoneNumberID != n.phoneID || m.Direction != raftfsm.DirectionOut || m.Type != "template" {
		return
	}
	if _, err := raftfsm.Outcome(r.propose(ctx, raftfsm.CmdTemplateClick, raftfsm.TemplateClick{PhoneNumberID: n.phoneID,
		IDRef: tapRef, ContextIDRef: raftfsm.MessageIDRef(content.Context.MessageID), Button: content.Reply.Title})); err != nil && ctx.Err() == nil {
		r.c.log.Debug("template click not counted", slog.String("phone_number_id", n.phoneID), slog.Any("err", err))
	}
}

// networkID maps a Cloud API message id to the id the network knows it
// by: an inbound message's sender envelope id; a business message keeps
// its wamid.
func (r *run) networkID(id string) string {
	if m, err := r.fsm.MessageByID(id); err == nil && m.Direction == raftfsm.DirectionIn && m.NetworkID != "" {
		return m.NetworkID
	}
	return id
}

// cloudID maps a network message id a phone quotes to the Cloud API id:
// business messages already use their wamid; a consumer's own message is
// known by its derived wamid.
func (r *run) cloudID(id, from string) string {
	if _, err := r.fsm.MessageByID(id); err == nil {
		return id
	}
	return inboundWAMID(from, id)
}

// rank orders outbound statuses (accepted < sent < delivered < read).
func rank(status string) int {
	switch status {
	case raftfsm.StatusSent:
		return 1
	case raftfsm.StatusDelivered:
		return 2
	case raftfsm.StatusRead:
		return 3
	case raftfsm.StatusFailed:
		return 4
	}
	return 0
}
