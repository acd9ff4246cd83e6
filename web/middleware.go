package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const localRequestID = "waedge.request_id"

func requestID(c *fiber.Ctx) string {
	if v, ok := c.Locals(localRequestID).(string); ok {
		return v
	}
	return ""
}

// newRequestID returns a fresh id shaped like a Graph fbtrace_id: "A" and
// 12 random bytes in unpadded base64url (one allocation: it runs on every
// request).
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var id [1 + 16]byte
	id[0] = 'A'
	base64.RawURLEncoding.Encode(id[1:], b[:])
	return string(id[:])
}

// withRequestID gives every request an id (the Graph fbtrace_id), echoed in
// X-Request-Id. A client-sent X-Request-Id is not reused: it would let a
// caller write arbitrary text into the logs.
func withRequestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := newRequestID()
		c.Locals(localRequestID, id)
		c.Set("X-Request-Id", id)
		return c.Next()
	}
}

// withRecover turns a panic into an internal error (logged with its stack,
// never shown to the client).
func withRecover(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("panic in handler", slog.String("route", routeOf(c)),
					slog.String("request_id", requestID(c)), slog.String("panic", fmt.Sprint(r)),
					slog.String("stack", string(debug.Stack())))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// withDeadline bounds every request: fasthttp does not cancel a request's
// context when the client goes away, so waedge sets its own deadline — d,
// and for a media upload uploadTimeout, the time its body may take.
func withDeadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		limit := d
		// A media upload (up to 100 MB, stored chunk by chunk through Raft)
		// gets as long as its body may take to arrive (configureServer).
		if c.Method() == fiber.MethodPost && isUploadURI(c.Request().RequestURI()) {
			limit = max(d, uploadTimeout)
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), limit)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// withAccessLog logs method, route pattern, status and latency — no bodies,
// no query strings, no tokens.
func withAccessLog(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let the error handler write the response so the status is known.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		if logger.Enabled(c.UserContext(), slog.LevelDebug) || c.Response().StatusCode() >= 500 {
			logger.Log(context.Background(), levelFor(c.Response().StatusCode()), "http request",
				slog.String("method", c.Method()), slog.String("route", routeOf(c)),
				slog.Int("status", c.Response().StatusCode()),
				slog.Duration("latency", time.Since(start)), slog.String("request_id", requestID(c)))
		}
		return nil
	}
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// versionPrefix returns the length of a leading "/vNN.N" (1 to 3 digits
// each side) followed by "/" or the end of p, 0 when p has none: what
// ^/v[0-9]{1,3}\.[0-9]{1,3}(/|$) matches, without the "/", by hand (it
// runs on every request).
func versionPrefix[T string | []byte](p T) int {
	if len(p) < 5 || p[0] != '/' || p[1] != 'v' {
		return 0
	}
	digits := func(i int) int { // end of 1 to 3 digits from i, or -1
		j := i
		for j < len(p) && j-i < 3 && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
	i := digits(2)
	if i < 0 || i >= len(p) || p[i] != '.' {
		return 0
	}
	if i = digits(i + 1); i < 0 || (i < len(p) && p[i] != '/') {
		return 0
	}
	return i
}

// withVersionStripped serves /vNN.N/… exactly like the unversioned path, as
// Graph does for any version.
func withVersionStripped() fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := c.Path()
		if n := versionPrefix(p); n > 0 {
			rest := p[n:]
			if rest == "" {
				rest = "/"
			}
			c.Path(rest)
		}
		return c.Next()
	}
}

// bearer extracts the token of an "Authorization: Bearer …" (or "OAuth …")
// header.
func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	// "OAuth <token>" is the form Graph's resumable upload API documents.
	if len(h) > 6 && strings.EqualFold(h[:6], "oauth ") {
		return strings.TrimSpace(h[6:])
	}
	return ""
}
