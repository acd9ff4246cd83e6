package relay

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/relay/relayclient"
)

func TestRegisterAndFetchBundle(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	biz := newTestDevice(t, "15550000001", 3, network.RoleBusiness)
	phone := newTestDevice(t, "4915100000001", 0, network.RolePhone)
	bc := registered(t, tr.url, biz)
	pc := registered(t, tr.url, phone)
	ctx := ctxT(t)

	if n, err := bc.PreKeyCount(ctx, biz.number); err != nil || n != 3 {
		t.Fatalf("PreKeyCount = %d, %v", n, err)
	}
	var ids []uint32
	for i := 0; i < 4; i++ {
		b, err := pc.FetchBundle(ctx, biz.number)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.IdentityKey, biz.reg.IdentityKey) || b.SignedPreKeyID != 1 ||
			!bytes.Equal(b.SignedPreKeySig, biz.reg.SignedPreKey.Signature) || b.RegistrationID != biz.reg.RegistrationID {
			t.Fatalf("bundle does not match the registration")
		}
		if b.PreKeyID != 0 && !bytes.Equal(b.PreKey, biz.reg.PreKeys[b.PreKeyID-1].Public) {
			t.Fatalf("prekey %d has the wrong public key", b.PreKeyID)
		}
		ids = append(ids, b.PreKeyID)
	}
	if fmt.Sprint(ids) != "[1 2 3 0]" {
		t.Fatalf("prekey ids handed out = %v, want [1 2 3 0]", ids)
	}
	more := newTestDevice(t, biz.number, 2, network.RoleBusiness).reg.PreKeys // just fresh public keys
	more[0].ID, more[1].ID = 10, 11
	if err := bc.AddPreKeys(ctx, biz.number, more); err != nil {
		t.Fatal(err)
	}
	if n, _ := bc.PreKeyCount(ctx, biz.number); n != 2 {
		t.Fatalf("after AddPreKeys count = %d", n)
	}
	if _, err := pc.FetchBundle(ctx, "4900000000"); !isErr(err, network.ErrNotRegistered) {
		t.Fatalf("bundle of unknown number: %v", err)
	}
	// Re-registering with the same identity keeps the remaining prekeys and adds the new ones.
	again := biz.reg
	again.PreKeys = []network.OneTimePreKey{{ID: 20, Public: more[0].Public}}
	if err := bc.Register(ctx, again); err != nil {
		t.Fatal(err)
	}
	if n, _ := bc.PreKeyCount(ctx, biz.number); n != 3 {
		t.Fatalf("after re-register count = %d, want 3", n)
	}
}

func TestOneTimePreKeyNeverHandedOutTwice(t *testing.T) {
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir})
	const keys, fetches = BundleTargetBurst - 5, 64 // within the target's one-time key budget
	biz := newTestDevice(t, "15550000002", keys, network.RoleBusiness)
	registered(t, tr.url, biz)

	clients := make([]interface {
		FetchBundle(context.Context, string) (network.PreKeyBundle, error)
	}, 4)
	for i := range clients {
		clients[i] = registered(t, tr.url, newTestDevice(t, fmt.Sprintf("491510000010%d", i), 0, network.RolePhone))
	}
	var mu sync.Mutex
	seen := map[uint32]int{}
	var wg sync.WaitGroup
	for i := 0; i < fetches; i++ {
		wg.Add(1)
		go func(c interface {
			FetchBundle(context.Context, string) (network.PreKeyBundle, error)
		}) {
			defer wg.Done()
			b, err := c.FetchBundle(context.Background(), biz.number)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[b.PreKeyID]++
			mu.Unlock()
		}(clients[i%len(clients)])
	}
	wg.Wait()
	for id, n := range seen {
		if id != 0 && n != 1 {
			t.Fatalf("prekey %d handed out %d times", id, n)
		}
	}
	if len(seen) != keys+1 || seen[0] != fetches-keys {
		t.Fatalf("got %d distinct ids and %d empty bundles, want %d and %d", len(seen)-1, seen[0], keys, fetches-keys)
	}

	// Used keys stay used across a restart.
	tr.stop()
	tr2 := startRelay(t, Config{DataDir: dir})
	pc := registered(t, tr2.url, newTestDevice(t, "4915100000200", 0, network.RolePhone))
	b, err := pc.FetchBundle(ctxT(t), biz.number)
	if err != nil {
		t.Fatal(err)
	}
	if b.PreKeyID != 0 {
		t.Fatalf("after restart the relay handed out used prekey %d", b.PreKeyID)
	}
}

