package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"testing"
	"time"

	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/serialize"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
)

// Invariant 3, made deterministic: the connector's proposer is wrapped so
// a test decides what happens to each Signal commit (refuse it, commit it
// and report a lost outcome, or hold it), and the fake network records
// what the connector hands it at the moment the commit is asked for.

// errCommitLost is the wrapped proposer's failure: what a leader losing
// its term mid-commit looks like to the connector.
var errCommitLost = errors.New("test: commit outcome lost")

// commitGate wraps the connector's Proposer. onSignal sees every Signal
// commit before it is proposed and decides its fate: next proposes it for
// real. onStatuses sees every status batch.
//
// The connector commits a round of several Signal operations and status
// batches as one command (round.go). The gate offers each operation of a
// round to onSignal in turn, nested: the fate one operation's onSignal
// chooses (refuse, lose the outcome, hold) is the fate of the whole
// round's proposal, as it would be on a real cluster, and next returns
// that operation's own outcome.
type commitGate struct {
	Proposer
	onSignal   func(sc raftfsm.SignalCommit, next func() (raftfsm.Result, error)) (raftfsm.Result, error)
	onStatuses func(ms raftfsm.MessageStatuses)
}

func (g *commitGate) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	typ, payload, err := raftfsm.DecodeCommand(cmd)
	next := func() (raftfsm.Result, error) { return g.Proposer.Propose(ctx, cmd) }
	switch {
	case err != nil:
	case typ == raftfsm.CmdSignalRound || typ == raftfsm.CmdSignalRoundV2:
		if round, err := decodeRound(typ, payload); err == nil {
			if g.onStatuses != nil {
				for _, ms := range round.Statuses {
					g.onStatuses(ms)
				}
			}
			if g.onSignal != nil {
				return g.round(round, 0, next)
			}
		}
	case typ == raftfsm.CmdSignalCommit && g.onSignal != nil:
		var sc raftfsm.SignalCommit
		if raftfsm.DecodePayload(payload, &sc) == nil {
			return g.onSignal(sc, next)
		}
	case typ == raftfsm.CmdMessageStatusesV2 && g.onStatuses != nil:
		if ms, err := raftfsm.DecodeMessageStatuses(payload); err == nil {
			g.onStatuses(ms)
		}
	}
	return next()
}

// round offers operation i of a round (and, through its next, the ones
// after it) to onSignal; propose proposes the round for real.
func (g *commitGate) round(round raftfsm.SignalRound, i int, propose func() (raftfsm.Result, error)) (raftfsm.Result, error) {
	if i == len(round.Commits) {
		return propose()
	}
	var whole raftfsm.Result
	proposed := false
	res, err := g.onSignal(round.Commits[i], func() (raftfsm.Result, error) {
		r, err := g.round(round, i+1, propose)
		if err != nil {
			return r, err
		}
		whole, proposed = r, true
		outs, err := raftfsm.RoundOutcomes(r.Value, round.Parts())
		if err != nil {
			return raftfsm.Result{}, err
		}
		return raftfsm.Result{Err: outs[i]}, nil
	})
	if err != nil {
		return res, err
	}
	if !proposed {
		return raftfsm.Result{}, errors.New("test gate: a fate answered for a round without proposing it")
	}
	return whole, nil
}

// sentCount is how many envelopes with id the fake network was handed.
func (f *fakeNet) sentCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.sent {
		if e.ID == id {
			n++
		}
	}
	return n
}

// pendingWAMID opens the wamid of the pending outbound message stored
// under key ("" when it is not pending).
func (u *unit) pendingWAMID(key []byte) string {
	pending, err := u.n.FSM().PendingOutbound(nil, 1024)
	if err != nil {
		return ""
	}
	for _, pm := range pending {
		if bytes.Equal(pm.Key, key) {
			id, err := seal.OpenID(u.sealer, pm.Message)
			if err == nil {
				return id
			}
		}
	}
	return ""
}

// violations collects breaches of the commit order seen by the gate.
type violations struct {
	mu  sync.Mutex
	got []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	v.got = append(v.got, fmt.Sprintf(format, args...))
	v.mu.Unlock()
}

func (v *violations) check(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.got {
		t.Error(s)
	}
}

