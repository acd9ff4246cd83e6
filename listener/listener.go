// Package listener wraps a server's net.Listener so that running out of
// file descriptors (or any other transient accept failure) never stops the
// server, and so that one client address cannot hold more than a set number
// of connections.
package listener

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Backoff bounds, as net/http's Server.Serve uses them.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
	// warnEvery rate-limits the warning about failing accepts.
	warnEvery = 10 * time.Second
)

// Config configures a Listener.
type Config struct {
	// Name says which listener this is in logs ("http", "cluster").
	Name string
	// Logger receives the rate-limited warnings (nil: discarded).
	Logger *slog.Logger
	// MaxConnsPerIP caps the open connections of one remote IP address;
	// a connection over the cap is closed as soon as it is accepted.
	// 0 means no cap.
	MaxConnsPerIP int
}

// Listener is a net.Listener whose Accept waits out transient failures
// (EMFILE, ENFILE, ENOBUFS, ECONNABORTED, …) with a doubling pause from
// 5 ms to 1 s instead of returning them, and enforces Config.MaxConnsPerIP.
// Accept returns an error only once the listener is closed or failed for
// good.
type Listener struct {
	net.Listener
	cfg Config

	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	perIP      map[string]int
	lastWarn   map[string]time.Time // by kind of warning
	suppressed map[string]int
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, cfg: cfg, closed: make(chan struct{}),
		perIP: map[string]int{}, lastWarn: map[string]time.Time{}, suppressed: map[string]int{}}
}

// Accept returns the next connection admitted by the per-IP cap.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !Temporary(err) {
				return nil, err
			}
			delay = min(max(2*delay, minBackoff), maxBackoff)
			l.warn("accept", "accepting connections fails; retrying", slog.Any("err", err),
				slog.Duration("retry_in", delay))
			t := time.NewTimer(delay)
			select {
			case <-t.C:
				continue
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
		}
		delay = 0
		if l.cfg.MaxConnsPerIP <= 0 {
			return c, nil
		}
		ip := remoteIP(c)
		if !l.admit(ip) {
			_ = c.Close()
			l.warn("per-ip", "connection refused: too many connections from one address",
				slog.Int("max_conns_per_ip", l.cfg.MaxConnsPerIP))
			continue
		}
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

// Close closes the listener and ends an Accept waiting out a failure.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *Listener) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip] >= l.cfg.MaxConnsPerIP {
		return false
	}
	l.perIP[ip]++
	return true
}

func (l *Listener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// warn logs at most one warning of a kind per warnEvery, with the number
// of occurrences it stands for. The client address is not logged.
func (l *Listener) warn(kind, msg string, attrs ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastWarn[kind]) < warnEvery {
		l.suppressed[kind]++
		l.mu.Unlock()
		return
	}
	n := l.suppressed[kind] + 1
	l.lastWarn[kind] = now
	l.suppressed[kind] = 0
	l.mu.Unlock()
	l.cfg.Logger.Warn(msg, append(attrs, slog.String("listener", l.cfg.Name), slog.Int("occurrences", n))...)
}

// ConnsFrom is the number of open connections of ip (tests, metrics).
func (l *Listener) ConnsFrom(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[ip]
}

// Temporary reports whether an accept error is worth retrying: the
// process or system ran out of descriptors or buffers, or one pending
// connection failed before it was accepted.
func Temporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EAGAIN, syscall.EINTR, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func remoteIP(c net.Conn) string {
	a := c.RemoteAddr()
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// conn gives its slot back when closed.
type conn struct {
	net.Conn
	l    *Listener
	ip   string
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
