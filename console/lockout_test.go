package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/waedge/waedge/console"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/raftfsm"
)

// clock is a test clock shared by the nodes' accounts.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// accountsOn starts a real 3-node cluster and one Accounts per node, and
// creates a console admin named name (password "password of <name>").
func accountsOn(t *testing.T, names ...string) ([]*node.Node, []*console.Accounts, *clock) {
	t.Helper()
	nodes := nodetest.PatientCluster(t, 3)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	var accts []*console.Accounts
	for _, n := range nodes {
		accts = append(accts, console.New(console.Config{Cluster: n, Now: clk.Now, PublicURL: "https://edge.example"}))
	}
	for i, name := range names {
		// The user is written directly with a cheap argon2id hash (checked
		// with its own parameters), so parallel checks do not starve Raft
		// of the CPU under -race.
		link := sha256.Sum256([]byte("link " + name))
		propose(t, nodes[0], raftfsm.CmdConsoleInvite, raftfsm.ConsoleInvite{Hash: link,
			Link: raftfsm.ConsoleLink{Role: raftfsm.TokenAdmin, ExpiresAt: clk.Now().Add(time.Hour).UnixMilli(), CreatedBy: "test"}})
		propose(t, nodes[0], raftfsm.CmdConsoleRedeem, raftfsm.ConsoleRedeem{LinkHash: link, At: clk.Now().UnixMilli(),
			User: raftfsm.ConsoleUser{ID: fmt.Sprintf("u%d", i), Name: name, PasswordHash: cheapHash("password of " + name),
				CreatedAt: clk.Now().UnixMilli()}})
		for _, n := range nodes {
			nodetest.WaitFor(t, "user replicated", 5*time.Second, func() bool {
				_, err := n.FSM().ConsoleUserByName(name)
				return err == nil
			})
		}
	}
	return nodes, accts, clk
}

func propose(t *testing.T, n *node.Node, typ raftfsm.CommandType, payload any) {
	t.Helper()
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raftfsm.Outcome(n.Propose(context.Background(), cmd)); err != nil {
		t.Fatal(err)
	}
}

// cheapHash is an argon2id PHC string with the smallest parameters.
func cheapHash(password string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// TestLockoutIsClusterWide: wrong passwords tried on alternating nodes of
// a real 3-node cluster add up, so the sixth attempt is refused on every
// node, even with the right password, until the lock runs out; the right
// password then clears the count everywhere.
func TestLockoutIsClusterWide(t *testing.T) {
	nodes, accts, clk := accountsOn(t, "root")
	ctx := context.Background()
	for i := 0; i < console.MaxFailures; i++ {
		_, _, err := accts[i%3].SignIn(ctx, "root", "not the password", "192.0.2.1")
		if !errors.Is(err, console.ErrBadCredentials) {
			t.Fatalf("wrong password %d on node %d: %v, want ErrBadCredentials", i, i%3, err)
		}
	}
	start := clk.Now()
	for i, a := range accts {
		_, _, err := a.SignIn(ctx, "Root", "password of root", "192.0.2.2")
		var locked *console.LockedError
		if !errors.As(err, &locked) {
			t.Fatalf("right password on node %d after %d failures spread over 3 nodes: %v, want locked", i, console.MaxFailures, err)
		}
		if want := start.Add(console.LockoutFor); !locked.Until.Equal(want) {
			t.Fatalf("node %d: locked until %v, want %v", i, locked.Until, want)
		}
	}
	clk.advance(console.LockoutFor + time.Second)
	if _, _, err := accts[2].SignIn(ctx, "root", "password of root", "192.0.2.3"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	for _, n := range nodes {
		nodetest.WaitFor(t, "the count cleared on every node", 5*time.Second, func() bool {
			u, err := n.FSM().ConsoleUserByName("root")
			if err != nil {
				return false
			}
			st, err := n.FSM().ConsoleLock(u.ID)
			return err == nil && st == (raftfsm.ConsoleLockState{})
		})
	}
	// A cleared count starts again from zero: four more wrong passwords do
	// not lock.
	for i := 0; i < console.MaxFailures-1; i++ {
		if _, _, err := accts[i%3].SignIn(ctx, "root", "wrong again", "192.0.2.4"); !errors.Is(err, console.ErrBadCredentials) {
			t.Fatalf("wrong password %d after clearing: %v", i, err)
		}
	}
	if _, _, err := accts[1].SignIn(ctx, "root", "password of root", "192.0.2.4"); err != nil {
		t.Fatalf("right password after %d failures: %v", console.MaxFailures-1, err)
	}
}

// TestLockoutCountsParallelAttempts: attempts are counted before the
// password is checked, so a burst of parallel guesses over all nodes gets
// no more than MaxFailures password checks.
func TestLockoutCountsParallelAttempts(t *testing.T) {
	_, accts, _ := accountsOn(t, "ops")
	ctx := context.Background()
	const tries = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked, locked := 0, 0
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func(a *console.Accounts) {
			defer wg.Done()
			_, _, err := a.SignIn(ctx, "ops", "a wrong guess", "198.51.100.7")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, console.ErrBadCredentials):
				checked++
			case errors.Is(err, console.ErrLocked):
				locked++
			default:
				t.Errorf("guess: %v", err)
			}
		}(accts[i%3])
	}
	wg.Wait()
	if checked != console.MaxFailures || locked != tries-console.MaxFailures {
		t.Fatalf("%d parallel guesses: %d checked, %d locked; want %d checked", tries, checked, locked, console.MaxFailures)
	}
}
