package webhook

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// deliverAll queues n inbound events for d's callback, runs a dispatcher
// with the given slots until the outbox is empty, and returns the
// delivery log's entries.
func deliverAll(t *testing.T, d *direct, n, slots int) []raftfsm.WebhookLogEntry {
	t.Helper()
	for i := 1; i <= n; i++ {
		inbound(t, d, i, fmt.Sprint("event ", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stop := func() { cancel(); <-done } // on every path (twice is harmless): Run closes its idle connections
	defer stop()
	go func() {
		defer close(done)
		_ = New(d, Config{Egress: loopback, PerEndpoint: slots, BaseBackoff: time.Hour, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil).Run(ctx)
	}()
	waitFor(t, "outbox drained", 30*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(1)
		return len(ev) == 0
	})
	stop()
	var log []raftfsm.WebhookLogEntry
	if err := d.FSM().WebhookLog(func(_ []byte, e raftfsm.WebhookLogEntry) bool {
		log = append(log, e)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(log) != n {
		t.Fatalf("%d events logged, want %d", len(log), n)
	}
	return log
}

// TestPlainHTTPKeepsConnections: plain-HTTP deliveries reuse kept-alive
// connections — never more at once than the endpoint's slots — and each
// request is the signed body with the headers a receiver expects.
func TestPlainHTTPKeepsConnections(t *testing.T) {
	var conns, bad atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte("s3cr3t"))
		m.Write(body)
		if r.Method != http.MethodPost || r.URL.RequestURI() != "/hook?x=1" || r.Host != strings.TrimPrefix(srvURL(r), "http://") ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "waedge-webhooks/1" ||
			r.Header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(m.Sum(nil)) || r.ContentLength != int64(len(body)) {
			bad.Add(1)
			w.WriteHeader(400)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	d := setup(t, srv.URL+"/hook?x=1")
	const slots = 4
	for _, e := range deliverAll(t, d, 200, slots) {
		if e.Outcome != raftfsm.WebhookDelivered || e.Attempts != 1 {
			t.Fatalf("logged %s after %d attempts (%s)", e.Outcome, e.Attempts, e.LastStatus)
		}
	}
	if bad.Load() != 0 {
		t.Fatalf("%d requests not as expected", bad.Load())
	}
	if n := conns.Load(); n < 1 || n > slots {
		t.Fatalf("%d connections for 200 deliveries over %d slots", n, slots)
	}
}

// srvURL is the URL a request to an httptest server was sent to (its
// listener's address).
func srvURL(r *http.Request) string {
	return "http://" + r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
}

// TestPlainHTTPAnswersOfEveryFraming: answers with a length, chunked,
// ended by closing the connection, longer than what is read, with an
// informational answer first, and with Connection: close all count, and
// the connections they leave (or close) serve the next deliveries; a
// connection the receiver closes while it is idle costs no failed
// attempt (the request goes once more, on a new connection).
func TestPlainHTTPAnswersOfEveryFraming(t *testing.T) {
	answers := []struct {
		text  string
		close bool // the receiver closes the connection after it
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n\r\nno length: ends with the connection", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(maxAnswer+10) + "\r\n\r\n" + strings.Repeat("x", maxAnswer+10), false},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true}, // closed while idle, unannounced
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return
					}
					a := answers[int(served.Add(1)-1)%len(answers)]
					if _, err := io.WriteString(c, a.text); err != nil || a.close {
						return
					}
				}
			}()
		}
	}()
	d := setup(t, "http://"+ln.Addr().String()+"/hook")
	for _, e := range deliverAll(t, d, 3*len(answers), 2) {
		if e.Outcome != raftfsm.WebhookDelivered || e.Attempts != 1 {
			t.Fatalf("logged %s after %d attempts (%s)", e.Outcome, e.Attempts, e.LastStatus)
		}
	}
}

// TestPlainHTTPTimeout: a receiver that holds the request past
// Config.Timeout is a failed attempt "timeout", not "unreachable".
func TestPlainHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	d := setup(t, srv.URL)
	inbound(t, d, 1, "held")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = New(d, Config{Egress: loopback, BaseBackoff: time.Hour, Timeout: 100 * time.Millisecond, Poll: 5 * time.Millisecond, Open: d.sealer.Open}, nil).Run(ctx)
	}()
	waitFor(t, "a failed attempt recorded", 10*time.Second, func() bool {
		ev, _ := d.FSM().Outbox(1)
		return len(ev) == 1 && ev[0].Attempts == 1
	})
	if ev, _ := d.FSM().Outbox(1); ev[0].LastStatus != "timeout" {
		t.Fatalf("status %q, want timeout", ev[0].LastStatus)
	}
}

