package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// createTenants creates n businesses through p, numbered from base, and
// returns their phone number ids (every one acknowledged).
func createTenants(t *testing.T, p *proc, token, prefix string, base, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		var created tenantCreated
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		code, err := doJSON(ctx, "POST", p.url("/admin/v1/tenants"), token,
			map[string]string{"name": fmt.Sprintf("%s %d", prefix, i), "phone": fmt.Sprintf("+1555%07d", base+i)}, &created)
		cancel()
		if err != nil || code != 200 {
			t.Fatalf("create tenant %s %d: %d %v", prefix, i, code, err)
		}
		ids = append(ids, created.PhoneNumberID)
	}
	return ids
}

// TestBlackBoxDisasterRecovery: two of three nodes are killed for good, so
// the survivor cannot write (no quorum); `waedge cluster recover` on its
// stopped data dir makes it a one-node cluster that kept every
// acknowledged write, takes new ones, and grows again by a fresh join.
func TestBlackBoxDisasterRecovery(t *testing.T) {
	nodes, token := startCluster(t)
	survivor := nodes[0]
	acked := createTenants(t, survivor, token, "before", 7100, 20)
	for _, p := range nodes[1:] {
		p.kill() // for good: their data dirs are never used again
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	code, err := doJSON(ctx, "POST", survivor.url("/admin/v1/tenants"), token, map[string]string{"name": "lost", "phone": "+15559990000"}, nil)
	cancel()
	if err == nil && code == 200 {
		t.Fatal("a write was acknowledged without a quorum")
	}

	// Refused while the node runs, and without the confirmation.
	if _, errOut, err := cli(t, "cluster", "recover", "--data-dir", survivor.dataDir, "--yes"); err == nil || !strings.Contains(errOut, "running") {
		t.Fatalf("recover on a running node: %v %s", err, errOut)
	}
	survivor.kill()
	if _, _, err := cli(t, "cluster", "recover", "--data-dir", survivor.dataDir); err == nil {
		t.Fatal("recover ran without --yes")
	}
	out, errOut, err := cli(t, "cluster", "recover", "--data-dir", survivor.dataDir, "--yes")
	if err != nil {
		t.Fatalf("recover: %v\n%s%s", err, out, errOut)
	}
	survivor.start()
	survivor.waitReady(30 * time.Second)
	st, err := survivor.status(token)
	if err != nil || st.State != "Leader" || len(st.Members) != 1 {
		t.Fatalf("after recovery: %+v %v", st, err)
	}
	have := listTenants(t, survivor, token)
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("acknowledged tenant %s lost in the recovery", id)
		}
	}
	createTenants(t, survivor, token, "after", 7200, 3)

	// The cluster grows again: a fresh node joins with a new token.
	jt, errOut, err := cli(t, "cluster", "join-token", "--server", survivor.url(""), "--token-file", filepath.Join(survivor.dataDir, "admin.token"))
	if err != nil {
		t.Fatalf("join-token: %v %s", err, errOut)
	}
	tok := jt[strings.Index(jt, "wjt1."):]
	tok = tok[:strings.IndexByte(tok, '"')]
	fresh := newProc(t, "fresh", "--join", survivor.clusterAddr, "--join-token", tok)
	fresh.start()
	fresh.waitReady(30 * time.Second)
	waitFor(t, "two members", 10*time.Second, func() bool {
		st, err := survivor.status(token)
		return err == nil && len(st.Members) == 2
	})
	want := len(listTenants(t, survivor, token))
	waitFor(t, "the new member has the recovered state", 20*time.Second, func() bool {
		var l tenantList
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code, err := doJSON(ctx, "GET", fresh.url("/admin/v1/tenants"), token, nil, &l)
		return err == nil && code == 200 && len(l.Data) == want
	})
}
