package messages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/seal"
)

const consumer = "4915100000001"

// fixture is a service over a real FSM with one tenant (phone 3001,
// registered) and a real sealer.
func fixture(t *testing.T) (*Service, *fsmtest.Direct, *seal.Sealer, raftfsm.Tenant) {
	t.Helper()
	d := fsmtest.Open(t)
	f := d.FSM()
	d.MustPropose(t, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1001", BusinessName: "biz", WABAID: "2001",
		WABAName: "waba", PhoneNumberID: "3001", DisplayPhoneNumber: "+15551234567", VerifiedName: "biz", AppID: "4001",
		AppSecret: "secret", TokenID: "tok", TokenHash: sha256.Sum256([]byte("token")), CreatedAt: 1_767_225_600_000})
	tn, err := f.Tenant("3001")
	if err != nil {
		t.Fatal(err)
	}
	var kek keyring.KEK
	kek[0] = 1
	now := func() time.Time { return time.UnixMilli(1_767_225_700_000) }
	s := seal.New(d, kek, now)
	return New(Deps{Cluster: d, Sealer: s, Now: now}), d, s, tn
}

func template(t *testing.T) *cloudapi.SendRequest {
	t.Helper()
	req, err := cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","to":"+` + consumer + `","type":"text",` +
		`"text":{"body":"hello"},"biz_opaque_callback_data":"cb-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSendSealsWithTheRecipe: an accepted send is stored with every
// private field sealed by the one recipe (seal.Open*), the consumer by its
// keyed reference, and nothing in clear.
func TestSendSealsWithTheRecipe(t *testing.T) {
	svc, d, s, tn := fixture(t)
	// The customer wrote first: the 24-hour window is open.
	d.MustPropose(t, raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: bytes.Repeat([]byte{1}, 16), IDRef: raftfsm.MessageIDRef("in"),
		PhoneNumberID: "3001", PeerRef: s.ConsumerRef("3001", consumer), Type: "text", ReceivedAt: 1_767_225_650_000})
	req := template(t)
	wamid, err := svc.Send(context.Background(), Send{Tenant: tn, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.FSM().MessageByID(wamid)
	if err != nil {
		t.Fatal(err)
	}
	if m.Direction != raftfsm.DirectionOut || m.PeerRef != s.ConsumerRef("3001", consumer) || m.Status != raftfsm.StatusAccepted {
		t.Fatalf("stored %+v", m)
	}
	if id, err := seal.OpenID(s, m); err != nil || id != wamid {
		t.Fatalf("wamid: %q %v", id, err)
	}
	if peer, err := seal.OpenPeer(s, m, wamid); err != nil || peer != consumer {
		t.Fatalf("peer: %q %v", peer, err)
	}
	want, _ := cloudapi.EncodeContent(req)
	if c, err := seal.OpenContent(s, m, wamid); err != nil || !bytes.Equal(c, want) {
		t.Fatalf("content: %q %v", c, err)
	}
	if cb, err := seal.OpenCallback(s, m, wamid); err != nil || cb != "cb-1" {
		t.Fatalf("callback: %q %v", cb, err)
	}
	if seal.Enabled() && (bytes.Contains(m.Content, []byte("hello")) || bytes.Contains(m.PeerSealed, []byte(consumer))) {
		t.Fatal("content or consumer stored in clear")
	}
}

// TestSendRefusalsChangeNothing: each refusal has the platform's code and
// leaves the state as it was; the caller's checks run before anything is
// sealed or proposed.
func TestSendRefusalsChangeNothing(t *testing.T) {
	svc, d, _, tn := fixture(t)
	ctx := context.Background()
	dump := func() string {
		var b bytes.Buffer
		if err := d.FSM().Dump(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	check := func(name string, err error, code int) {
		t.Helper()
		var ge *graph.Error
		if !errors.As(err, &ge) || ge.Code != code {
			t.Fatalf("%s: %v, want code %d", name, err, code)
		}
	}

	d.MustPropose(t, raftfsm.CmdRegisterPhone, raftfsm.RegisterPhone{PhoneNumberID: "3001", BusinessID: "1001", At: 1})
	before, calls := dump(), d.Calls()
	_, err := svc.Send(ctx, Send{Tenant: tn, Request: template(t)})
	check("unregistered number", err, cloudapi.ErrNotRegistered.Code)
	if dump() != before || d.Calls() != calls {
		t.Fatal("a send from an unregistered number changed the state")
	}

	d.MustPropose(t, raftfsm.CmdRegisterPhone, raftfsm.RegisterPhone{PhoneNumberID: "3001", BusinessID: "1001", Register: true, At: 2})
	// No message from the consumer: the 24-hour window is closed. As on
	// Meta, the free-form send is accepted and fails at once (131047 by
	// status webhook), so it is not a refusal.
	wamid, err := svc.Send(ctx, Send{Tenant: tn, Request: template(t)})
	if err != nil {
		t.Fatalf("closed window: %v, want accepted", err)
	}
	if m, err := d.FSM().MessageByID(wamid); err != nil || m.Status != raftfsm.StatusFailed {
		t.Fatalf("closed window: stored %+v, %v; want failed", m, err)
	}

	self, err := cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","to":"+15551234567","type":"text","text":{"body":"me"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Send(ctx, Send{Tenant: tn, Request: self})
	check("to itself", err, cloudapi.ErrRecipientIsSender.Code)

	read, err := cloudapi.ParseSend([]byte(`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.nope"}`))
	if err != nil {
		t.Fatal(err)
	}
	check("read of an unknown message", svc.MarkRead(ctx, "3001", read), graph.ErrParameterValue.Code)
}

// TestKeysOfTwoNodesDiffer: two nodes' services stamping the same
// nanosecond still make different keys. Numbered from 1 on every node,
// the nodes' counts stay close under equal load, and one send in about a
// million was refused as a duplicate key (500) in bench expiry.
func TestKeysOfTwoNodesDiffer(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return at }
	a, b := New(Deps{Now: now}), New(Deps{Now: now})
	seen := map[string]bool{}
	for range 1000 {
		seen[string(a.Key())] = true
	}
	for range 1000 {
		if k := b.Key(); seen[string(k)] {
			t.Fatalf("two nodes made the same key %x at the same instant", k)
		}
	}
}
