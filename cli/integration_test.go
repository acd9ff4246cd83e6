package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waedge/waedge/cli"
	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/raftfsm/fsmtest"
	"github.com/waedge/waedge/web"
)

// fakeCluster is a one-node "cluster" that applies proposals straight to a
// real FSM.
type fakeCluster struct{ *fsmtest.Direct }

func (c *fakeCluster) Status(context.Context) (cluster.Status, error) {
	return cluster.Status{NodeID: "n1", State: "Leader", LeaderID: "n1", Ready: true,
		Members: []cluster.Member{{ID: "n1", Address: "127.0.0.1:7000", Suffrage: "Voter", Leader: true}}}, nil
}

func (c *fakeCluster) CreateJoinToken(context.Context, time.Duration) (string, error) {
	return "wjt1.cli-test", nil
}

func (c *fakeCluster) RemoveNode(_ context.Context, id string) error {
	if id != "n2" {
		return cluster.ErrNodeNotFound
	}
	return nil
}

func (c *fakeCluster) TransferLeadership(context.Context) error { return cluster.ErrNoLeader }
func (c *fakeCluster) Ready() bool                              { return true }
func (c *fakeCluster) CaughtUp() bool                           { return true }

// startServer runs a real web app on a loopback port with an admin token.
func startServer(t *testing.T, adminToken string) string {
	t.Helper()
	fsm, err := raftfsm.Open(filepath.Join(t.TempDir(), "fsm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsm.Close() })
	c := &fakeCluster{fsmtest.New(fsm)}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdCreateToken, raftfsm.CreateToken{
		TokenID: "admin", Hash: sha256.Sum256([]byte(adminToken)), Kind: raftfsm.TokenAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Propose(context.Background(), cmd); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	app := web.New(web.Deps{Cluster: c})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-done
	})
	return "http://" + ln.Addr().String()
}

func TestAgainstRealServer(t *testing.T) {
	const admin = "admin-secret-token"
	server := startServer(t, admin)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"WAEDGE_SERVER": server, "WAEDGE_TOKEN_FILE": tokenFile}[k]
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), args, &out, &errb, env)
		return code, out.String(), errb.String()
	}

	code, out, errs := run("tenant", "create", "--name", "Acme", "--phone", "+15551234567")
	if code != 0 {
		t.Fatalf("tenant create: %d %s", code, errs)
	}
	var created map[string]string
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["access_token"] == "" || !strings.Contains(out, "\n  \"") {
		t.Fatalf("tenant create output is not indented JSON with a token: %q", out)
	}
	if strings.Contains(errs, created["access_token"]) {
		t.Fatal("token written to stderr")
	}

	for _, tc := range []struct {
		args    []string
		code    int
		stdout  string
		stderr  string
		noToken bool
	}{
		{args: []string{"tenant", "list"}, stdout: created["phone_number_id"]},
		{args: []string{"tenant", "retention", created["phone_number_id"], "--hours", "1"}, stdout: `"retention_hours": 1`},
		{args: []string{"tenant", "retention", created["phone_number_id"], "--hours", "0"}, stdout: `"retention_hours": 720`},
		{args: []string{"tenant", "retention", "999999", "--hours", "2"}, code: 1, stderr: "no phone number with this id"},
		{args: []string{"tenant", "retention", created["phone_number_id"], "--hours", "721"}, code: 2, stderr: "--hours between 0 and 720"},
		{args: []string{"cluster", "status"}, stdout: `"node_id": "n1"`},
		{args: []string{"cluster", "join-token", "--ttl", "2h"}, stdout: `"join_token": "wjt1.cli-test"`},
		{args: []string{"cluster", "remove", "n2"}, stdout: `"success": true`},
		{args: []string{"cluster", "remove", "n9"}, code: 1, stderr: "no cluster member has this id"},
		{args: []string{"cluster", "transfer-leadership"}, code: 1, stderr: "(#2) Service temporarily unavailable"},
		{args: []string{"tenant", "create", "--name", "Dup", "--phone", "+15551234567"}, code: 1, stderr: "phone number already registered"},
		{args: []string{"cluster", "join-token", "--ttl", "999h"}, code: 1, stderr: "(#100) Invalid parameter"},
		{args: []string{"cluster", "status", "--token", "wrong"}, code: 1, stderr: "(#190)"},
		{args: []string{"tenant", "admin-token", created["business_id"]}, stdout: `"kind": "business_admin"`},
		{args: []string{"tenant", "admin-token", "999999"}, code: 1, stderr: "no business with this id"},
		{args: []string{"audit", "list", "--limit", "2"}, stdout: `"action": "tenant.create"`},
		{args: []string{"audit", "list"}, stdout: `"action": "phone.retention"`},
		{args: []string{"webhooks", "log", "--state", "all", "--limit", "10"}, stdout: `"data": [`},
		{args: []string{"webhooks", "log", "--state", "sent"}, code: 2, stderr: "--state must be"},
		{args: []string{"webhooks", "log", "--limit", "0"}, code: 2, stderr: "--limit must be"},
		{args: []string{"cluster", "status", "--token-file", filepath.Join(t.TempDir(), "absent")}, code: 1, stderr: "cannot read admin token"},
	} {
		code, out, errs := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
			t.Fatalf("%v: exit %d\nstdout %s\nstderr %s", tc.args, code, out, errs)
		}
		if strings.Contains(out+errs, admin) {
			t.Fatalf("%v: admin token printed", tc.args)
		}
	}
}

func TestEnvironmentAndUsage(t *testing.T) {
	const admin = "env-admin-token"
	server := startServer(t, admin)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"token from env", []string{"cluster", "status"}, map[string]string{"WAEDGE_SERVER": server, "WAEDGE_ADMIN_TOKEN": admin}, 0, ""},
		{"flags after positional", []string{"cluster", "remove", "n2", "--server", server, "--token", admin}, nil, 0, ""},
		{"unreachable", []string{"cluster", "status", "--server", "http://127.0.0.1:1", "--token", "x"}, nil, 1, "cannot reach"},
		{"help hides env token", []string{"cluster", "status", "-h"}, map[string]string{"WAEDGE_ADMIN_TOKEN": admin}, 2, "usage:"},
		{"bad flag", []string{"tenant", "list", "--bogus"}, nil, 2, "usage:"},
		{"missing phone", []string{"tenant", "create", "--name", "A"}, nil, 2, "usage:"},
		{"too few args", []string{"cluster"}, nil, 2, "usage:"},
		{"unknown", []string{"tenant", "delete"}, nil, 2, "usage:"},
		{"extra arg", []string{"cluster", "status", "now"}, nil, 2, "expected 0 argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := cli.Run(context.Background(), tc.args, &out, &errb, func(k string) string { return tc.env[k] })
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			if strings.Contains(out.String()+errb.String(), admin) {
				t.Fatal("admin token printed")
			}
		})
	}
}
