package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBlackBoxKilledBetweenCheckpoints: a follower whose state machine
// has applied writes since its last checkpoint (--fsm-checkpoint-every and
// --fsm-checkpoint-bytes far above what the test writes: the only
// checkpoint is at start-up) is
// killed with SIGKILL while writes go on. Restarted, it rolls its state
// machine back to the checkpoint, replays the rest from its Raft log, and
// converges with the others holding every acknowledged write.
func TestBlackBoxKilledBetweenCheckpoints(t *testing.T) {
	nodes, token := startCluster(t, "--fsm-checkpoint-every", "1000000", "--fsm-checkpoint-bytes", "1GiB")
	leader := leaderProc(t, nodes, token)
	var victim *proc
	for _, p := range nodes {
		if p != leader {
			victim = p
			break
		}
	}
	var acked []string
	write := func(n int) {
		for i := 0; i < n; i++ {
			body := map[string]string{"name": fmt.Sprintf("ckpt %d", len(acked)), "phone": fmt.Sprintf("+1777%07d", len(acked))}
			var created tenantCreated
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			code, err := doJSON(ctx, "POST", leader.url("/admin/v1/tenants"), token, body, &created)
			cancel()
			if err != nil || code != 200 {
				t.Fatalf("create tenant: %d %v", code, err)
			}
			acked = append(acked, created.PhoneNumberID)
		}
	}
	write(40)
	waitConverged(t, nodes, token) // the victim applied them, after its checkpoint
	before, err := fsmDigest(victim, token)
	if err != nil {
		t.Fatal(err)
	}
	victim.kill()
	write(20)

	victim.start()
	victim.waitReady(30 * time.Second)
	waitConverged(t, nodes, token)
	if !strings.Contains(victim.log.String(), "rolled back to its last checkpoint") {
		t.Fatal("the restarted node did not roll its state machine back to a checkpoint")
	}
	after, err := fsmDigest(victim, token)
	if err != nil || after.AppliedIndex <= before.AppliedIndex {
		t.Fatalf("applied index %d before the kill, %d after the restart (%v)", before.AppliedIndex, after.AppliedIndex, err)
	}
	have := listTenants(t, victim, token)
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("%s lost acknowledged tenant %s", victim.name, id)
		}
	}
}
