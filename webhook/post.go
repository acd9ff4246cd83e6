package webhook

import (
	"bufio"
	"bytes"
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
	if _, err := c.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return 0, false, errors.Join(errNoAnswer, err)
		}
		return 0, false, err
	}
	if code, keep, ok := c.plainAnswer(); ok {
		return code, keep, nil
	}
	return readAnswer(c.br)
}

// readAnswer reads an answer from br with the standard parser (lengths,
// chunking, informational answers, Connection: close); keep is
// exchange's.
func readAnswer(br *bufio.Reader) (code int, keep bool, err error) {
	for {
		resp, err := http.ReadResponse(br, nil)
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
			(resp.ContentLength >= 0 || len(resp.TransferEncoding) > 0) && br.Buffered() == 0
		return resp.StatusCode, keep, nil
	}
}

// plainAnswer reads the answer the way almost every receiver frames it —
// HTTP/1.1, a final status, a Content-Length, no transfer coding, the
// whole head already buffered — without http.ReadResponse's header map
// and strings (~5 % of a draining leader's CPU). ok is false, and nothing
// is consumed, for anything else: the caller then reads the answer with
// http.ReadResponse, as before. keep is exchange's: the body ended where
// its length said, was at most maxAnswer, nothing followed, and the
// receiver did not ask to close.
func (c *h1conn) plainAnswer() (code int, keep, ok bool) {
	buf, _ := c.br.Peek(c.br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false, false
	}
	head := buf[:end+2] // every line with its CRLF
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// "HTTP/1.1 200" and an optional reason.
	if len(line) < 12 || string(line[:9]) != "HTTP/1.1 " || (len(line) > 12 && line[12] != ' ') {
		return 0, false, false
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 || code > 599 {
		return 0, false, false // informational answers and odd codes: the standard parser
	}
	length, closing := int64(-1), false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || bytes.ContainsAny(name, " \t\r\n") || bytes.ContainsAny(value, "\r\n") {
			return 0, false, false // folded or malformed: the standard parser decides
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || length >= 0 || value[0] == '+' {
				return 0, false, false
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Trailer")):
			return 0, false, false
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(tok), []byte("close")) {
					closing = true
				}
			}
		}
	}
	if length < 0 || code == http.StatusNoContent || code == http.StatusNotModified {
		return 0, false, false // framed by the connection's end, or without a body whatever it says
	}
	_, _ = c.br.Discard(end + 4)
	n, err := io.Copy(io.Discard, io.LimitReader(c.br, min(length, maxAnswer+1)))
	keep = err == nil && n == length && length <= maxAnswer && !closing && c.br.Buffered() == 0
	return code, keep, true
}