// outboundGate returns a wrapper that checks, at every Signal commit of an
// encryption, that the envelope has not reached the network yet and that
// no "sent" status for it was proposed; fate decides what happens to the
// commit of the message with that wamid (attempt counts from 1).
func outboundGate(v *violations, fate func(wamid string, attempt int, next func() (raftfsm.Result, error)) (raftfsm.Result, error)) func(*unit, Proposer) Proposer {
	return func(u *unit, p Proposer) Proposer {
		var mu sync.Mutex
		attempts := map[string]int{}
		committed := map[string]bool{} // message keys whose envelope commit returned
		return &commitGate{Proposer: p,
			onSignal: func(sc raftfsm.SignalCommit, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
				// A consumer's queued messages share one commit: every one
				// is checked; the first decides the commit's fate.
				wamid := ""
				for _, o := range sc.Outbound {
					id := u.pendingWAMID(o.MessageKey)
					if id == "" {
						continue // no longer pending: the FSM refuses the commit
					}
					if n := u.fn.sentCount(id); n > 0 {
						v.add("%d envelope(s) of %s reached the network before its Signal commit", n, id)
					}
					if wamid == "" {
						wamid = id
					}
				}
				if wamid == "" {
					return next()
				}
				mu.Lock()
				attempts[wamid]++
				n := attempts[wamid]
				mu.Unlock()
				return fate(wamid, n, func() (raftfsm.Result, error) {
					res, err := next()
					if err == nil && res.Err == nil {
						mu.Lock()
						for _, o := range sc.Outbound {
							committed[string(o.MessageKey)] = true
						}
						mu.Unlock()
					}
					return res, err
				})
			},
			onStatuses: func(ms raftfsm.MessageStatuses) {
				mu.Lock()
				defer mu.Unlock()
				for _, k := range ms.SentKeys {
					if !committed[string(k)] {
						v.add("a sent status was proposed for message key %x before its envelope was committed", k)
					}
				}
			},
		}
	}
}

// chainSlot is one message key of a Signal sending chain.
type chainSlot struct {
	to, ratchet string
	counter     uint32
}

// slotOf parses a business envelope's ciphertext: the sending chain and
// counter it used, and a hash of the Signal message.
func slotOf(t testing.TB, env network.Envelope) (chainSlot, string) {
	t.Helper()
	ser := serialize.NewProtoBufSerializer()
	var sm *protocol.SignalMessage
	if env.Kind == network.KindPreKeyMessage {
		pk, err := protocol.NewPreKeySignalMessageFromBytes(env.Ciphertext, ser.PreKeySignalMessage, ser.SignalMessage)
		if err != nil {
			t.Fatalf("business pkmsg does not parse: %v", err)
		}
		sm = pk.WhisperMessage()
	} else {
		var err error
		if sm, err = protocol.NewSignalMessageFromBytes(env.Ciphertext, ser.SignalMessage); err != nil {
			t.Fatalf("business msg does not parse: %v", err)
		}
	}
	h := sha256.Sum256(sm.Serialize())
	return chainSlot{to: env.To, ratchet: hex.EncodeToString(sm.SenderRatchetKey().Serialize()), counter: sm.Counter()}, string(h[:])
}

// checkDelivered waits for an envelope of every wamid, then checks what
// the network got for ph: every copy of a message is the same bytes (a resend,
// never a second encryption), no counter of a chain carries two
// ciphertexts, and the phone decrypts each message exactly once.
func checkDelivered(t *testing.T, u *unit, ph *testPhone, wamids []string) {
	t.Helper()
	for _, id := range wamids {
		u.sentTo(t, id)
	}
	u.fn.mu.Lock()
	sent := append([]network.Envelope(nil), u.fn.sent...)
	u.fn.mu.Unlock()
	first := map[string]network.Envelope{}
	slots := map[chainSlot]string{}
	for _, env := range sent {
		if env.To != ph.number {
			continue
		}
		if f, ok := first[env.ID]; ok {
			if !bytes.Equal(f.Ciphertext, env.Ciphertext) || f.Kind != env.Kind {
				t.Fatalf("message %s reached the network as two different ciphertexts: encrypted twice", env.ID)
			}
			continue
		}
		first[env.ID] = env
		s, h := slotOf(t, env)
		if prev, ok := slots[s]; ok && prev != h {
			t.Fatalf("counter %d of a sending chain was used for two different ciphertexts", s.counter)
		}
		slots[s] = h
	}
	for _, id := range wamids {
		env := first[id]
		if c := ph.open(t, env); c.ID != id {
			t.Fatalf("phone decrypted %q from the envelope of %s", c.ID, id)
		}
		if _, err := ph.st.Decrypt(context.Background(), signalstore.Address(env.From, env.FromDevice), env.Kind, env.Ciphertext); err == nil {
			t.Fatalf("message %s decrypted a second time", id)
		}
	}
	if len(first) != len(wamids) {
		t.Fatalf("the network got %d messages, want %d", len(first), len(wamids))
	}
}

