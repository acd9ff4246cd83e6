package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// TestBlockListAcrossCluster: the block list is replicated state. A block
// made through a follower (forwarded to the leader, acknowledged once
// applied there and on the follower) refuses sends through both nodes at
// once with 131026; an unblock through the other node lets sends through
// it at once and through the follower as soon as that has applied it.
//
// A patient cluster: the test is about replicated state, not failover, and
// on a loaded machine fast Raft timeouts change the leader mid-request.
func TestBlockListAcrossCluster(t *testing.T) {
	nodes := nodetest.PatientCluster(t, 3)
	leader := nodetest.Leader(t, nodes)
	var follower *node.Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	const pn, consumer = "100000000000013", "15551460001"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	propose := func(typ raftfsm.CommandType, payload any) {
		t.Helper()
		cmd, err := raftfsm.EncodeCommand(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		// A young cluster may still change leaders: retry through the
		// leader of the moment (a retry of an applied write conflicts).
		for attempt := 0; attempt < 5; attempt++ {
			_, err = raftfsm.Outcome(nodetest.Leader(t, nodes).Propose(ctx, cmd))
			if err == nil || (attempt > 0 && errors.Is(err, raftfsm.ErrConflict)) {
				return
			}
		}
		t.Fatal(err)
	}
	propose(raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "100000000000011", BusinessName: "B", WABAID: "100000000000012",
		PhoneNumberID: pn, DisplayPhoneNumber: "+15550146000", AppID: "100000000000014", AppSecret: "s", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok-block")), CreatedAt: time.Now().UnixMilli()})
	// The consumer wrote just now: the window is open and the user may be blocked.
	ref := seal.New(leader, leader.KEK(), nil).ConsumerRef(pn, consumer)
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(time.Now().UnixNano()))
	propose(raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key[:], IDRef: raftfsm.MessageIDRef("wamid.in-block"), PhoneNumberID: pn,
		PeerRef: ref, Type: "text", Content: []byte("x"), ReceivedAt: time.Now().UnixMilli()})
	leaderURL, followerURL := serveNode(t, leader), serveNode(t, follower)
	nodetest.WaitFor(t, "tenant on the follower", 30*time.Second, func() bool {
		_, err := follower.FSM().Phone(pn)
		return err == nil && follower.FSM().WindowOpen(pn, ref, time.Now().UnixMilli())
	})
	do := func(method, u, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok-block")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	send := func(base string) (int, string) {
		return do("POST", base+"/v21.0/"+pn+"/messages", `{"messaging_product":"whatsapp","to":"`+consumer+`","type":"text","text":{"body":"hi"}}`)
	}
	block := `{"messaging_product":"whatsapp","block_users":[{"user":"` + consumer + `"}]}`
	if code, out := do("POST", followerURL+"/v21.0/"+pn+"/block_users", block); code != 200 || !strings.Contains(out, `"added_users":[{`) {
		t.Fatalf("block via the follower: %d %s", code, out)
	}
	for _, base := range []string{followerURL, leaderURL} {
		if code, out := send(base); code != 400 || !strings.Contains(out, `"code":131026`) {
			t.Fatalf("send to a blocked user via %s: %d %s", base, code, out)
		}
	}
	if code, out := do("DELETE", leaderURL+"/v21.0/"+pn+"/block_users", block); code != 200 {
		t.Fatalf("unblock via the leader: %d %s", code, out)
	}
	if code, out := send(leaderURL); code != 200 {
		t.Fatalf("send via the leader after the unblock: %d %s", code, out)
	}
	nodetest.WaitFor(t, "the follower applies the unblock", 30*time.Second, func() bool {
		return !follower.FSM().Blocked(pn, ref)
	})
	if code, out := send(followerURL); code != 200 {
		t.Fatalf("send via the follower after the unblock: %d %s", code, out)
	}
}
