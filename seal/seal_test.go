package seal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
)

func TestSealAcrossNodesAndDays(t *testing.T) {
	d := fsmtest.Open(t)
	var kek keyring.KEK
	kek[3] = 9
	day1 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	now := day1
	clock := func() time.Time { return now }
	a, b := New(d, kek, clock), New(d, kek, clock)

	s1, err := a.Seal(context.Background(), []byte("id1"), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Seal(context.Background(), []byte("id2"), []byte("again")); err != nil || d.Calls() != 1 {
		t.Fatalf("second seal proposed again (%d proposals): %v", d.Calls(), err)
	}
	// Another node with the same KEK opens it from the replicated wrapped key.
	if pt, err := b.Open([]byte("id1"), s1); err != nil || string(pt) != "hello" {
		t.Fatalf("other node: %q %v", pt, err)
	}
	// The next day gets its own key.
	now = day1.Add(24 * time.Hour)
	s2, _ := b.Seal(context.Background(), []byte("id3"), []byte("tomorrow"))
	if id1, _ := keyring.KeyID(s1); id1 != Day(day1) {
		t.Fatalf("day key id %d", id1)
	}
	if id2, _ := keyring.KeyID(s2); id2 != Day(day1)+1 {
		t.Fatalf("next day key id %d", id2)
	}
	// A node with another KEK cannot open anything.
	var other keyring.KEK
	other[0] = 1
	if _, err := New(d, other, clock).Open([]byte("id1"), s1); err == nil {
		t.Fatal("opened with a foreign KEK")
	}
	// A blob whose key was never stored is unreadable.
	var lost keyring.DataKey
	lost.ID = 1
	blob, _ := keyring.Seal(lost, nil, []byte("x"))
	if _, err := a.Open(nil, blob); !errors.Is(err, keyring.ErrKeyDestroyed) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestConsumerRef(t *testing.T) {
	var k1, k2 keyring.KEK
	k1[0], k2[0] = 1, 2
	a := ConsumerRef(RefKey(k1), "100", "15550001111")
	if len(a) != 32 || a != ConsumerRef(RefKey(k1), "100", "15550001111") {
		t.Fatalf("ref %q not stable 32 hex digits", a)
	}
	for _, other := range []string{
		ConsumerRef(RefKey(k2), "100", "15550001111"),
		ConsumerRef(RefKey(k1), "101", "15550001111"),
		ConsumerRef(RefKey(k1), "100", "15550001112"),
		ConsumerRef(RefKey(k1), "1001", "5550001111"),
	} {
		if other == a {
			t.Fatalf("distinct inputs share ref %s", a)
		}
	}
	if strings.Contains(a, "15550001111") {
		t.Fatal("ref contains the number")
	}
}

// TestSealerConsumerRef checks the Sealer's pooled HMAC states against the
// definition (HMAC-SHA256(RefKey, phone 0 number), first 16 bytes in hex),
// from goroutines that share the pool.
func TestSealerConsumerRef(t *testing.T) {
	kek := keyring.KEK{5}
	s := New(fsmtest.Open(t), kek, nil)
	want := func(phone, waID string) string {
		k := RefKey(kek)
		m := hmac.New(sha256.New, k[:])
		m.Write([]byte(phone + "\x00" + waID))
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				phone, waID := "100"+strings.Repeat("1", g), strings.Repeat("4", 1+i%40)
				if got := s.ConsumerRef(phone, waID); got != want(phone, waID) || got != ConsumerRef(RefKey(kek), phone, waID) {
					t.Errorf("ConsumerRef(%s, %s) = %s, want %s", phone, waID, got, want(phone, waID))
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSealForRetentionClasses: content sealed for a short retention goes
// under its own hourly key, which expiry destroys hours (not a month)
// later; after Forget and deletion nothing opens it, and a late proposer
// cannot bring the key back.
func TestSealForRetentionClasses(t *testing.T) {
	d := fsmtest.Open(t)
	now := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := New(d, keyring.KEK{7}, clock)
	ctx := context.Background()
	long, err := s.Seal(ctx, []byte("a"), []byte("thirty days"))
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.SealFor(ctx, time.Hour, []byte("a"), []byte("one hour"))
	if err != nil {
		t.Fatal(err)
	}
	idLong, _ := keyring.KeyID(long)
	idShort, _ := keyring.KeyID(short)
	if idLong != Day(now) || idShort == idLong {
		t.Fatalf("key ids %d %d", idLong, idShort)
	}
	// Two and a half hours later expiry destroys the hourly key only.
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdExpire, raftfsm.Expire{Now: now.Add(150 * time.Minute).UnixMilli()})
	res, _ := d.Propose(ctx, cmd)
	r, err := raftfsm.DecodeExpireResult(res.Value)
	if err != nil || len(r.DestroyedKeys) != 1 || r.DestroyedKeys[0] != idShort {
		t.Fatalf("expire: %+v %v", r, err)
	}
	s.Forget(r.DestroyedKeys)
	if _, err := s.Open([]byte("a"), short); !errors.Is(err, keyring.ErrKeyDestroyed) {
		t.Fatalf("open after destruction: %v", err)
	}
	// A fresh node (empty keyring) cannot load it either.
	if _, err := New(d, keyring.KEK{7}, clock).Open([]byte("a"), short); !errors.Is(err, keyring.ErrKeyDestroyed) {
		t.Fatalf("fresh node opens destroyed content: %v", err)
	}
	if pt, err := s.Open([]byte("a"), long); err != nil || string(pt) != "thirty days" {
		t.Fatalf("30-day content: %q %v", pt, err)
	}
	// A node whose clock lags cannot re-create the destroyed period's key.
	if _, err := New(d, keyring.KEK{7}, clock).SealFor(ctx, time.Hour, []byte("a"), []byte("late")); !errors.Is(err, raftfsm.ErrExpired) {
		t.Fatalf("late seal: %v", err)
	}
}

func TestURLKey(t *testing.T) {
	var k1, k2 keyring.KEK
	k1[0], k2[0] = 1, 2
	if URLKey(k1) != URLKey(k1) || URLKey(k1) == URLKey(k2) || URLKey(k1) == RefKey(k1) {
		t.Fatal("URL key must be a deterministic, separate derivation of the KEK")
	}
	if New(nil, k1, nil).URLKey() != URLKey(k1) {
		t.Fatal("Sealer.URLKey")
	}
}

// TestSealingIsOnInRealBuilds: only a -tags waedge_noseal benchmark build
// stores content in the clear; every other build seals.
func TestSealingIsOnInRealBuilds(t *testing.T) {
	if !Enabled() {
		t.Fatal("sealing is off: this test binary was built with -tags waedge_noseal")
	}
}

// BenchmarkConsumerRef compares the Sealer's pooled HMAC states with
// keying a new HMAC per reference (the package function).
func BenchmarkConsumerRef(b *testing.B) {
	kek := keyring.KEK{5}
	s := New(fsmtest.Open(b), kek, nil)
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = s.ConsumerRef("100000000000001", "491700000042")
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		k := RefKey(kek)
		for range b.N {
			_ = ConsumerRef(k, "100000000000001", "491700000042")
		}
	})
}
