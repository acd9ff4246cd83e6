package phone_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay"
	"github.com/waedge/waedge/relay/relayclient"
)

func TestMain(m *testing.M) {
	phone.SetupSignalLogging(nil) // process-global: once, here
	os.Exit(m.Run())
}

// frameTap records every message the relay receives, one Write per frame.
type frameTap struct {
	mu     sync.Mutex
	frames [][]byte
}

func (t *frameTap) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.frames = append(t.frames, bytes.Clone(p))
	t.mu.Unlock()
	return len(p), nil
}

func (t *frameTap) all() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.frames...)
}

// sentKinds returns the kind of every envelope the relay received, by envelope id.
func (t *frameTap) sentKinds() map[string]network.Kind {
	out := map[string]network.Kind{}
	for _, b := range t.all() {
		f, err := network.DecodeFrame(b)
		if err != nil || f.Type != network.FrameSend {
			continue
		}
		if e, err := network.UnmarshalEnvelope(f.Payload); err == nil {
			out[e.ID] = e.Kind
		}
	}
	return out
}

type env struct {
	t    *testing.T
	dir  string
	tap  *frameTap
	url  string
	stop func()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir(), tap: &frameTap{}}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start (re)starts the relay on the same data dir.
func (e *env) start() {
	r, err := relay.New(relay.Config{DataDir: e.dir, Tap: e.tap}, quiet())
	if err != nil {
		e.t.Fatal(err)
	}
	addr := "127.0.0.1:0"
	if e.url != "" {
		addr = strings.TrimPrefix(e.url, "http://")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Serve(ctx, ln)
	}()
	e.url = "http://" + ln.Addr().String()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			_ = r.Close()
		})
	}
}

type device struct {
	*phone.Phone
	client *relayclient.Client
	store  phone.Store
}

func (e *env) phone(number string, st phone.Store, onUpdate func(phone.Message)) *device {
	e.t.Helper()
	if st == nil {
		st = phone.NewMemStore()
	}
	p, err := phone.New(phone.Config{Number: number, Name: "P" + number[len(number)-2:], Store: st, OnUpdate: onUpdate}, quiet())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := tctx(e.t)
	c, err := relayclient.Dial(ctx, e.url, relayclient.Options{Signer: p, Logger: quiet()})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.Start(ctx, c); err != nil {
		e.t.Fatal(err)
	}
	d := &device{Phone: p, client: c, store: st}
	e.t.Cleanup(d.shutdown)
	return d
}

func (d *device) shutdown() {
	_ = d.Phone.Close()
	_ = d.client.Close()
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, 15*time.Second, cond)
}

func inboxTexts(t *testing.T, d *device) []string {
	t.Helper()
	msgs, err := d.Inbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Content.Text != nil {
			out = append(out, m.Content.Text.Body)
		} else {
			out = append(out, m.Status)
		}
	}
	return out
}

func waitInbox(t *testing.T, d *device, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("inbox %v", want), func() bool {
		return fmt.Sprint(inboxTexts(t, d)) == fmt.Sprint(want)
	})
}

func status(t *testing.T, d *device, id string) string {
	m, err := d.Message(id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Status
}

const marker = "PLAINTEXT-MARKER-"

func TestPhoneToPhoneConversation(t *testing.T) {
	e := newEnv(t)
	a := e.phone("4915100000001", nil, nil)
	b := e.phone("4915100000002", nil, nil)
	ctx := tctx(t)

	m1, err := a.SendText(ctx, b.Number(), marker+"hello B")
	if err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, marker+"hello B")
	m2, err := b.SendText(ctx, a.Number(), marker+"hi A")
	if err != nil {
		t.Fatal(err)
	}
	waitInbox(t, a, marker+"hi A")
	m3, err := a.SendText(ctx, b.Number(), marker+"how are you")
	if err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, marker+"hello B", marker+"how are you")

	kinds := e.tap.sentKinds()
	if kinds[m1.ID] != network.KindPreKeyMessage {
		t.Fatalf("first message kind %d, want pkmsg", kinds[m1.ID])
	}
	if kinds[m2.ID] != network.KindSignalMessage || kinds[m3.ID] != network.KindSignalMessage {
		t.Fatalf("replies kinds %d %d, want msg", kinds[m2.ID], kinds[m3.ID])
	}

	// Delivered receipts come back automatically; read receipts when the user reads.
	eventually(t, "delivered receipt", func() bool { return status(t, a, m1.ID) == phone.StatusDelivered })
	if err := b.MarkRead(ctx, m1.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "read receipt", func() bool { return status(t, a, m1.ID) == phone.StatusRead })
	if status(t, b, m1.ID) != phone.StatusRead {
		t.Fatal("reader's copy not marked read")
	}
	in, _ := b.Inbox()
	if in[0].From != a.Number() || in[0].ProfileName != "P01" || in[0].Timestamp == 0 || in[0].ReceivedAt == 0 {
		t.Fatalf("inbox entry %+v", in[0])
	}

	// Nothing the relay received contains plaintext.
	for _, f := range e.tap.all() {
		if bytes.Contains(f, []byte(marker)) {
			t.Fatal("the relay received plaintext")
		}
	}
}

