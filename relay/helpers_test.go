package relay

import (
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

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/util/keyhelper"

	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/relay/relayclient"
)

var ser = serialize.NewProtoBufSerializer()

// testDevice is a device identity with real libsignal keys; it signs for its number.
type testDevice struct {
	number string
	kp     *identity.KeyPair
	reg    network.Registration
}

func newTestDevice(t testing.TB, number string, otks int, role network.Role) *testDevice {
	t.Helper()
	kp, err := keyhelper.GenerateIdentityKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	spk, err := keyhelper.GenerateSignedPreKey(kp, 1, ser.SignedPreKeyRecord)
	if err != nil {
		t.Fatal(err)
	}
	sig := spk.Signature()
	reg := network.Registration{Number: number, DeviceID: 1, RegistrationID: keyhelper.GenerateRegistrationID()%16380 + 1,
		IdentityKey: kp.PublicKey().Serialize(), Role: role,
		SignedPreKey: network.SignedPreKey{ID: spk.ID(), Public: spk.KeyPair().PublicKey().Serialize(), Signature: sig[:]}}
	if otks > 0 {
		pks, err := keyhelper.GeneratePreKeys(1, otks, ser.PreKeyRecord) // end id is inclusive
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range pks {
			reg.PreKeys = append(reg.PreKeys, network.OneTimePreKey{ID: pk.ID().Value, Public: pk.KeyPair().PublicKey().Serialize()})
		}
	}
	return &testDevice{number: number, kp: kp, reg: reg}
}

func (d *testDevice) sign(msg []byte) []byte {
	s := ecc.CalculateSignature(d.kp.PrivateKey(), msg)
	return s[:]
}

// signers is a network.Signer over several test devices (one connection, many numbers).
type signers struct {
	mu   sync.Mutex
	devs map[string]*testDevice
}

func (s *signers) add(ds ...*testDevice) *signers {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.devs == nil {
		s.devs = map[string]*testDevice{}
	}
	for _, d := range ds {
		s.devs[d.number] = d
	}
	return s
}

func (s *signers) Sign(number string, msg []byte) ([]byte, error) {
	s.mu.Lock()
	d := s.devs[number]
	s.mu.Unlock()
	if d == nil {
		return nil, fmt.Errorf("no key for %s", number)
	}
	return d.sign(msg), nil
}

// testRelay is a relay served on a real loopback TCP port.
type testRelay struct {
	*Relay
	url   string
	token string // the HTTP API's bearer token, read from relay.token
	stop  func()
}

// testTokens maps a test relay's URL to its token, so api can authenticate its requests.
var testTokens sync.Map

// readToken reads the bearer token the relay created in dir.
func readToken(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, TokenFileName))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func startRelay(t testing.TB, cfg Config) *testRelay {
	t.Helper()
	r, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	var once sync.Once
	tr := &testRelay{Relay: r, url: "http://" + ln.Addr().String(), token: readToken(t, cfg.DataDir)}
	testTokens.Store(tr.url, tr.token)
	tr.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(tr.stop)
	return tr
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tlogWriter struct{ t testing.TB }

func (w *tlogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func dial(t testing.TB, url string, s network.Signer) *relayclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := relayclient.Dial(ctx, url, relayclient.Options{Signer: s, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// registered dials a client and registers the devices on it.
func registered(t testing.TB, url string, devs ...*testDevice) *relayclient.Client {
	t.Helper()
	c := dial(t, url, new(signers).add(devs...))
	for _, d := range devs {
		if err := c.Register(ctxT(t), d.reg); err != nil {
			t.Fatalf("register %s: %v", d.number, err)
		}
	}
	return c
}

// recv waits for the next delivery of one of the wanted types (others are acked and skipped).
func recv(t testing.TB, c *relayclient.Client, want ...network.DeliveryType) network.Delivery {
	t.Helper()
	ch, _ := c.Receive(context.Background())
	deadline := time.After(10 * time.Second)
	for {
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatal("delivery channel closed")
			}
			for _, w := range want {
				if d.Type == w {
					return d
				}
			}
		case <-deadline:
			t.Fatalf("no delivery of types %v within 10s", want)
		}
	}
}

// noDelivery asserts that nothing of the given types arrives within d.
func noDelivery(t testing.TB, c *relayclient.Client, wait time.Duration, types ...network.DeliveryType) {
	t.Helper()
	ch, _ := c.Receive(context.Background())
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case d := <-ch:
			for _, w := range types {
				if d.Type == w {
					t.Fatalf("unexpected delivery %v %s", d.Type, d.ID)
				}
			}
		case <-timer.C:
			return
		}
	}
}

func envelope(id, from, to string, body string) network.Envelope {
	return network.Envelope{ID: id, From: from, To: to, FromDevice: 1, Kind: network.KindSignalMessage,
		Ciphertext: []byte(body), Timestamp: time.Now().UnixMilli()}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, 10*time.Second, cond)
}

func isErr(err, target error) bool { return errors.Is(err, target) }