// TestPlainHTTPBoundsWhatItReads: a receiver (the tenant's) that answers
// with endless headers gets an error once maxRead bytes are read, not
// waedge's memory: the poster drops the connection long before the
// receiver has written what it meant to (net/http bounds headers too).
func TestPlainHTTPBoundsWhatItReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const flood = 64 << 20
	written := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			written <- -1
			return
		}
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			written <- -1
			return
		}
		n, _ := io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := []byte("X-Pad: " + strings.Repeat("x", 1000) + "\r\n")
		for n < flood {
			m, err := c.Write(line)
			n += m
			if err != nil {
				break
			}
		}
		written <- n
	}()
	var dialer net.Dialer
	p := newPoster(dialer.DialContext, 1)
	tg := p.target("http://" + ln.Addr().String() + "/hook")
	if tg == nil {
		t.Fatal("a plain http URL is not the poster's")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code, err := p.post(ctx, time.Now().Add(30*time.Second), tg, "sha256=00", []byte(`{}`)); err == nil {
		t.Fatalf("an answer of endless headers was read as %d", code)
	}
	if n := <-written; n < 0 || n >= flood/2 {
		t.Fatalf("the receiver wrote %d bytes before the poster gave up (want well under %d)", n, flood/2)
	}
}

// TestPlainHTTPTermEndInterrupts: the end of the leader's term interrupts
// an exchange on a kept-alive connection at once, well before its
// deadline (the connection watches the term it was dialed in), and the
// connection is not kept for another request.
func TestPlainHTTPTermEndInterrupts(t *testing.T) {
	got := make(chan struct{}, 2)
	release := make(chan struct{})
	defer close(release)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
		if r.Header.Get("X-Hub-Signature-256") == "sha256=hold" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	var dialer net.Dialer
	p := newPoster(dialer.DialContext, 1)
	defer p.closeIdle()
	tg := p.target(srv.URL + "/hook")
	term, end := context.WithCancel(context.Background())
	defer end()
	far := time.Now().Add(time.Hour)
	if code, err := p.post(term, far, tg, "sha256=00", []byte(`{}`)); err != nil || code != 200 {
		t.Fatalf("first post: %d %v", code, err)
	}
	<-got
	errc := make(chan error, 1)
	go func() {
		_, err := p.post(term, far, tg, "sha256=hold", []byte(`{}`)) // on the kept connection
		errc <- err
	}()
	<-got // the receiver holds it
	end()
	if err := <-errc; err == nil {
		t.Fatal("an exchange outlived its term")
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections, want the kept one only", n)
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 0 {
		t.Fatal("an interrupted connection was kept")
	}
	// A new term dials anew.
	if code, err := p.post(context.Background(), far, tg, "sha256=00", []byte(`{}`)); err != nil || code != 200 {
		t.Fatalf("post in the next term: %d %v", code, err)
	}
}

// TestPlainAnswerAsReadResponse: the poster reads the common answer (a
// final status, a Content-Length, the head buffered) without
// http.ReadResponse, with the same status and the same decision to keep
// the connection; anything else it leaves unread for the standard
// parser.
func TestPlainAnswerAsReadResponse(t *testing.T) {
	big := strings.Repeat("x", maxAnswer+10)
	for _, c := range []struct {
		answer string
		fast   bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
		{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length:0\r\nDate: Mon, 07 Dec 2026 14:00:00 GMT\r\n\r\n", true},
		{"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror", true},
		{"HTTP/1.1 301 Moved Permanently\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nokEXTRA", true},                             // something follows: not kept
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},                              // ended early: not kept
		{"HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, true}, // longer than read: not kept
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n\r\nno length: ends with the connection", false},
		{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", false},
		{"HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\nContent-Length: 2\r\n\r\nok", false},
		{"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", false},
		{"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok", false},
	} {
		wantCode, wantKeep, wantErr := readAnswer(bufio.NewReader(strings.NewReader(c.answer)))
		h := &h1conn{br: bufio.NewReaderSize(strings.NewReader(c.answer), 4096)}
		if _, err := h.br.Peek(1); err != nil {
			t.Fatal(err)
		}
		code, keep, ok := h.plainAnswer()
		var err error
		if !ok {
			code, keep, err = readAnswer(h.br) // what exchange does next
		}
		if ok != c.fast || code != wantCode || keep != wantKeep || (err == nil) != (wantErr == nil) {
			t.Errorf("%q: fast %v, %d keep %v err %v; want fast %v, %d keep %v err %v",
				c.answer, ok, code, keep, err, c.fast, wantCode, wantKeep, wantErr)
		}
	}
}