// TestOutboundNothingMovesBeforeTheSignalCommit: the first Signal commit
// of an encryption fails — refused (nothing committed), or committed with
// its outcome lost. At every commit the gate checks that the envelope has
// not reached the network and no sent status was proposed for it. After
// the retry every message reaches the phone, which decrypts each once,
// and no counter carries two ciphertexts.
func TestOutboundNothingMovesBeforeTheSignalCommit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit bool // the failed attempt still commits (outcome lost)
	}{{"refused", false}, {"committed, outcome lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var v violations
			u := newUnitWith(t, Config{Resend: 50 * time.Millisecond}, outboundGate(&v,
				func(_ string, attempt int, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
					if attempt > 1 {
						return next()
					}
					if tc.commit {
						if res, err := next(); err != nil || res.Err != nil {
							return res, err
						}
					}
					return raftfsm.Result{}, errCommitLost
				}))
			const consumer = "4915100000081"
			ph := newTestPhone(t, consumer)
			ph.register(t, u.fn)
			var wamids []string
			for i := 0; i < 3; i++ {
				wamid := u.accept(t, fmt.Sprintf(`{"messaging_product":"whatsapp","to":"%s","type":"template",`+
					`"template":{"name":"hello_%d","language":{"code":"en"}}}`, consumer, i))
				wamids = append(wamids, wamid)
				u.sentTo(t, wamid) // in order: one chain, counters 0, 1, 2
			}
			checkDelivered(t, u, ph, wamids)
			v.check(t)
		})
	}
}

// TestOutboundHeldCommitHoldsTheEnvelope: while the Signal commit of one
// consumer's message is held, nothing of it reaches the network — even
// though another consumer's message goes all the way through meanwhile.
// Released, it is sent and decrypts.
func TestOutboundHeldCommitHoldsTheEnvelope(t *testing.T) {
	const held = "4915100000082"
	held1 := make(chan string, 1)
	release := make(chan struct{})
	var once sync.Once
	var v violations
	// The first encryption commit (the message to the held consumer) is held.
	u := newUnitWith(t, Config{}, outboundGate(&v,
		func(wamid string, _ int, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
			hold := false
			once.Do(func() { hold = true })
			if hold {
				held1 <- wamid
				<-release
			}
			return next()
		}))
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock) // a failing test must not leave the connector blocked
	other := u.onAnotherShard(held, 83)
	phHeld, phOther := newTestPhone(t, held), newTestPhone(t, other)
	phHeld.register(t, u.fn)
	phOther.register(t, u.fn)
	w1 := u.accept(t, `{"messaging_product":"whatsapp","to":"`+held+`","type":"template","template":{"name":"a","language":{"code":"en"}}}`)
	var got string
	select {
	case got = <-held1:
	case <-time.After(10 * time.Second):
		t.Fatal("the commit was never asked for")
	}
	if got != w1 {
		t.Fatalf("held %s, want %s", got, w1)
	}
	// Another pair goes through while the commit is held.
	w2 := u.accept(t, `{"messaging_product":"whatsapp","to":"`+other+`","type":"template","template":{"name":"b","language":{"code":"en"}}}`)
	checkDelivered(t, u, phOther, []string{w2})
	if n := u.fn.sentCount(w1); n != 0 {
		t.Fatalf("%d envelope(s) of the held message reached the network while its commit was held", n)
	}
	if m, err := u.n.FSM().MessageByID(w1); err != nil || m.Status != raftfsm.StatusAccepted {
		t.Fatalf("held message: %+v %v", m, err)
	}
	unblock()
	checkDelivered(t, u, phHeld, []string{w1})
	v.check(t)
}

// inboundGate returns a wrapper that checks, at every Signal commit of a
// decryption, that the envelope (network id ackID) was not acknowledged
// yet; fate decides what happens to the commit (attempt counts from 1).
func inboundGate(v *violations, ackID string, fate func(attempt int, next func() (raftfsm.Result, error)) (raftfsm.Result, error)) func(*unit, Proposer) Proposer {
	return func(u *unit, p Proposer) Proposer {
		attempt := 0
		return &commitGate{Proposer: p,
			onSignal: func(sc raftfsm.SignalCommit, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
				if sc.Inbound == nil || sc.Inbound.NetworkID != ackID {
					return next()
				}
				if n := u.fn.ackCount(ackID); n > 0 {
					v.add("envelope %s acknowledged %d time(s) before its message was committed", ackID, n)
				}
				attempt++ // one shard: commits of one pair never overlap
				return fate(attempt, next)
			},
		}
	}
}

