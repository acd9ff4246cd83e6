package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/web"
)

// serveNode serves the web app of one cluster node; it returns the base URL.
func serveNode(t *testing.T, n *node.Node) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := web.New(web.Deps{Cluster: n, Sealer: seal.New(n, n.KEK(), nil), PublicURL: "http://" + ln.Addr().String()})
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second); <-done })
	return "http://" + ln.Addr().String()
}

// TestMediaAcrossCluster: media uploaded through one node is served, with
// URLs signed by any node, by every other node of a 3-node cluster. A
// patient cluster: the test is about replicated media, not failover, and on
// a loaded machine fast Raft timeouts change the leader mid-upload.
func TestMediaAcrossCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := nodetest.PatientCluster(t, 3)
	leader := nodetest.Leader(t, nodes)
	var follower *node.Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "100000000000001",
		BusinessName: "B", WABAID: "100000000000002", PhoneNumberID: "100000000000003", DisplayPhoneNumber: "+15550001000",
		AppID: "100000000000004", AppSecret: "s", TokenID: "t", TokenHash: sha256.Sum256([]byte("tok-a")), CreatedAt: time.Now().UnixMilli()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if res, err := leader.Propose(ctx, cmd); err != nil || res.Err != nil {
		t.Fatalf("create tenant: %v %v", err, res.Err)
	}
	leaderURL, followerURL := serveNode(t, leader), serveNode(t, follower)

	do := func(method, u string, body io.Reader, size int64, ctype string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, u, body)
		req.ContentLength = size
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Authorization", "Bearer tok-a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	upload := func(base string, size int64) string {
		t.Helper()
		body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("application/pdf", pdfMagic, size)})
		code, b := do("POST", base+"/v21.0/100000000000003/media", body, n, ct)
		var out struct{ ID string }
		if code != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("upload via %s: %d %s", base, code, b)
		}
		return out.ID
	}
	info := func(base, id string) (m mediaInfo) {
		t.Helper()
		nodetest.WaitFor(t, "media visible on "+base, 30*time.Second, func() bool {
			code, b := do("GET", base+"/v21.0/"+id, nil, 0, "")
			return code == 200 && json.Unmarshal(b, &m) == nil
		})
		return m
	}
	get := func(u string, want []byte) {
		t.Helper()
		code, b := do("GET", u, nil, 0, "")
		if code != 200 || !bytes.Equal(b, want) {
			t.Fatalf("download %s: %d, %d bytes, want %d", u, code, len(b), len(want))
		}
	}
	const size = 2*raftfsm.MediaChunkSize + 1000
	want := content(pdfMagic, size)

	// Uploaded through the leader; GET and download on the follower, also
	// with the URL the leader signed.
	id := upload(leaderURL, size)
	fm := info(followerURL, id)
	if !strings.HasPrefix(fm.URL, followerURL+"/") || fm.FileSize != size {
		t.Fatalf("follower's view: %+v", fm)
	}
	get(fm.URL, want)
	lm := info(leaderURL, id)
	get(strings.Replace(lm.URL, leaderURL, followerURL, 1), want)

	// Uploaded through the follower (chunks forwarded to the leader).
	id2 := upload(followerURL, size)
	get(info(leaderURL, id2).URL, want)
	if code, b := do("DELETE", followerURL+"/v21.0/"+id2, nil, 0, ""); code != 200 {
		t.Fatalf("delete via follower: %d %s", code, b)
	}
	nodetest.WaitFor(t, "delete replicated", 30*time.Second, func() bool {
		_, err := leader.FSM().Media(id2)
		return err != nil
	})
}
