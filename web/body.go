package web

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
)

// Request bodies are streamed by fasthttp (Fiber's StreamRequestBody):
// before a handler runs, at most the headers and 8 KiB of the body are in
// memory. A route reads its body only after the caller's token and role
// were checked from the headers (bodies.read sits behind auth in every
// chain), and every body read counts against one budget of bytes in
// flight for the whole process. Nothing an unauthenticated client sends is
// buffered beyond fasthttp's own read buffers.

const (
	// DefaultMaxBodyInFlight is the default budget of request body bytes
	// held in memory at once by all requests together.
	DefaultMaxBodyInFlight = 64 << 20
	// mediaUploadReserve is what one media upload holds while it streams
	// (a chunk, its sealed copy and the encoded command), taken from the
	// same budget.
	mediaUploadReserve = 1 << 20
	// growStep is the first allocation for a body of unknown length.
	growStep = 32 << 10
	// maxDrain is how much of a body left unread is read away so the
	// connection can serve the next request, within drainTimeout.
	maxDrain     = 1 << 20
	drainTimeout = 2 * time.Second
	// retryAfter is the Retry-After (seconds) of an answer refused for
	// lack of budget.
	retryAfter = "1"
)

var (
	errBodyBudget = graph.ErrServiceUnavailable.With("this node is reading too many request bodies at once; retry")
	errEncoding   = &graph.Error{Status: 415, Code: 100, Title: "Unsupported Content-Encoding",
		Details: "request bodies may be sent as identity, gzip or deflate"}
	errBodyEncoding = graph.ErrInvalidParameter.With("the request body does not decode with its Content-Encoding")
)

// bodies reads request bodies within a budget of bytes in flight.
type bodies struct {
	limit    int   // one body, decoded
	budget   int64 // all bodies together
	inFlight atomic.Int64
}

func newBodies(budget int64) *bodies {
	if budget <= 0 {
		budget = DefaultMaxBodyInFlight
	}
	return &bodies{limit: maxBody, budget: budget}
}

// take reserves n bytes of the budget.
func (b *bodies) take(n int64) bool {
	for {
		cur := b.inFlight.Load()
		if cur+n > b.budget {
			return false
		}
		if b.inFlight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (b *bodies) give(n int64) { b.inFlight.Add(-n) }

// busy answers a request refused for lack of budget: 503 code 2 with
// Retry-After. Its body stays unread (withBodyDrain drains or closes).
func busy(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, retryAfter)
	return errBodyBudget
}

// read is the handler after authentication and authorization in every
// route chain: it reads the body into memory (at most maxBody bytes,
// decoded), holding its size of the budget until the handler returns, so
// handlers use c.Body() as usual. The media upload streams its own body
// and only holds mediaUploadReserve.
func (b *bodies) read(c *fiber.Ctx) error {
	if isMediaUpload(c) {
		if !b.take(mediaUploadReserve) {
			return busy(c)
		}
		defer b.give(mediaUploadReserve)
		return c.Next()
	}
	stream := c.Context().RequestBodyStream()
	cl := c.Request().Header.ContentLength()
	if stream == nil || cl == 0 {
		return c.Next()
	}
	if cl > b.limit {
		c.Context().SetConnectionClose() // the body stays unread
		return fiber.ErrRequestEntityTooLarge
	}
	var (
		r       io.Reader     = stream
		hint                  = cl
		encoded *bufio.Reader // the stream under a decoder
	)
	switch enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))); enc {
	case "", "identity":
	case "gzip", "x-gzip", "deflate":
		// Decoded here, bounded, so that c.Body() (which would inflate
		// without a bound) sees plain bytes.
		// The decoders read from a bufio.Reader of ours (they would wrap
		// the stream in their own and read past the end), so what follows
		// the encoded data can be seen.
		encoded = bufio.NewReader(stream)
		var err error
		if enc == "deflate" {
			r, err = zlib.NewReader(encoded)
		} else {
			r, err = gzip.NewReader(encoded)
		}
		if err != nil {
			c.Context().SetConnectionClose()
			return errBodyEncoding
		}
		c.Request().Header.Del(fiber.HeaderContentEncoding)
		hint = -1
	default:
		c.Context().SetConnectionClose()
		return errEncoding
	}
	body, reserved, err := b.readAll(r, hint)
	defer b.give(reserved)
	if err == errBodyBudget { //nolint:errorlint // our own sentinel, never wrapped
		return busy(c)
	}
	if err == nil && encoded != nil {
		// A decoder may stop before the body does (zlib after its
		// checksum): trailing bytes are refused rather than parsed as the
		// next request.
		if _, perr := encoded.Peek(1); perr == nil {
			err = errBodyEncoding
		}
	}
	if err != nil {
		c.Context().SetConnectionClose()
		return err
	}
	c.Request().SetBodyRaw(body)
	return c.Next()
}

