package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// receiver is the local webhook endpoint: it answers the subscription
// handshake, checks each event's signature, and counts distinct events
// delivered (a retried event counts once).
//
// It is a small HTTP/1.1 server of its own rather than net/http's: the
// receiver shares the machine's cores with the nodes it measures, and
// net/http's server (a context, a response writer and a background read
// per request, a header map, the body copied to grow a slice) cost about
// as much again as the two system calls every answer needs. It still
// parses what a client may send (Content-Length or chunked bodies,
// Expect: 100-continue, Connection: close, HTTP/1.0), checks every
// signature, and dedupes: by the verified HMAC itself, which identifies
// the body as well as a SHA-256 of it would (one secret) and costs no
// second hash.
type receiver struct {
	secret        []byte
	url           string
	ln            net.Listener
	badSignatures atomic.Int64
	mu            sync.Mutex
	deliveredSet  map[[sha256.Size]byte]bool
	last          time.Time
	sample        []byte // one real event body, for the bare loop
	bareOK        atomic.Int64
	// paused, while not nil, holds every event request until it is
	// closed (pause).
	paused  chan struct{}
	onEvent func(body []byte) // each distinct event, once (optional)
	// onHold and onGaveUp, when set (tests), are called as a request
	// starts being held and when its sender gives up on it.
	onHold, onGaveUp func()
	conns            map[net.Conn]bool // open connections, closed by close
	closed           bool
	wg               sync.WaitGroup
}

// receiver limits: a request line or header line, the header lines of a
// request, and a body.
const (
	rcMaxLine    = 8 << 10
	rcMaxHeaders = 100
	rcMaxBody    = 4 << 20
)

// subscribeReceiver starts a receiver, calling onEvent (if not nil) with
// each distinct event, and subscribes biz's WABA to it.
func subscribeReceiver(ctx context.Context, c *cluster, biz business, onEvent func([]byte)) (*receiver, error) {
	rc, err := newReceiver(biz.AppSecret)
	if err != nil {
		return nil, err
	}
	rc.onEvent = onEvent
	if err := c.call(ctx, "POST", c.urls[0]+"/v21.0/"+biz.WABAID+"/subscribed_apps", biz.AccessToken,
		map[string]string{"override_callback_uri": rc.url + "/hook", "verify_token": "bench"}, nil); err != nil {
		rc.close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return rc, nil
}

func newReceiver(secret string) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{secret: []byte(secret), url: "http://" + ln.Addr().String(), ln: ln,
		deliveredSet: map[[sha256.Size]byte]bool{}, conns: map[net.Conn]bool{}}
	rc.wg.Add(1)
	go rc.serve()
	return rc, nil
}

// close stops accepting, closes every connection and waits for their
// goroutines.
func (rc *receiver) close() {
	_ = rc.ln.Close()
	rc.mu.Lock()
	rc.closed = true
	for c := range rc.conns {
		_ = c.Close()
	}
	rc.mu.Unlock()
	rc.wg.Wait()
}

func (rc *receiver) serve() {
	defer rc.wg.Done()
	for {
		c, err := rc.ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return // closed
		}
		rc.mu.Lock()
		if rc.closed {
			rc.mu.Unlock()
			_ = c.Close()
			return
		}
		rc.conns[c] = true
		rc.wg.Add(1)
		rc.mu.Unlock()
		go rc.serveConn(c)
	}
}

// pause makes rc hold every event request, unanswered, until the
// returned release is called (more than once is harmless). A request
// whose sender gave up meanwhile (closed its connection) is not counted.
func (rc *receiver) pause() (release func()) {
	ch := make(chan struct{})
	rc.mu.Lock()
	rc.paused = ch
	rc.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			rc.mu.Lock()
			rc.paused = nil
			rc.mu.Unlock()
			close(ch)
		})
	}
}

// rcRequest is one parsed request; its slices are the connection's
// buffers, reused by the next request.
type rcRequest struct {
	method, target []byte
	sig            []byte // X-Hub-Signature-256
	body           []byte
	close          bool // Connection: close, or HTTP/1.0 without keep-alive
}

// errBadRequest ends a connection after a 400.
var errBadRequest = errors.New("bad request")

