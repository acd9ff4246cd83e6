package console

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// Sign-in limits (see DESIGN.md).
const (
	// MaxFailures wrong passwords in a row lock a user name for LockoutFor,
	// counted across the whole cluster.
	MaxFailures = 5
	// LockoutFor is how long a user name stays locked; it is also how long
	// a wrong password counts towards the lock.
	LockoutFor = 15 * time.Minute
	// ipAttempts sign-in attempts per ipWindow are allowed from one address
	// (per node).
	ipAttempts = 30
	ipWindow   = time.Minute
)

// addressLimit counts sign-in attempts per client address on this node.
type addressLimit struct {
	mu  sync.Mutex
	ips map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newAddressLimit() *addressLimit { return &addressLimit{ips: map[string]*window{}} }

// admit reports whether ip may try a sign-in now, and if not, when it may
// try again.
func (l *addressLimit) admit(ip string, now time.Time) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ips) >= 4096 { // spoofed or many addresses cannot grow the map without bound
		for k, w := range l.ips {
			if now.Sub(w.start) >= ipWindow {
				delete(l.ips, k)
			}
		}
	}
	w := l.ips[ip]
	if w == nil || now.Sub(w.start) >= ipWindow {
		w = &window{start: now}
		l.ips[ip] = w
	}
	if w.n >= ipAttempts {
		return false, w.start.Add(ipWindow)
	}
	w.n++
	return true, time.Time{}
}

// countAttempt counts one sign-in attempt of a user through Raft, before
// the password is checked, and reports whether it may go ahead; if not,
// until when the user is locked. userID is "" for an unknown name: the
// command then counts nothing but takes the same round trip. A leader
// running an older binary skips the command, which admits the attempt.
func (a *Accounts) countAttempt(ctx context.Context, userID string, now time.Time) (bool, time.Time, error) {
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdConsoleSignInAttempt, raftfsm.ConsoleSignInAttempt{UserID: userID,
		At: now.UnixMilli(), Max: MaxFailures, Window: LockoutFor.Milliseconds(), LockFor: LockoutFor.Milliseconds()})
	if err != nil {
		return false, time.Time{}, err
	}
	v, err := raftfsm.Outcome(a.cfg.Cluster.Propose(ctx, cmd))
	switch {
	case errors.Is(err, raftfsm.ErrIgnored):
		return true, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, err
	case len(v) == 8:
		return false, time.UnixMilli(int64(binary.BigEndian.Uint64(v))), nil
	}
	return true, time.Time{}, nil
}

// clearAttempts forgets a user's counted attempts after the right password.
func (a *Accounts) clearAttempts(ctx context.Context, userID string) error {
	if st, err := a.cfg.Cluster.FSM().ConsoleLock(userID); err == nil && st == (raftfsm.ConsoleLockState{}) {
		return nil // nothing counted: no write
	}
	err := propose(ctx, a.cfg.Cluster, raftfsm.CmdConsoleSignInCleared, raftfsm.ConsoleSignInCleared{UserID: userID})
	if errors.Is(err, raftfsm.ErrIgnored) {
		return nil
	}
	return err
}
