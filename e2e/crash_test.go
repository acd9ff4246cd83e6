package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBlackBoxColdRestart: three real processes take writes through all
// of them; all three are killed with SIGKILL while writes are in flight,
// then started again with the same command lines. Every acknowledged
// write is there on every node afterwards, the replicas' state digests
// agree, and the cluster takes new writes.
func TestBlackBoxColdRestart(t *testing.T) {
	nodes, token := startCluster(t)
	const workers, killAfter = 8, 150
	var (
		mu      sync.Mutex
		acked   []string
		seq     atomic.Int64
		killed  = make(chan struct{})
		killing sync.Once
		wg      sync.WaitGroup
	)
	killAll := func() {
		for _, p := range nodes { // signal all before waiting for any
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
		}
		for _, p := range nodes {
			p.kill()
		}
		close(killed)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-killed:
					return
				default:
				}
				i := seq.Add(1)
				p := nodes[int(i)%len(nodes)]
				var created tenantCreated
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				code, err := doJSON(ctx, "POST", p.url("/admin/v1/tenants"), token,
					map[string]string{"name": fmt.Sprintf("cold %d", i), "phone": fmt.Sprintf("+1555%07d", i)}, &created)
				cancel()
				if err != nil || code != 200 {
					continue // refused or cut off by the kill: not acknowledged
				}
				mu.Lock()
				acked = append(acked, created.PhoneNumberID)
				n := len(acked)
				mu.Unlock()
				if n == killAfter {
					go killing.Do(killAll) // while the other workers' writes are in flight
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < killAfter {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	t.Logf("%d writes acknowledged, then kill -9 of all three nodes", len(acked))

	for _, p := range nodes {
		p.start() // the same command line
	}
	for _, p := range nodes {
		p.waitReady(60 * time.Second)
	}
	leader := leaderProc(t, nodes, token)
	for _, p := range nodes {
		have := listTenants(t, p, token)
		var missing []string
		for _, id := range acked {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			t.Fatalf("%s lost %d of %d acknowledged writes, e.g. %v", p.name, len(missing), len(acked), missing[:min(5, len(missing))])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", leader.url("/admin/v1/tenants"), token,
		map[string]string{"name": "after the cold restart", "phone": "+15559999999"}, &created); err != nil || code != 200 {
		t.Fatalf("write after the cold restart: %d %v", code, err)
	}
	waitConverged(t, nodes, token)
	if st, err := leader.status(token); err != nil || len(st.Members) != 3 {
		t.Fatalf("members after the cold restart: %+v %v", st.Members, err)
	}
}

// TestBlackBoxSIGTERM: a leader sent SIGTERM hands leadership over before
// it exits — another node reports itself leader on the admin status API
// no later than shortly after the old leader's exit, well inside the
// heartbeat timeout (2 s here) that an election would have to wait out — and
// exits with status 0; so does a follower. Both, restarted with the same
// command lines, rejoin with the cluster's data intact.
func TestBlackBoxSIGTERM(t *testing.T) {
	// Timeouts far above the 400 ms bound below, so that only a handover
	// can meet it.
	nodes, token := startCluster(t, "--raft-heartbeat-timeout", "2s", "--raft-election-timeout", "2s",
		"--raft-lease-timeout", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", nodes[1].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Acme", "phone": "+15550000001"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	old := leaderProc(t, nodes, token)
	var others []*proc
	for _, p := range nodes {
		if p != old {
			others = append(others, p)
		}
	}

	// Watch each of the two others (one poller each, so a slow answer from
	// one does not delay noticing the other) from before the signal until
	// one leads.
	type seen struct {
		at   time.Time
		node string
	}
	newLeader := make(chan seen, len(others))
	watchCtx, stopWatch := context.WithTimeout(context.Background(), 20*time.Second)
	defer stopWatch()
	for _, p := range others {
		go func(p *proc) {
			for watchCtx.Err() == nil {
				if st, err := p.status(token); err == nil && st.State == "Leader" {
					newLeader <- seen{time.Now(), p.name}
					return
				}
				time.Sleep(5 * time.Millisecond) // polling interval
			}
		}(p)
	}
	sent := time.Now()
	if err := old.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not exit within 30s of SIGTERM")
	}
	exited := time.Now()
	if code := old.exitCode(); code != 0 {
		t.Fatalf("the leader exited with status %d on SIGTERM, want 0", code)
	}
	var s seen
	select {
	case s = <-newLeader:
		stopWatch()
	case <-watchCtx.Done():
		t.Fatal("no other node became leader within 20s")
	}
	t.Logf("SIGTERM → %s leads after %v; the old leader exited after %v",
		s.node, s.at.Sub(sent).Round(time.Millisecond), exited.Sub(sent).Round(time.Millisecond))
	// A handover makes the new leader before the old one shuts Raft down;
	// without one the others wait at least the heartbeat timeout (2 s)
	// after the last heartbeat, which comes just before the exit.
	if late := s.at.Sub(exited); late > 400*time.Millisecond {
		t.Fatalf("the next leader appeared %v after the old leader exited: an election, not a handover", late)
	}
	if strings.Contains(old.log.String(), "leadership transfer on shutdown failed") {
		t.Fatal("the old leader reports a failed leadership transfer")
	}

	// A follower's SIGTERM exits 0 too, and the cluster keeps its leader.
	follower := others[0]
	if follower.name == s.node {
		follower = others[1]
	}
	follower.stop()
	if code := follower.exitCode(); code != 0 {
		t.Fatalf("a follower exited with status %d on SIGTERM, want 0", code)
	}

	// Both restart with their command lines and rejoin with the data.
	old.start()
	follower.start()
	for _, p := range nodes {
		p.waitReady(30 * time.Second)
	}
	waitConverged(t, nodes, token)
	for _, p := range nodes {
		if !listTenants(t, p, token)[created.PhoneNumberID] {
			t.Fatalf("%s lost the tenant", p.name)
		}
	}
	// Duplicate phone numbers are refused with the Graph envelope.
	code, _ := doJSON(ctx, "POST", nodes[2].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Acme 2", "phone": "+15550000001"}, nil)
	if code != 400 {
		t.Fatalf("duplicate phone: status %d, want 400", code)
	}
}