func TestOfflineQueueAndRelayRestart(t *testing.T) {
	e := newEnv(t)
	a := e.phone("4915100000011", nil, nil)
	bStore := phone.NewMemStore()
	b := e.phone("4915100000012", bStore, nil)
	ctx := tctx(t)
	if _, err := a.SendText(ctx, b.Number(), "first"); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, "first")
	b.shutdown() // B goes offline

	var ids []string
	for _, s := range []string{"second", "third", "fourth"} {
		m, err := a.SendText(ctx, b.Number(), s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	// The relay restarts while the messages wait; then B comes back with its state.
	a.shutdown()
	e.stop()
	e.start()
	b = e.phone(b.Number(), bStore, nil)
	waitInbox(t, b, "first", "second", "third", "fourth")
	a = e.phone(a.Number(), a.store, nil)
	eventually(t, "receipts for queued messages", func() bool {
		for _, id := range ids {
			if status(t, a, id) != phone.StatusDelivered {
				return false
			}
		}
		return true
	})
}

func TestDuplicatesAreIgnored(t *testing.T) {
	e := newEnv(t)
	a := e.phone("4915100000021", nil, nil)
	b := e.phone("4915100000022", nil, nil)
	ctx := tctx(t)
	m, err := a.SendText(ctx, b.Number(), "once")
	if err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, "once")
	// The same ciphertext again under a new envelope id (a sender that re-sent after a lost ack):
	// the ratchet answers ErrOldCounter and the phone treats it as a duplicate.
	var orig network.Envelope
	for _, f := range e.tap.all() {
		fr, err := network.DecodeFrame(f)
		if err == nil && fr.Type == network.FrameSend {
			if env, err := network.UnmarshalEnvelope(fr.Payload); err == nil && env.ID == m.ID {
				orig = env
			}
		}
	}
	if orig.ID == "" {
		t.Fatal("original envelope not seen by the tap")
	}
	again := orig
	again.ID = "dup." + orig.ID
	if err := a.client.Send(ctx, again); err != nil {
		t.Fatal(err)
	}
	// A marker after it proves the duplicate was processed (deliveries are in order).
	if _, err := a.SendText(ctx, b.Number(), "after"); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, "once", "after")
}

func TestMediaEndToEnd(t *testing.T) {
	e := newEnv(t)
	a := e.phone("4915100000031", nil, nil)
	b := e.phone("4915100000032", nil, nil)
	ctx := tctx(t)
	img := bytes.Repeat([]byte(marker+"pixels"), 500)
	m, err := a.SendMedia(ctx, b.Number(), network.ContentImage, "image/png", img, "a caption")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "image received", func() bool { _, err := b.Message(m.ID); return err == nil })
	got, mime, err := b.FetchMedia(ctx, m.ID)
	if err != nil || !bytes.Equal(got, img) || mime != "image/png" {
		t.Fatalf("FetchMedia = %d bytes %q %v", len(got), mime, err)
	}
	blobs, _ := filepath.Glob(filepath.Join(e.dir, "blobs", "*"))
	for _, f := range blobs {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(marker)) {
			t.Fatal("relay stored a plaintext blob")
		}
	}
	for _, f := range e.tap.all() {
		if bytes.Contains(f, []byte(marker)) {
			t.Fatal("the relay received plaintext media")
		}
	}
	if _, _, err := b.FetchMedia(ctx, "nope"); !errors.Is(err, phone.ErrNoMessage) {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestBoltStorePersistsIdentityAndSessions(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "phone.db")
	db, err := phone.OpenBoltDB(path)
	if err != nil {
		t.Fatal(err)
	}
	a := e.phone("4915100000041", phone.NewBoltStore(db, "a"), nil)
	b := e.phone("4915100000042", nil, nil)
	ctx := tctx(t)
	key := a.IdentityKey()
	if _, err := a.SendText(ctx, b.Number(), "before"); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, "before")
	if _, err := b.SendText(ctx, a.Number(), "reply"); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, a, "reply")
	a.shutdown()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = phone.OpenBoltDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a = e.phone(a.Number(), phone.NewBoltStore(db, "a"), nil)
	if !bytes.Equal(a.IdentityKey(), key) {
		t.Fatal("identity changed across restart")
	}
	waitInbox(t, a, "reply")
	m, err := a.SendText(ctx, b.Number(), "after")
	if err != nil {
		t.Fatal(err)
	}
	waitInbox(t, b, "before", "after")
	if k := e.tap.sentKinds()[m.ID]; k != network.KindSignalMessage {
		t.Fatalf("after restart the session was not reused (kind %d)", k)
	}
}