func TestAuthentication(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	owner := newTestDevice(t, "15550000003", 1, network.RoleBusiness)
	registered(t, tr.url, owner)
	ctx := ctxT(t)
	impostor := newTestDevice(t, owner.number, 1, network.RoleBusiness) // same number, other key
	stranger := newTestDevice(t, "4915100000300", 0, network.RolePhone)

	// A signer that signs owner's number with the impostor's key.
	wrongKey := &signers{devs: map[string]*testDevice{owner.number: impostor}}
	badSPK := newTestDevice(t, "4915100000301", 0, network.RolePhone)
	badSPK.reg.SignedPreKey.Signature = bytes.Repeat([]byte{1}, 64)
	mismatched := newTestDevice(t, "4915100000302", 0, network.RolePhone)
	otherKeySigner := &signers{devs: map[string]*testDevice{mismatched.number: stranger}}

	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"login with another key", func() error { return dial(t, tr.url, wrongKey).Login(ctx, owner.number) }, network.ErrUnauthorized},
		{"register a taken number", func() error {
			return dial(t, tr.url, new(signers).add(impostor)).Register(ctx, impostor.reg)
		}, network.ErrAlreadyRegistered},
		{"registration signed by another key", func() error {
			return dial(t, tr.url, otherKeySigner).Register(ctx, mismatched.reg)
		}, network.ErrUnauthorized},
		{"bad signed prekey signature", func() error {
			return dial(t, tr.url, new(signers).add(badSPK)).Register(ctx, badSPK.reg)
		}, network.ErrInvalid},
		{"login unknown number", func() error {
			return dial(t, tr.url, new(signers).add(stranger)).Login(ctx, stranger.number)
		}, network.ErrNotRegistered},
		{"send without login", func() error {
			return dial(t, tr.url, nil).Send(ctx, envelope("e1", owner.number, stranger.number, "x"))
		}, network.ErrUnauthorized},
		{"fetch bundle without login", func() error {
			_, err := dial(t, tr.url, nil).FetchBundle(ctx, owner.number)
			return err
		}, network.ErrUnauthorized},
		{"ack for another number", func() error {
			c := registered(t, tr.url, newTestDevice(t, "4915100000303", 0, network.RolePhone))
			return c.Ack(ctx, owner.number, "x")
		}, network.ErrUnauthorized},
		{"send as another number", func() error {
			c := registered(t, tr.url, newTestDevice(t, "4915100000304", 0, network.RolePhone))
			return c.Send(ctx, envelope("e2", owner.number, "4915100000304", "x"))
		}, network.ErrUnauthorized},
		{"prekey count for another number", func() error {
			c := registered(t, tr.url, newTestDevice(t, "4915100000305", 0, network.RolePhone))
			_, err := c.PreKeyCount(ctx, owner.number)
			return err
		}, network.ErrUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); !isErr(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// The rightful owner can still log in, and may replace its identity once authenticated.
	oc := dial(t, tr.url, new(signers).add(owner))
	if err := oc.Login(ctx, owner.number); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityReplacementNeedsOldKey(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	old := newTestDevice(t, "15550000004", 2, network.RoleBusiness)
	registered(t, tr.url, old)
	fresh := newTestDevice(t, old.number, 1, network.RoleBusiness)
	// One signer that knows the old key for login and then the new key for the registration.
	s := new(signers).add(old)
	c := dial(t, tr.url, s)
	ctx := ctxT(t)
	if err := c.Login(ctx, old.number); err != nil {
		t.Fatal(err)
	}
	s.add(fresh)
	if err := c.Register(ctx, fresh.reg); err != nil {
		t.Fatalf("authenticated owner could not replace its identity: %v", err)
	}
	b, err := registered(t, tr.url, newTestDevice(t, "4915100000400", 0, network.RolePhone)).FetchBundle(ctx, old.number)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.IdentityKey, fresh.reg.IdentityKey) || b.PreKeyID != 1 || !bytes.Equal(b.PreKey, fresh.reg.PreKeys[0].Public) {
		t.Fatal("bundle still carries the old identity or its prekeys")
	}
}

