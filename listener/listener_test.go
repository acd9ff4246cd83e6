package listener_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/listener"
)

// flaky fails its first n accepts with err, then accepts from a real
// listener.
type flaky struct {
	net.Listener
	n      int
	err    error
	called chan struct{} // closed on the first Accept, when not nil
}

func (f *flaky) Accept() (net.Conn, error) {
	if f.called != nil {
		select {
		case <-f.called:
		default:
			close(f.called)
		}
	}
	if f.n > 0 {
		f.n--
		return nil, f.err
	}
	return f.Listener.Accept()
}

func tcp(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func emfile() error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// TestAcceptRetriesExhaustion: EMFILE is waited out with a doubling pause
// (5+10+20+40+80+160 ms for six failures) and one warning, and the next
// connection is served; a fasthttp or raft accept loop never sees it.
func TestAcceptRetriesExhaustion(t *testing.T) {
	var logs syncbuf.Buffer
	ln := tcp(t)
	l := listener.New(&flaky{Listener: ln, n: 6, err: emfile()}, listener.Config{Name: "test",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	start := time.Now()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v", err)
	}
	_ = c.Close()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("six failures were retried within %v: no backoff", d)
	}
	if n := strings.Count(logs.String(), "accepting connections fails"); n != 1 {
		t.Fatalf("%d warnings for one burst of failures, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Fatalf("warning does not say why:\n%s", logs.String())
	}
}

// TestCloseEndsBackoff: closing the listener ends an Accept that is
// waiting out failures.
func TestCloseEndsBackoff(t *testing.T) {
	f := &flaky{Listener: tcp(t), n: 1 << 30, err: emfile(), called: make(chan struct{})}
	l := listener.New(f, listener.Config{})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	<-f.called
	_ = l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Accept kept retrying after Close")
	}
}

// TestPermanentErrorReturned: an error that is not transient is returned.
func TestPermanentErrorReturned(t *testing.T) {
	bad := errors.New("listener broken")
	l := listener.New(&flaky{Listener: tcp(t), n: 1, err: bad}, listener.Config{})
	if _, err := l.Accept(); !errors.Is(err, bad) {
		t.Fatalf("Accept: %v", err)
	}
}

// TestMaxConnsPerIP: connections over the cap are closed at once; closing
// one frees its slot.
func TestMaxConnsPerIP(t *testing.T) {
	ln := tcp(t)
	l := listener.New(ln, listener.Config{MaxConnsPerIP: 2})
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	recv := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("connection within the cap was not accepted")
			return nil
		}
	}
	dial()
	s1 := recv()
	dial()
	recv()
	over := dial()
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("third connection from one address: read %v, want it closed", err)
	}
	if n := l.ConnsFrom("127.0.0.1"); n != 2 {
		t.Fatalf("ConnsFrom = %d, want 2", n)
	}
	_ = s1.Close()
	_ = s1.Close() // a second Close does not free a second slot
	dial()
	recv()
	if n := l.ConnsFrom("127.0.0.1"); n != 2 {
		t.Fatalf("ConnsFrom after close and redial = %d, want 2", n)
	}
	_ = l.Close()
}
