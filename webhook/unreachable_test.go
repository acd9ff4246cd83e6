package webhook

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// collector is a receiver that answers 200 and records each body.
type collector struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got[string(b)]++
	c.mu.Unlock()
}

func (c *collector) count(body string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[body]
}

// resetListener accepts connections and, while reset is set, closes each
// at once with SO_LINGER 0: the client sees a connection reset.
type resetListener struct {
	net.Listener
	reset atomic.Bool
}

func (l *resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.reset.Load() {
			return c, err
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}
}

// serve runs an HTTP server for h on ln until the test ends.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// TestUnreachableReceiverComesBack: a receiver that refuses connections
// (nothing listens on its port), resets them, or holds each request past
// the dispatcher's timeout costs failed attempts, never an event: each
// event is attempted again and again on its back-off, and once the
// receiver is back every event is delivered, recorded in the delivery
// log as delivered after more than one attempt.
func TestUnreachableReceiverComesBack(t *testing.T) {
	const events = 5
	for _, tc := range []struct {
		name   string
		status string // the failed attempts' recorded status
		// down starts the receiver down and returns its URL and a func
		// bringing it back, answering with h.
		down func(t *testing.T, h http.Handler) (string, func())
	}{
		{"connection refused", "unreachable", func(t *testing.T, h http.Handler) (string, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close() // nothing listens: every dial is refused
			return "http://" + addr + "/hook", func() {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatalf("listen again on the receiver's port: %v", err)
				}
				serve(t, ln, h)
			}
		}},
		{"connection reset", "unreachable", func(t *testing.T, h http.Handler) (string, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			rl := &resetListener{Listener: ln}
			rl.reset.Store(true)
			serve(t, rl, h)
			return "http://" + ln.Addr().String() + "/hook", func() { rl.reset.Store(false) }
		}},
		{"held past the timeout", "timeout", func(t *testing.T, h http.Handler) (string, func()) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var back atomic.Bool
			serve(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !back.Load() {
					<-r.Context().Done() // hold until the client gives up
					return
				}
				h.ServeHTTP(w, r)
			}))
			return "http://" + ln.Addr().String() + "/hook", func() { back.Store(true) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &collector{got: map[string]int{}}
			url, comeBack := tc.down(t, rcv)
			d := setup(t, url)
			var bodies []string
			for i := 0; i < events; i++ {
				bodies = append(bodies, string(inbound(t, d, i, fmt.Sprintf("event %d", i))))
			}
			disp := New(d, Config{Egress: loopback, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
				Timeout: 150 * time.Millisecond, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = disp.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			// Down: every event is kept and retried (two failed attempts
			// each, recorded with the failure's status).
			waitFor(t, "two failed attempts of every event", 20*time.Second, func() bool {
				ev, _ := d.FSM().Outbox(0)
				if len(ev) != events {
					t.Fatalf("%d of %d events left the outbox while the receiver was down", events-len(ev), events)
				}
				for _, e := range ev {
					if e.Attempts < 2 {
						return false
					}
				}
				return true
			})
			ev, _ := d.FSM().Outbox(0)
			for _, e := range ev {
				if e.LastStatus != tc.status {
					t.Fatalf("failed attempt recorded as %q, want %q", e.LastStatus, tc.status)
				}
			}
			if n := len(rcv.got); n != 0 {
				t.Fatalf("%d events reached a receiver that is down", n)
			}

			comeBack()
			waitFor(t, "outbox drained", 20*time.Second, func() bool {
				ev, _ := d.FSM().Outbox(0)
				return len(ev) == 0
			})
			for i, b := range bodies {
				if rcv.count(b) == 0 {
					t.Errorf("event %d never reached the receiver", i)
				}
			}
			n := 0
			if err := d.FSM().WebhookLog(func(_ []byte, e raftfsm.WebhookLogEntry) bool {
				n++
				if e.Outcome != raftfsm.WebhookDelivered || e.Attempts < 3 || e.LastStatus != "200" {
					t.Errorf("delivery log entry %+v: want delivered with 200 after at least 3 attempts", e)
				}
				return true
			}); err != nil || n != events {
				t.Fatalf("delivery log: %d entries (%v), want %d", n, err, events)
			}
		})
	}
}