func TestOversizedAndMalformedFramesRefused(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	cases := []struct {
		name    string
		msg     []byte
		typ     websocket.MessageType
		wantErr websocket.StatusCode
	}{
		{"oversized", make([]byte, network.MaxFrameSize+1), websocket.MessageBinary, websocket.StatusMessageTooBig},
		{"garbage", []byte{9, 9, 9, 9, 9, 9, 9}, websocket.MessageBinary, websocket.StatusPolicyViolation},
		{"text message", []byte("hello"), websocket.MessageText, websocket.StatusUnsupportedData},
		{"relay-only frame type", []byte{1, byte(network.FrameDeliver), 0, 0, 0, 1}, websocket.MessageBinary, websocket.StatusPolicyViolation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := ctxT(t)
			ws, _, err := websocket.Dial(ctx, tr.url+"/v1/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			if _, _, err := ws.Read(ctx); err != nil { // challenge
				t.Fatal(err)
			}
			_ = ws.Write(ctx, c.typ, c.msg)
			_, _, err = ws.Read(ctx)
			if got := websocket.CloseStatus(err); got != c.wantErr {
				t.Fatalf("close status = %v (%v), want %v", got, err, c.wantErr)
			}
		})
	}
	// A well-formed request with a bad payload is answered, not fatal.
	c := registered(t, tr.url, newTestDevice(t, "4915100000500", 0, network.RolePhone))
	if err := c.Ack(ctxT(t), "4915100000500", "bad id!"); !isErr(err, network.ErrInvalid) {
		t.Fatalf("bad ack id: %v", err)
	}
	if err := c.Ack(ctxT(t), "4915100000500", "fine"); err != nil {
		t.Fatalf("connection unusable after a rejected request: %v", err)
	}
}