// TestInboundNoAckBeforeTheCommit: the network sees an inbound envelope
// acknowledged only after the decrypted message is committed. The commit
// is held (no ack meanwhile; released, the ack follows), or fails once —
// refused, or committed with its outcome lost — and the relay's
// redelivery is then stored once and acknowledged.
func TestInboundNoAckBeforeTheCommit(t *testing.T) {
	const business, consumer = "15550001000", "4915100000084"
	t.Run("held", func(t *testing.T) {
		var v violations
		entered, release := make(chan struct{}), make(chan struct{})
		u := newUnitWith(t, Config{}, inboundGate(&v, "ph.h1", func(attempt int, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
			if attempt == 1 {
				close(entered)
				<-release
			}
			return next()
		}))
		var released sync.Once
		unblock := func() { released.Do(func() { close(release) }) }
		t.Cleanup(unblock) // a failing test must not leave the connector blocked
		ph := newTestPhone(t, consumer)
		u.deliver(ph.envelope(t, u.fn, business, "ph.h1", "held inbound"), "ph.h1")
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the commit was never asked for")
		}
		// Meanwhile another pair's envelope is decrypted, committed and acked.
		other := newTestPhone(t, u.onAnotherShard(consumer, 85))
		u.deliver(other.envelope(t, u.fn, business, "ph.o1", "meanwhile"), "ph.o1")
		nodetest.WaitFor(t, "the other pair's envelope acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.o1") == 1 })
		if n := u.fn.ackCount("ph.h1"); n != 0 {
			t.Fatalf("envelope acknowledged %d time(s) while its commit was held", n)
		}
		unblock()
		nodetest.WaitFor(t, "ack after the commit", 10*time.Second, func() bool { return u.fn.ackCount("ph.h1") == 1 })
		if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.h1")); err != nil {
			t.Fatalf("acked message not stored: %v", err)
		}
		v.check(t)
	})
	for _, tc := range []struct {
		name   string
		commit bool
	}{{"refused", false}, {"committed, outcome lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var v violations
			failed := make(chan struct{})
			u := newUnitWith(t, Config{}, inboundGate(&v, "ph.f1", func(attempt int, next func() (raftfsm.Result, error)) (raftfsm.Result, error) {
				if attempt > 1 {
					return next()
				}
				defer close(failed)
				if tc.commit {
					if res, err := next(); err != nil || res.Err != nil {
						return res, err
					}
				}
				return raftfsm.Result{}, errCommitLost
			}))
			ph := newTestPhone(t, consumer)
			env := ph.envelope(t, u.fn, business, "ph.f1", "failed once")
			u.deliver(env, "ph.f1")
			select {
			case <-failed:
			case <-time.After(10 * time.Second):
				t.Fatal("the commit was never asked for")
			}
			count := u.n.FSM().MessageCount()
			// The relay redelivers what was not acknowledged. The pair's
			// shard runs one task at a time, so this redelivery starts
			// after the failed attempt ended: an ack by it shows below.
			u.deliver(env, "ph.f1")
			nodetest.WaitFor(t, "ack of the redelivery", 10*time.Second, func() bool { return u.fn.ackCount("ph.f1") >= 1 })
			if n := u.fn.ackCount("ph.f1"); n != 1 {
				t.Fatalf("envelope acknowledged %d times, want once (after its commit)", n)
			}
			if _, err := u.n.FSM().MessageByID(inboundWAMID(consumer, "ph.f1")); err != nil {
				t.Fatalf("acked message not stored: %v", err)
			}
			want := count
			if !tc.commit {
				want++
			}
			if got := u.n.FSM().MessageCount(); got != want {
				t.Fatalf("%d messages stored after the redelivery, want %d (once)", got, want)
			}
			v.check(t)
		})
	}
}

// shardOf is the shard index (of the default 64) of the pair (phone 3,
// consumer), computed as run.shard does.
// onAnotherShard returns the first test number 4915100000NNN, NNN from from
// whose pair lands on another shard worker than consumer's. Consumer refs
// are keyed by the cluster's random key, so the shard of a fixed number
// changes from run to run (a fixed pair collided one time in 64).
func (u *unit) onAnotherShard(consumer string, from int) string {
	for i := from; ; i++ {
		if n := fmt.Sprintf("4915100000%03d", i); u.shardOf(n) != u.shardOf(consumer) {
			return n
		}
	}
}

func (u *unit) shardOf(consumer string) uint32 {
	h := fnv.New32a()
	h.Write([]byte("3"))
	h.Write([]byte{0})
	h.Write([]byte(u.sealer.ConsumerRef("3", consumer)))
	return h.Sum32() % 64
}