// serveConn answers the requests of one connection in turn.
func (rc *receiver) serveConn(c net.Conn) {
	defer rc.wg.Done()
	defer func() {
		rc.mu.Lock()
		delete(rc.conns, c)
		rc.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReaderSize(c, rcMaxLine)
	mac := hmac.New(sha256.New, rc.secret)
	var req rcRequest
	var body, out []byte
	for {
		err := readRCRequest(br, c, &req, body[:0])
		if err != nil {
			if errors.Is(err, errBadRequest) {
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}
			return
		}
		body = req.body[:0]
		status, answer, ok := rc.handle(c, br, mac, &req)
		if !ok {
			return // the sender gave up on a held request
		}
		out = append(out[:0], "HTTP/1.1 "...)
		out = append(out, status...)
		out = append(out, "\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(answer)), 10)
		if req.close {
			out = append(out, "\r\nConnection: close"...)
		}
		out = append(out, "\r\n\r\n"...)
		out = append(out, answer...)
		if _, err := c.Write(out); err != nil || req.close {
			return
		}
	}
}

// handle answers one request: the status line's code and reason, and the
// body. ok is false when the request was held and its sender gave up.
func (rc *receiver) handle(c net.Conn, br *bufio.Reader, mac hash.Hash, r *rcRequest) (status, answer string, ok bool) {
	switch string(r.method) {
	case http.MethodGet:
		u, err := url.ParseRequestURI(string(r.target))
		if err != nil {
			return "400 Bad Request", "", true
		}
		return "200 OK", u.Query().Get("hub.challenge"), true
	case http.MethodPost:
	default:
		return "405 Method Not Allowed", "", true
	}
	var sig [sha256.Size]byte
	hexSig, found := bytes.CutPrefix(r.sig, []byte("sha256="))
	if !found || len(hexSig) != 2*sha256.Size {
		rc.badSignatures.Add(1)
		return "401 Unauthorized", "", true
	}
	if _, err := hex.Decode(sig[:], hexSig); err != nil {
		rc.badSignatures.Add(1)
		return "401 Unauthorized", "", true
	}
	mac.Reset()
	mac.Write(r.body)
	var sum [sha256.Size]byte
	if !hmac.Equal(sig[:], mac.Sum(sum[:0])) {
		rc.badSignatures.Add(1)
		return "401 Unauthorized", "", true
	}
	if path, _, _ := bytes.Cut(r.target, []byte("?")); string(path) == "/bare" {
		rc.bareOK.Add(1)
		return "200 OK", "", true
	}
	rc.mu.Lock()
	paused := rc.paused
	rc.mu.Unlock()
	if paused != nil {
		if rc.onHold != nil {
			rc.onHold()
		}
		if !hold(c, br, paused) {
			if rc.onGaveUp != nil {
				rc.onGaveUp()
			}
			return "", "", false // the dispatcher gave up on it: it will come again
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.sample == nil {
		rc.sample = bytes.Clone(r.body)
	}
	if !rc.deliveredSet[sig] {
		rc.deliveredSet[sig] = true
		rc.last = time.Now()
		if rc.onEvent != nil {
			rc.onEvent(r.body)
		}
	}
	return "200 OK", "", true
}

// hold waits for paused to close while watching c: it reports false when
// the sender closed the connection first (gave up on the request), as a
// net/http handler's request context would.
func hold(c net.Conn, br *bufio.Reader, paused chan struct{}) bool {
	gone := make(chan error, 1)
	go func() {
		_, err := br.Peek(1) // nothing is due before the answer: EOF or an error when closed
		gone <- err
	}()
	select {
	case <-paused:
		_ = c.SetReadDeadline(time.Unix(1, 0)) // end the watch
		err := <-gone
		_ = c.SetReadDeadline(time.Time{})
		return err == nil || errors.Is(err, os.ErrDeadlineExceeded)
	case err := <-gone:
		if err != nil {
			return false
		}
		<-paused // the sender pipelined another request: still here
		return true
	}
}

// readRCRequest reads one request from br into r, its body appended to
// body. io.EOF (or another read error) before a request line ends the
// connection quietly; errBadRequest asks for a 400.
func readRCRequest(br *bufio.Reader, w io.Writer, r *rcRequest, body []byte) error {
	*r = rcRequest{method: r.method[:0], target: r.target[:0], sig: r.sig[:0]}
	line, err := readLine(br)
	if err != nil {
		return err
	}
	for len(line) == 0 { // tolerated before a request line (RFC 9112 2.2)
		if line, err = readLine(br); err != nil {
			return err
		}
	}
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 {
		return errBadRequest
	}
	// The line is in br's buffer, which the next read may overwrite.
	r.method = append(r.method, method...)
	r.target = append(r.target, target...)
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		r.close = true
	default:
		return errBadRequest
	}
	length := int64(-1)
	chunked, hasTE, expect := false, false, false
	for n := 0; ; n++ {
		if n > rcMaxHeaders {
			return errBadRequest
		}
		h, err := readLine(br)
		if err != nil {
			return errBadRequest
		}
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || (length >= 0 && v != length) {
				return errBadRequest
			}
			length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			hasTE = true
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("X-Hub-Signature-256")):
			r.sig = append(r.sig[:0], value...)
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				r.close = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				r.close = false
			}
		case bytes.EqualFold(name, []byte("Expect")):
			expect = bytes.EqualFold(value, []byte("100-continue"))
		}
	}
	if hasTE && (!chunked || length >= 0) {
		return errBadRequest // a length and a coding, or a coding not understood
	}
	if length > rcMaxBody {
		return errBadRequest
	}
	if expect && (chunked || length > 0) {
		if _, err := io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return err
		}
	}
	switch {
	case chunked:
		b := bytes.NewBuffer(body)
		n, err := b.ReadFrom(io.LimitReader(httputil.NewChunkedReader(br), rcMaxBody+1))
		if err != nil || n > rcMaxBody {
			return errBadRequest
		}
		// Trailers, if any, end with an empty line.
		for {
			t, err := readLine(br)
			if err != nil {
				return errBadRequest
			}
			if len(t) == 0 {
				break
			}
		}
		body = b.Bytes()
	case length > 0:
		body = slices.Grow(body[:0], int(length))[:length]
		if _, err := io.ReadFull(br, body); err != nil {
			return errBadRequest
		}
	}
	r.body = body
	return nil
}

// readLine reads one CRLF- (or LF-) terminated line without its end; a
// line longer than br's buffer is an error.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func (rc *receiver) delivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.deliveredSet)
}

func (rc *receiver) lastDelivery() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.last
}
