package connector

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/signalstore"
)

// TestOverlayReadsEachKeyOnce: an operation that encrypts several messages
// (libsignal loads the session and the identities again and again) reads
// each key from the FSM once; a value committed by someone else between
// two of its reads is not seen by the second, and the commit is refused
// (ErrVersion), so the operation is redone from fresh state as before.
func TestOverlayReadsEachKeyOnce(t *testing.T) {
	const consumer = "4915100000044"
	u := unitWithSession(t, consumer)

	ctx := context.Background()
	encrypt := func(ov *overlay, n int) {
		t.Helper()
		st, err := signalstore.Open(ov)
		if err != nil {
			t.Fatal(err)
		}
		addr := signalstore.Address(consumer, 1)
		for i := 0; i < n; i++ {
			if ok, err := st.ContainsSession(ctx, addr); err != nil || !ok {
				t.Fatalf("no session (%v)", err)
			}
			if _, _, err := st.Encrypt(ctx, addr, []byte("m")); err != nil {
				t.Fatal(err)
			}
		}
	}
	ov := newOverlay(ctx, u.n.FSM(), u.sealer, "3")
	encrypt(ov, 5)
	if ov.fsmReads != len(ov.versions) {
		t.Fatalf("%d reads from the FSM for %d keys", ov.fsmReads, len(ov.versions))
	}
	if ov.fsmReads == 0 || len(ov.writes) == 0 {
		t.Fatalf("nothing read (%d) or written (%d)", ov.fsmReads, len(ov.writes))
	}

	// Another operation commits the session between two reads of this one.
	stale := newOverlay(ctx, u.n.FSM(), u.sealer, "3")
	st, err := signalstore.Open(stale)
	if err != nil {
		t.Fatal(err)
	}
	addr := signalstore.Address(consumer, 1)
	before, err := stale.Get("sessions", addr.String())
	if err != nil || before == nil {
		t.Fatalf("session: %v", err)
	}
	other := newOverlay(ctx, u.n.FSM(), u.sealer, "3")
	encrypt(other, 1)
	sc, err := other.commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := commitAlone(ctx, u, sc); err != nil {
		t.Fatal(err)
	}
	again, _ := stale.Get("sessions", addr.String())
	if string(again) != string(before) {
		t.Fatal("a second read in one operation saw another operation's commit")
	}
	if _, _, err := st.Encrypt(ctx, addr, []byte("m")); err != nil {
		t.Fatal(err)
	}
	sc, err = stale.commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := commitAlone(ctx, u, sc); !errors.Is(err, raftfsm.ErrVersion) {
		t.Fatalf("stale operation committed: %v, want ErrVersion", err)
	}
}

// commitAlone commits one Signal operation as a round of its own.
func commitAlone(ctx context.Context, u *unit, sc raftfsm.SignalCommit) error {
	res, err := u.n.Propose(ctx, raftfsm.EncodeSignalRound(raftfsm.SignalRound{Commits: []raftfsm.SignalCommit{sc}}))
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	outs, err := raftfsm.RoundOutcomes(res.Value, 1)
	if err != nil {
		return err
	}
	return outs[0]
}

// BenchmarkOverlayEncrypt is one outbound operation's Signal work on the
// leader for a pair with a session: open the store, check the session,
// encrypt one message and seal the commit's writes (not proposed, so
// every iteration starts from the same committed session).
func BenchmarkOverlayEncrypt(b *testing.B) {
	const consumer = "4915100000045"
	u := unitWithSession(b, consumer)
	ctx := context.Background()
	addr := signalstore.Address(consumer, 1)
	body := make([]byte, 300)
	for b.Loop() {
		ov := newOverlay(ctx, u.n.FSM(), u.sealer, "3")
		st, err := signalstore.Open(ov)
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := st.ContainsSession(ctx, addr); err != nil || !ok {
			b.Fatalf("no session (%v)", err)
		}
		if _, _, err := st.Encrypt(ctx, addr, body); err != nil {
			b.Fatal(err)
		}
		if _, err := ov.commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// unitWithSession is a unit whose business number has a session with
// consumer (the consumer's first message was decrypted and committed).
func unitWithSession(tb testing.TB, consumer string) *unit {
	u := newUnit(tb, Config{})
	ph := newTestPhone(tb, consumer)
	u.deliver(ph.envelope(tb, u.fn, "15550001000", "ph.1", "hello"), "ph.1")
	nodetest.WaitFor(tb, "message acked", 10*time.Second, func() bool { return u.fn.ackCount("ph.1") == 1 })
	return u
}
