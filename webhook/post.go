package webhook

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// A plain-HTTP webhook POST, made by the slot worker itself over a
// kept-alive connection it takes from a pool (see DESIGN.md). net/http's
// client hands every request to a write goroutine and every answer to a
// read goroutine of its connection and builds and parses more than a
// webhook needs; on a leader draining its outbox that was about half of
// what the HTTP exchange cost beyond its two system calls. The request
// is written in one piece, the answer read with the standard parser
// (http.ReadResponse: lengths, chunking, Connection: close); the egress
// policy judges every dialed address, as before. Callbacks over TLS, or
// with credentials in the URL, keep the net/http client (and its
// HTTP/2).

// maxAnswer is how much of an answer's body is read; a longer one ends
// its connection.
const maxAnswer = 1 << 16

// maxRead bounds what one exchange reads from the receiver (status line,
// headers, body and chunk framing): the receiver is the tenant's, and its
// answer must not grow waedge's memory (net/http bounds headers the same
// way). Past it the read ends and the connection is dropped.
const maxRead = maxAnswer + 1<<16

// idleFor is how long an idle connection is kept for reuse.
const idleFor = 60 * time.Second

// maxTargets bounds the parsed callback URLs kept; beyond it the cache
// starts afresh.
const maxTargets = 1024

// errNoAnswer: the connection ended before any byte of an answer.
var errNoAnswer = errors.New("webhook: connection closed before an answer")

// poster makes plain-HTTP POSTs over connections it keeps per address.
type poster struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle int // idle connections kept per address

	mu      sync.Mutex
	idle    map[string][]*h1conn
	targets map[string]*target
}

// target is a parsed callback URL.
type target struct {
	plain bool   // false: not for the poster (TLS, credentials, odd URL)
	addr  string // host:port dialed
	// head is the request up to the signature's value.
	head []byte
}

// h1conn is one kept-alive connection.
type h1conn struct {
	c    net.Conn
	lim  *io.LimitedReader // c, with what this exchange may still read
	br   *bufio.Reader     // reads lim
	buf  []byte            // the request, reused
	used time.Time         // when it was last put back
	// term is the context the connection was dialed under (the leader's
	// term): its end interrupts whatever the connection is doing, through
	// one registration per connection (unwatch), not one per request.
	term    context.Context
	unwatch func() bool
}

// close closes the connection and drops its watch on the term.
func (c *h1conn) close() {
	c.unwatch()
	_ = c.c.Close()
}

func newPoster(dial func(ctx context.Context, network, addr string) (net.Conn, error), maxIdle int) *poster {
	return &poster{dial: dial, maxIdle: maxIdle, idle: map[string][]*h1conn{}, targets: map[string]*target{}}
}

// target returns rawURL parsed; nil when the poster does not serve it
// (the caller uses net/http).
func (p *poster) target(rawURL string) *target {
	p.mu.Lock()
	t, ok := p.targets[rawURL]
	p.mu.Unlock()
	if !ok {
		t = parseTarget(rawURL)
		p.mu.Lock()
		if len(p.targets) >= maxTargets {
			p.targets = map[string]*target{}
		}
		p.targets[rawURL] = t
		p.mu.Unlock()
	}
	if !t.plain {
		return nil
	}
	return t
}

func parseTarget(rawURL string) *target {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Host == "" || u.Opaque != "" {
		return &target{}
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
	}
	// The Host header as net/http writes it: the URL's host.
	head := []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUser-Agent: waedge-webhooks/1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: ")
	return &target{plain: true, addr: net.JoinHostPort(host, port), head: head}
}

// post sends body, signed with sig, to t and returns the answer's status
// code. deadline bounds the attempt (a receiver past it fails with
// os.ErrDeadlineExceeded); ctx is the leader's term, whose end interrupts
// it. A kept-alive connection that the receiver closed meanwhile fails
// before any answer; the request is then sent once more on a new one.
func (p *poster) post(ctx context.Context, deadline time.Time, t *target, sig string, body []byte) (int, error) {
	for try := 0; ; try++ {
		c, reused, err := p.get(ctx, deadline, t.addr)
		if err != nil {
			return 0, err
		}
		code, keep, err := c.exchange(deadline, t, sig, body)
		if err == nil && keep {
			p.put(t.addr, c)
		} else {
			c.close()
		}
		if err != nil && reused && try == 0 && errors.Is(err, errNoAnswer) && ctx.Err() == nil {
			continue
		}
		return code, err
	}
}

// get takes an idle connection to addr, or dials one under the egress
// policy (by deadline); reused reports an idle one. A connection is only
// ever used under the term (ctx) it was dialed in.
func (p *poster) get(ctx context.Context, deadline time.Time, addr string) (c *h1conn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	l := p.idle[addr]
	for len(l) > 0 {
		c = l[len(l)-1]
		l[len(l)-1] = nil
		l = l[:len(l)-1]
		if now.Sub(c.used) < idleFor && c.term == ctx && ctx.Err() == nil {
			break
		}
		c.close()
		c = nil
	}
	if len(l) == 0 {
		delete(p.idle, addr)
	} else {
		p.idle[addr] = l
	}
	p.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := p.dial(dctx, "tcp", addr)
	if err != nil {
		if dctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = errors.Join(os.ErrDeadlineExceeded, err)
		}
		return nil, false, err
	}
	lim := &io.LimitedReader{R: nc}
	c = &h1conn{c: nc, lim: lim, br: bufio.NewReaderSize(lim, 4096), term: ctx}
	c.unwatch = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	return c, false, nil
}

// put keeps c for reuse (or closes it when addr has enough idle ones).
func (p *poster) put(addr string, c *h1conn) {
	c.used = time.Now()
	p.mu.Lock()
	if l := p.idle[addr]; len(l) < p.maxIdle {
		p.idle[addr] = append(l, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// closeIdle closes every idle connection.
func (p *poster) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = map[string][]*h1conn{}
	p.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.close()
		}
	}
}

// exchange writes the request and reads its answer; keep reports that the
// connection may carry another request. deadline bounds it; the end of
// the connection's term interrupts it (the watch set when it was dialed).
func (c *h1conn) exchange(deadline time.Time, t *target, sig string, body []byte) (code int, keep bool, err error) {
	if err := c.c.SetDeadline(deadline); err != nil {
		return 0, false, err
	}
	// Checked after setting the deadline: a term that ends from now on
	// sets its past deadline after this one.
	if err := c.term.Err(); err != nil {
		return 0, false, err
	}
	defer func() {
		if c.term.Err() != nil {
			keep = false // interrupted, or about to be: not for another request
		}
	}()
	b := append(c.buf[:0], t.head...)
	b = append(b, sig...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	c.lim.N = maxRead // nothing is buffered: a kept connection's reader is empty
	if _, err := c.c.Write(b); err != nil {
		return 0, false, errors.Join(errNoAnswer, err)
	}
	for {
		if _, err := c.br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				return 0, false, errors.Join(errNoAnswer, err)
			}
			return 0, false, err
		}
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return 0, false, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // informational; the answer follows
		}
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer+1))
		// Reusable only when the answer ended where its framing said and
		// nothing else came after it.
		keep = err == nil && n <= maxAnswer && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols &&
			(resp.ContentLength >= 0 || len(resp.TransferEncoding) > 0) && c.br.Buffered() == 0
		return resp.StatusCode, keep, nil
	}
}
