package console

import (
	"strings"
	"sync"
	"time"
)

// Sign-in limits (per node; see DESIGN.md).
const (
	// MaxFailures wrong passwords in a row lock a user name for LockoutFor.
	MaxFailures = 5
	// LockoutFor is how long a user name stays locked.
	LockoutFor = 15 * time.Minute
	// ipAttempts sign-in attempts per ipWindow are allowed from one address.
	ipAttempts = 30
	ipWindow   = time.Minute
)

// lockout counts failed sign-ins per user name and attempts per client
// address.
type lockout struct {
	mu    sync.Mutex
	names map[string]*failures
	ips   map[string]*window
}

type failures struct {
	n           int
	lockedUntil time.Time
	last        time.Time
}

type window struct {
	start time.Time
	n     int
}

func newLockout() *lockout {
	return &lockout{names: map[string]*failures{}, ips: map[string]*window{}}
}

// admit reports whether a sign-in for name from ip may be tried now, and
// if not, when it may be tried again.
func (l *lockout) admit(name, ip string, now time.Time) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	w := l.ips[ip]
	if w == nil || now.Sub(w.start) >= ipWindow {
		w = &window{start: now}
		l.ips[ip] = w
	}
	if w.n >= ipAttempts {
		return false, w.start.Add(ipWindow)
	}
	w.n++
	if f := l.names[strings.ToLower(name)]; f != nil && now.Before(f.lockedUntil) {
		return false, f.lockedUntil
	}
	return true, time.Time{}
}

// failed counts a wrong password for name; the MaxFailures-th in a row
// locks it.
func (l *lockout) failed(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := strings.ToLower(name)
	f := l.names[key]
	if f == nil {
		f = &failures{}
		l.names[key] = f
	}
	f.n++
	f.last = now
	if f.n >= MaxFailures {
		f.n = 0
		f.lockedUntil = now.Add(LockoutFor)
	}
}

// succeeded clears name's failures.
func (l *lockout) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.names, strings.ToLower(name))
}

// gc drops entries that no longer matter, so guessed names and spoofed
// addresses cannot grow the maps without bound. Callers hold mu.
func (l *lockout) gc(now time.Time) {
	if len(l.names)+len(l.ips) < 4096 {
		return
	}
	for k, f := range l.names {
		if now.After(f.lockedUntil) && now.Sub(f.last) > LockoutFor {
			delete(l.names, k)
		}
	}
	for k, w := range l.ips {
		if now.Sub(w.start) >= ipWindow {
			delete(l.ips, k)
		}
	}
}
