package retention_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/retention"
	"github.com/waedge/waedge/seal"
)

// clock is an injectable time source shared by every node of a test.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func propose(t testing.TB, n *node.Node, typ raftfsm.CommandType, payload any) raftfsm.Result {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Propose(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func digest(t testing.TB, n *node.Node) string {
	t.Helper()
	h := sha256.New()
	if err := n.FSM().Dump(h); err != nil {
		t.Fatal(err)
	}
	idx, _ := n.FSM().AppliedIndex()
	return fmt.Sprintf("%d/%x", idx, h.Sum(nil))
}

// TestExpiryIsDeterministicAcrossNodes runs a 3-node cluster with an
// injected clock: messages are sealed on every node under the phones'
// retention classes, the clock moves past retention, the leader's worker
// expires. Every replica ends byte-identical, every node's keyring has
// forgotten the destroyed keys (nothing opens any more), and every node
// compacted its Raft log past the expiry.
func TestExpiryIsDeterministicAcrossNodes(t *testing.T) {
	nodes := nodetest.Cluster(t, 3)
	leader := nodetest.Leader(t, nodes)
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	sealers := make([]*seal.Sealer, len(nodes))
	for i, n := range nodes {
		sealers[i] = seal.New(n, n.KEK(), clk.Now)
		n.OnDataKeysDestroyed(sealers[i].Forget)
	}
	if r := propose(t, leader, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "B",
		WABAID: "2", PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s",
		TokenID: "t", TokenHash: sha256.Sum256([]byte("tok"))}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := propose(t, leader, raftfsm.CmdSetRetention, raftfsm.SetRetention{PhoneNumberID: "3", Hours: 1}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := propose(t, leader, raftfsm.CmdSetSubscription, raftfsm.SetSubscription{WABAID: "2", BusinessID: "1",
		AppID: "4", CallbackURL: "http://127.0.0.1:1/"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	type sent struct {
		wamid  string
		sealed []byte
	}
	var msgs []sent
	for i := range 30 {
		n, s := nodes[i%3], sealers[i%3]
		wamid := fmt.Sprintf("wamid.test-%d", i)
		consumer := fmt.Sprintf("1555000%04d", i)
		content, err := s.SealFor(context.Background(), time.Hour, []byte(wamid), []byte("secret text"))
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := s.SealFor(context.Background(), time.Hour, raftfsm.PeerAAD(wamid), []byte(consumer))
		body, _ := s.SealFor(context.Background(), time.Hour, raftfsm.WebhookAAD("2"), []byte(`{"x":1}`))
		var key [16]byte
		binary.BigEndian.PutUint64(key[:8], uint64(clk.Now().UnixNano()))
		binary.BigEndian.PutUint64(key[8:], uint64(i))
		if r := propose(t, n, raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key[:], IDRef: raftfsm.MessageIDRef(wamid),
			PhoneNumberID: "3", PeerRef: s.ConsumerRef("3", consumer), PeerSealed: peer, Type: "text", Content: content,
			ReceivedAt: clk.Now().UnixMilli(), Event: &raftfsm.OutboxEvent{Key: key[:], Body: body, CreatedAt: clk.Now().UnixMilli()}}); r.Err != nil {
			t.Fatal(r.Err)
		}
		msgs = append(msgs, sent{wamid, content})
		clk.Advance(time.Minute)
	}
	for i, s := range sealers {
		if pt, err := s.Open([]byte(msgs[0].wamid), msgs[0].sealed); err != nil || string(pt) != "secret text" {
			t.Fatalf("node %d cannot open before expiry: %v", i, err)
		}
	}
	// Two hours on: everything is past the 1 h retention and its hourly key
	// past its period + 1 h.
	clk.Advance(2*time.Hour + 30*time.Minute)
	w := retention.New(leader, retention.Config{Budget: 7}, nil, clk.Now)
	run, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 30 messages + 30 windows + 30 webhook events, 7 per command.
	if run.Deleted != 90 || run.Commands < 90/7 || run.DestroyedKeys == 0 || run.More {
		t.Fatalf("run %+v", run)
	}
	// Every replica applies the same log: byte-identical state.
	nodetest.WaitFor(t, "replicas identical", 10*time.Second, func() bool {
		d0 := digest(t, nodes[0])
		return d0 == digest(t, nodes[1]) && d0 == digest(t, nodes[2])
	})
	for i, n := range nodes {
		if c := n.FSM().MessageCount(); c != 0 {
			t.Fatalf("node %d: %d messages left", i, c)
		}
		if ids, _ := n.FSM().DataKeyIDs(); len(ids) != 0 {
			t.Fatalf("node %d: data keys left %v", i, ids)
		}
		// Each node's keyring forgot the keys: its copy of the ciphertext
		// (say from an old log segment) no longer opens, on any node.
		for _, m := range msgs {
			if _, err := sealers[i].Open([]byte(m.wamid), m.sealed); !errors.Is(err, keyring.ErrKeyDestroyed) {
				t.Fatalf("node %d opens expired content: %v", i, err)
			}
		}
		// Each node compacted its own Raft log after the expiry.
		nodetest.WaitFor(t, fmt.Sprintf("node %d compacted", i), 10*time.Second, func() bool {
			return n.ExpiryCompactions() > 0
		})
	}
	// A second run finds nothing to do and changes nothing but meta.
	if run, err := w.RunOnce(context.Background()); err != nil || run.Deleted != 0 || run.DestroyedKeys != 0 {
		t.Fatalf("second run %+v %v", run, err)
	}
}

// TestWorkerRunsOnItsOwn: registered as a leader worker it expires without
// being called, on its interval.
func TestWorkerRunsOnItsOwn(t *testing.T) {
	nodes := nodetest.Cluster(t, 1)
	n := nodes[0]
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	w := retention.New(n, retention.Config{Interval: 20 * time.Millisecond}, nil, clk.Now)
	n.RegisterWorker("retention", w.Run)
	nodetest.WaitFor(t, "an expiry applied", 10*time.Second, func() bool {
		return n.FSM().ExpiredThrough() == clk.Now().UnixMilli()
	})
	clk.Advance(time.Hour)
	w.Kick()
	nodetest.WaitFor(t, "the next expiry applied", 10*time.Second, func() bool {
		return n.FSM().ExpiredThrough() == clk.Now().UnixMilli()
	})
}