// readAll reads r to its end into one buffer, reserving the budget for
// each allocation before making it. hint is the expected size (-1:
// unknown). It returns the bytes reserved, which the caller gives back.
func (b *bodies) readAll(r io.Reader, hint int) (body []byte, reserved int64, err error) {
	size := hint
	if size < 0 {
		size = growStep
	}
	if !b.take(int64(size)) {
		return nil, 0, errBodyBudget
	}
	reserved = int64(size)
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			// Full: find out whether anything follows before growing (a
			// body of known length then needs no second buffer).
			var one [1]byte
			n, rerr := r.Read(one[:])
			if n == 0 {
				if rerr == nil {
					continue
				}
				return buf, reserved, readErr(rerr)
			}
			if len(buf) >= b.limit {
				return nil, reserved, fiber.ErrRequestEntityTooLarge
			}
			grow := min(max(cap(buf), growStep), b.limit+1-cap(buf))
			if !b.take(int64(grow)) {
				return nil, reserved, errBodyBudget
			}
			reserved += int64(grow)
			nb := make([]byte, len(buf), cap(buf)+grow)
			copy(nb, buf)
			buf = append(nb, one[0])
			if rerr != nil {
				return buf, reserved, readErr(rerr)
			}
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > b.limit {
			return nil, reserved, fiber.ErrRequestEntityTooLarge
		}
		if rerr != nil {
			return buf, reserved, readErr(rerr)
		}
	}
}

// readErr maps the error that ended a body: io.EOF is the end; a
// decoding error is the client's; anything else (the client went away,
// the read deadline passed) a bad request.
func readErr(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.Is(err, zlib.ErrHeader),
		errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrDictionary),
		errors.As(err, &corrupt):
		return errBodyEncoding
	}
	return fiber.ErrBadRequest
}

// withBodyDrain finishes, after the handler, a streamed request body that
// was left unread (by a refusal before the body, an unknown path, a
// handler that did not need it): up to maxDrain bytes arriving within
// drainTimeout are read away through a small buffer; a longer or slower
// rest closes the connection after the response, since the unread bytes
// would otherwise be parsed as the next request. Reading a little instead
// of closing at once spares a client that is still sending a reset in
// place of the answer; the deadline keeps a client that stopped sending
// from holding the answer (and the connection) back.
func withBodyDrain() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		drainOrClose(c, maxDrain)
		return err
	}
}

func drainOrClose(c *fiber.Ctx, limit int64) {
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return
	}
	if conn := c.Context().Conn(); conn != nil {
		// fasthttp sets the next request's read deadline itself.
		_ = conn.SetReadDeadline(time.Now().Add(drainTimeout))
	}
	if _, err := io.CopyN(io.Discard, stream, limit); !errors.Is(err, io.EOF) {
		c.Context().SetConnectionClose()
	}
}

var mediaUploadPath = regexp.MustCompile(`(?i)^/[0-9]{1,32}/media/?$|^/upload:[A-Za-z0-9_-]{1,1000}$`)

// isMediaUpload selects the media upload, which streams its own body.
func isMediaUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && mayBeUpload(c.Path()) && mediaUploadPath.MatchString(c.Path())
}

// mayBeUpload is false for a path mediaUploadPath cannot match (one
// ending neither in /media nor /media/, in any case, and holding no ':'):
// every other request is spared the regular expression.
func mayBeUpload[T string | []byte](p T) bool {
	n := len(p)
	if n > 0 && p[n-1] == '/' {
		n--
	}
	if n >= 6 && strings.EqualFold(string(p[n-6:n]), "/media") {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] == ':' {
			return true
		}
	}
	return false
}