func TestQueueAckRedeliveryAndDedupe(t *testing.T) {
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir})
	a := newTestDevice(t, "15550000005", 0, network.RoleBusiness)
	b := newTestDevice(t, "4915100000600", 0, network.RolePhone)
	ac := registered(t, tr.url, a)
	bc := registered(t, tr.url, b)
	_ = bc.Close() // b goes offline
	ctx := ctxT(t)

	const n = 30
	for i := 0; i < n; i++ {
		if err := ac.Send(ctx, envelope(fmt.Sprintf("m%02d", i), a.number, b.number, fmt.Sprintf("ct%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Same id from the same sender: accepted, not queued twice.
	if err := ac.Send(ctx, envelope("m00", a.number, b.number, "again")); err != nil {
		t.Fatalf("duplicate send: %v", err)
	}
	// Same id from another sender: refused.
	other := registered(t, tr.url, newTestDevice(t, "4915100000601", 0, network.RolePhone))
	if err := other.Send(ctx, envelope("m00", "4915100000601", b.number, "x")); !isErr(err, network.ErrIDConflict) {
		t.Fatalf("id conflict: %v", err)
	}
	if err := ac.Send(ctx, envelope("zz", a.number, "4900000009", "x")); !isErr(err, network.ErrUnknownRecipient) {
		t.Fatalf("unknown recipient: %v", err)
	}
	if q, _ := tr.st.queueLen(b.number); q != n {
		t.Fatalf("queue length = %d, want %d", q, n)
	}

	// Restart: nothing queued is lost.
	tr.stop()
	tr = startRelay(t, Config{DataDir: dir})

	bc = dial(t, tr.url, new(signers).add(b))
	if err := bc.Login(ctx, b.number); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := recv(t, bc, network.DeliveryEnvelope)
		if want := fmt.Sprintf("m%02d", i); d.ID != want || string(d.Envelope.Ciphertext) != fmt.Sprintf("ct%02d", i) {
			t.Fatalf("delivery %d = %s (%q), want %s in order", i, d.ID, d.Envelope.Ciphertext, want)
		}
		if i < n/2 {
			if err := bc.Ack(ctx, b.number, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bc.Ack(ctx, b.number, "m00", "m01"); err != nil { // acking twice is fine
		t.Fatal(err)
	}
	eventually(t, "acks applied", func() bool { q, _ := tr.st.queueLen(b.number); return q == n-n/2 })
	_ = bc.Close()

	// Reconnect: the unacked half comes again, in order.
	bc = dial(t, tr.url, new(signers).add(b))
	if err := bc.Login(ctx, b.number); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := n / 2; i < n; i++ {
		d := recv(t, bc, network.DeliveryEnvelope)
		ids = append(ids, d.ID)
		if err := bc.Ack(ctx, b.number, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != fmt.Sprintf("m%02d", n/2) || !sort.StringsAreSorted(ids) {
		t.Fatalf("redelivered %v", ids)
	}
	noDelivery(t, bc, 100*time.Millisecond, network.DeliveryEnvelope)
	eventually(t, "queue drained", func() bool { q, _ := tr.st.queueLen(b.number); return q == 0 })
}

func TestLiveDeliveryAndTakeover(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	a := newTestDevice(t, "4915100000700", 0, network.RolePhone)
	b := newTestDevice(t, "15550000007", 0, network.RoleBusiness)
	ac := registered(t, tr.url, a)
	old := registered(t, tr.url, b)
	ctx := ctxT(t)
	if err := ac.Send(ctx, envelope("t1", a.number, b.number, "x")); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, old, network.DeliveryEnvelope); d.ID != "t1" {
		t.Fatalf("live delivery %s", d.ID)
	}
	// A new leader logs the number in elsewhere: it takes the number over and gets the unacked item.
	fresh := dial(t, tr.url, new(signers).add(b))
	if err := fresh.Login(ctx, b.number); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, fresh, network.DeliveryEnvelope); d.ID != "t1" {
		t.Fatalf("takeover redelivery %s", d.ID)
	}
	if err := old.Ack(ctx, b.number, "t1"); !isErr(err, network.ErrUnauthorized) {
		t.Fatalf("old owner ack after takeover: %v", err)
	}
	if err := ac.Send(ctx, envelope("t2", a.number, b.number, "y")); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, fresh, network.DeliveryEnvelope); d.ID != "t2" {
		t.Fatalf("after takeover got %s", d.ID)
	}
	noDelivery(t, old, 100*time.Millisecond, network.DeliveryEnvelope)
}

func TestReceiptsTypingAndSignals(t *testing.T) {
	tr := startRelay(t, Config{DataDir: t.TempDir()})
	biz := newTestDevice(t, "15550000008", 0, network.RoleBusiness)
	ph := newTestDevice(t, "4915100000800", 0, network.RolePhone)
	bc := registered(t, tr.url, biz)
	pc := registered(t, tr.url, ph)
	ctx := ctxT(t)

	if err := bc.Send(ctx, envelope("r1", biz.number, ph.number, "x")); err != nil {
		t.Fatal(err)
	}
	d := recv(t, pc, network.DeliveryEnvelope)
	if err := pc.Ack(ctx, ph.number, d.ID); err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{network.StatusDelivered, network.StatusRead} {
		if err := pc.SendReceipt(ctx, network.Receipt{EnvelopeIDs: []string{"r1"}, From: ph.number, To: biz.number,
			Status: status, Timestamp: 1}); err != nil {
			t.Fatal(err)
		}
		r := recv(t, bc, network.DeliveryReceipt)
		if r.Receipt.Status != status || r.Receipt.EnvelopeIDs[0] != "r1" || r.Receipt.From != ph.number {
			t.Fatalf("receipt %+v", r.Receipt)
		}
		if err := bc.Ack(ctx, biz.number, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := pc.SendReceipt(ctx, network.Receipt{EnvelopeIDs: []string{"r1"}, From: biz.number, To: ph.number, Status: "read"}); !isErr(err, network.ErrUnauthorized) {
		t.Fatalf("receipt as someone else: %v", err)
	}

	// Typing reaches an online recipient and is never queued.
	if err := pc.Typing(ctx, ph.number, biz.number); err != nil {
		t.Fatal(err)
	}
	if ty := recv(t, bc, network.DeliveryTyping); ty.Typing.From != ph.number {
		t.Fatalf("typing %+v", ty.Typing)
	}
	_ = pc.Close()
	if err := bc.Typing(ctx, biz.number, ph.number); err != nil {
		t.Fatal(err)
	}
	if q, _ := tr.st.queueLen(ph.number); q != 0 {
		t.Fatalf("typing was queued for an offline device (%d)", q)
	}

	// Spam report and block reach the business as signals; a block stops its sends.
	pc = dial(t, tr.url, new(signers).add(ph))
	if err := pc.Login(ctx, ph.number); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{network.SignalSpamReport, network.SignalBlock} {
		if err := pc.Report(ctx, ph.number, biz.number, kind); err != nil {
			t.Fatal(err)
		}
		s := recv(t, bc, network.DeliverySignal)
		if s.Signal.Kind != kind || s.Signal.Consumer != ph.number || s.Signal.Business != biz.number {
			t.Fatalf("signal %+v", s.Signal)
		}
		_ = bc.Ack(ctx, biz.number, s.ID)
	}
	if err := bc.Send(ctx, envelope("r2", biz.number, ph.number, "x")); !isErr(err, network.ErrBlocked) {
		t.Fatalf("send to a consumer who blocked: %v", err)
	}
	if err := pc.Report(ctx, ph.number, biz.number, network.SignalUnblock); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, bc, network.DeliverySignal); s.Signal.Kind != network.SignalUnblock {
		t.Fatalf("signal %+v", s.Signal)
	}
	if err := bc.Send(ctx, envelope("r3", biz.number, ph.number, "x")); err != nil {
		t.Fatalf("send after unblock: %v", err)
	}
	if err := pc.Report(ctx, ph.number, biz.number, "like"); !isErr(err, network.ErrInvalid) {
		t.Fatalf("unknown report kind: %v", err)
	}
}

func TestNewRecipientRateAndRetention(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	tr := startRelay(t, Config{DataDir: t.TempDir(), Now: now})
	biz := newTestDevice(t, "15550000009", 0, network.RoleBusiness)
	bc := registered(t, tr.url, biz)
	ctx := ctxT(t)
	var phones []*testDevice
	for i := 0; i < 3; i++ {
		p := newTestDevice(t, fmt.Sprintf("491510000090%d", i), 0, network.RolePhone)
		registered(t, tr.url, p)
		phones = append(phones, p)
	}
	rate := func() int {
		t.Helper()
		s := recv(t, bc, network.DeliverySignal)
		if s.Signal.Kind != network.SignalNewRecipientRate {
			t.Fatalf("signal %+v", s.Signal)
		}
		_ = bc.Ack(ctx, biz.number, s.ID)
		return s.Signal.Count
	}
	for i, p := range phones {
		if err := bc.Send(ctx, envelope(fmt.Sprintf("n%d", i), biz.number, p.number, "x")); err != nil {
			t.Fatal(err)
		}
		if got := rate(); got != i+1 {
			t.Fatalf("rate after %d recipients = %d", i+1, got)
		}
	}
	// Sending to a known recipient changes nothing; phones are not tracked.
	if err := bc.Send(ctx, envelope("n9", biz.number, phones[0].number, "x")); err != nil {
		t.Fatal(err)
	}
	noDelivery(t, bc, 100*time.Millisecond, network.DeliverySignal)

	// 25 hours later the window is empty again.
	clock.Add((25 * time.Hour).Milliseconds())
	tr.Sweep()
	if got := rate(); got != 0 {
		t.Fatalf("rate after the window passed = %d", got)
	}
	if q, _ := tr.st.queueLen(phones[0].number); q != 2 {
		t.Fatalf("queue before retention = %d", q)
	}
	// 31 days later queued envelopes and dedupe records are gone, and the id may be reused.
	clock.Add((31 * 24 * time.Hour).Milliseconds())
	tr.Sweep()
	if q, _ := tr.st.queueLen(phones[0].number); q != 0 {
		t.Fatalf("queue after retention = %d", q)
	}
	if err := bc.Send(ctx, envelope("n0", biz.number, phones[0].number, "x")); err != nil {
		t.Fatal(err)
	}
	if q, _ := tr.st.queueLen(phones[0].number); q != 1 {
		t.Fatalf("expired dedupe record still suppresses id reuse (queue %d)", q)
	}
	// After retention the recipient counts as new again.
	if got := rate(); got != 1 {
		t.Fatalf("rate after retention = %d", got)
	}
}

// TestSlowConsumerDoesNotBlockOthers: while the relay is stuck writing to a device that never
// reads, other devices' envelopes still go round, and the stuck device is dropped after the write
// timeout with everything it was sent still queued.
//
// The stuck write must overlap the round trips, or the test proves nothing: the backlog is queued
// while the slow device is offline and pushed at its login, the write timeout is longer than the
// round trips need on a loaded machine, and the test checks that the slow device was still
// connected when the round trips ended. A relay that made others wait behind the stuck write would
// hold each round trip for the whole write timeout, far past recv's deadline.
func TestSlowConsumerDoesNotBlockOthers(t *testing.T) {
	const writeTimeout = 15 * time.Second
	tr := startRelay(t, Config{DataDir: t.TempDir(), WriteTimeout: writeTimeout, Window: 64})
	slow := newTestDevice(t, "4915100001000", 0, network.RolePhone)
	sender := newTestDevice(t, "15550000010", 0, network.RoleBusiness)
	a := newTestDevice(t, "4915100001001", 0, network.RolePhone)
	b := newTestDevice(t, "4915100001002", 0, network.RolePhone)
	if err := registered(t, tr.url, slow).Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "slow device offline after registering", func() bool { return !tr.hub.online(slow.number) })
	sc := registered(t, tr.url, sender)
	ac := registered(t, tr.url, a)
	bc := registered(t, tr.url, b)

	// 20 MiB for the slow device, far more than the socket buffers hold, queued while it is
	// offline. Moving it takes a while under the race detector on a loaded machine, and it is not
	// what the test measures, so it has its own generous deadline.
	big := strings.Repeat("x", 512<<10)
	bigCtx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 0; i < 40; i++ {
		if err := sc.Send(bigCtx, envelope(fmt.Sprintf("big%d", i), sender.number, slow.number, big)); err != nil {
			t.Fatal(err)
		}
	}

	// The slow device logs in on a raw socket and never reads: the relay starts pushing the
	// backlog at once and its writer gets stuck.
	ctx := ctxT(t)
	ws, ch := rawChallenge(t, tr)
	login, _ := network.EncodeJSONFrame(network.FrameLogin, 1, network.LoginRequest{Number: slow.number,
		Signature: slow.sign(network.AuthMessage(ch.Nonce, slow.number))})
	if err := ws.Write(ctx, websocket.MessageBinary, login); err != nil {
		t.Fatal(err)
	}
	pushing := func() bool {
		s := tr.hub.owner(slow.number)
		if s == nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.inflight) > 0
	}
	eventually(t, "the relay pushing the backlog to the slow device", pushing)
	loggedIn := time.Now()

	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("ab%d", i)
		if err := ac.Send(ctx, envelope(id, a.number, b.number, "hi")); err != nil {
			t.Fatal(err)
		}
		if d := recv(t, bc, network.DeliveryEnvelope); d.ID != id {
			t.Fatalf("got %s want %s", d.ID, id)
		}
		_ = bc.Ack(ctx, b.number, id)
	}
	if !tr.hub.online(slow.number) {
		t.Fatalf("the slow device was dropped before the round trips ended (%v after its login, write timeout %v): "+
			"nothing shows they went round while its write was stuck", time.Since(loggedIn), writeTimeout)
	}
	// The relay gives up on the stuck reader; its envelopes stay queued.
	poll.Until(t, "slow consumer disconnected", writeTimeout+time.Minute, func() bool { return !tr.hub.online(slow.number) })
	if q, _ := tr.st.queueLen(slow.number); q != 40 {
		t.Fatalf("queue of the slow consumer = %d", q)
	}
}

func TestBlobs(t *testing.T) {
	dir := t.TempDir()
	tr := startRelay(t, Config{DataDir: dir, MaxBlobSize: 1 << 10})
	c := registered(t, tr.url, newTestDevice(t, "4915100000700", 0, network.RolePhone))
	ctx := ctxT(t)
	id, err := c.PutBlob(ctx, []byte("opaque ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBlob(ctx, id)
	if err != nil || string(got) != "opaque ciphertext" {
		t.Fatalf("GetBlob = %q, %v", got, err)
	}
	if _, err := c.PutBlob(ctx, make([]byte, 2<<10)); err == nil {
		t.Fatal("oversized blob accepted")
	}
	for _, bad := range []string{"0123456789abcdef0123456789abcdef", "x"} {
		if _, err := c.GetBlob(ctx, bad); !isErr(err, network.ErrNotFound) {
			t.Fatalf("GetBlob(%q) = %v", bad, err)
		}
	}
	// Raw requests with a valid device proof: the real id is served, a traversal is not.
	proof := rawBlobProof(t, tr, newTestDevice(t, "4915100000701", 0, network.RolePhone))
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", tr.url+path, nil)
		req.Header = proof.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, body
	}
	if code, body := get("/sandbox/blobs/" + id); code != http.StatusOK || string(body) != "opaque ciphertext" {
		t.Fatalf("blob with a raw device proof: %d", code)
	}
	if code, body := get("/sandbox/blobs/..%2frelay.db"); code == http.StatusOK || bytes.Contains(body, []byte("bolt")) {
		t.Fatal("path traversal through blob id")
	}
	// Retention: an old blob is swept.
	old := time.Now().Add(-31 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "blobs", id), old, old); err != nil {
		t.Fatal(err)
	}
	tr.Sweep()
	if _, err := c.GetBlob(ctx, id); !isErr(err, network.ErrNotFound) {
		t.Fatalf("expired blob still served: %v", err)
	}
}

// handoffListener is a TCP port the test owns for its whole life: connections go to whichever
// relay is plugged in, and are closed (a relay that is down) while none is. So a relay can "come
// back on the same address" without hoping the port is still free.
type handoffListener struct {
	ln     net.Listener
	mu     sync.Mutex
	target *memListener
}

func newHandoffListener(t *testing.T) *handoffListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &handoffListener{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			tgt := h.target
			h.mu.Unlock()
			if tgt == nil {
				_ = c.Close()
				continue
			}
			select {
			case tgt.conns <- c:
			case <-tgt.done:
				_ = c.Close()
			}
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return h
}

// serve plugs r in until the returned stop is called (which also closes r).
func (h *handoffListener) serve(t *testing.T, r *Relay) (stop func()) {
	m := newMemListener()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, m) }()
	h.mu.Lock()
	h.target = m
	h.mu.Unlock()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			h.mu.Lock()
			h.target = nil
			h.mu.Unlock()
			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestClientReconnects(t *testing.T) {
	dir := t.TempDir()
	port := newHandoffListener(t)
	url := "http://" + port.ln.Addr().String()
	r1, err := New(Config{DataDir: dir}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := port.serve(t, r1)
	a := newTestDevice(t, "4915100001100", 0, network.RolePhone)
	b := newTestDevice(t, "4915100001101", 0, network.RolePhone)
	ac := registered(t, url, a)
	stop()
	downCtx, cancelDown := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelDown()
	if err := ac.Send(downCtx, envelope("c0", a.number, b.number, "x")); err == nil {
		t.Fatal("send succeeded with the relay down")
	}
	// Bring a relay back on the same address; the client reconnects and logs in again by itself.
	r, err := New(Config{DataDir: dir}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	port.serve(t, r)
	bc := dial(t, url, new(signers).add(b))
	if err := bc.Register(ctxT(t), b.reg); err != nil {
		t.Fatal(err)
	}
	sendCtx, cancelSend := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelSend()
	var sendErr error
	for {
		if sendErr = ac.Send(sendCtx, envelope("c1", a.number, b.number, "x")); sendErr == nil || sendCtx.Err() != nil {
			break
		}
	}
	if sendErr != nil {
		t.Fatalf("client did not recover: %v", sendErr)
	}
	if d := recv(t, bc, network.DeliveryEnvelope); d.ID != "c1" {
		t.Fatalf("got %s", d.ID)
	}
}

// rawBlobProof registers dev on a raw WebSocket (kept open for the test) and returns the blob
// routes' device-proof headers for it, as relayclient computes them.
func rawBlobProof(t *testing.T, tr *testRelay, dev *testDevice) http.Header {
	t.Helper()
	ctx := ctxT(t)
	ws, ch := rawChallenge(t, tr)
	reg, _ := network.EncodeJSONFrame(network.FrameRegister, 1, network.RegisterRequest{Registration: dev.reg,
		Signature: dev.sign(network.AuthMessage(ch.Nonce, dev.number))})
	if err := ws.Write(ctx, websocket.MessageBinary, reg); err != nil {
		t.Fatal(err)
	}
	_, frame, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var res network.Result
	if f, err := network.DecodeFrame(frame); err != nil || f.Type != network.FrameResult || f.DecodeJSON(&res) != nil || res.Err() != nil {
		t.Fatalf("raw registration: %v %+v", err, res)
	}
	return http.Header{relayclient.HeaderNumber: {dev.number},
		relayclient.HeaderProof: {base64.StdEncoding.EncodeToString(dev.sign(relayclient.BlobProofMessage(ch.Nonce, dev.number)))}}
}

// rawChallenge opens a raw WebSocket to the relay (closed when the test
// ends) and reads the login challenge it sends first.
func rawChallenge(t *testing.T, tr *testRelay) (*websocket.Conn, network.Challenge) {
	t.Helper()
	ctx := ctxT(t)
	ws, _, err := websocket.Dial(ctx, tr.url+"/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	_, frame, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := network.DecodeFrame(frame)
	var ch network.Challenge
	if err := f.DecodeJSON(&ch); err != nil {
		t.Fatal(err)
	}
	return ws, ch
}
