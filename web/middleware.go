package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
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

// newRequestID returns a fresh id shaped like a Graph fbtrace_id.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "A" + base64.RawURLEncoding.EncodeToString(b[:])
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
// context when the client goes away, so waedge sets its own deadline.
func withDeadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
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

var versionPrefix = regexp.MustCompile(`^/v[0-9]{1,3}\.[0-9]{1,3}(/|$)`)

// withVersionStripped serves /vNN.N/… exactly like the unversioned path, as
// Graph does for any version.
func withVersionStripped() fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := c.Path()
		if loc := versionPrefix.FindStringIndex(p); loc != nil {
			rest := p[loc[1]:]
			if !strings.HasPrefix(rest, "/") {
				rest = "/" + rest
			}
			c.Path(rest)
		}
		return c.Next()
	}
}

// bearer extracts the token of an "Authorization: Bearer …" header.
func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// withBodyLimit reads the streamed request body of every route but the
// ones skip selects into memory, at most limit bytes: with
// StreamRequestBody fasthttp no longer enforces the body limit itself.
// Handlers then use c.Body() as usual.
func withBodyLimit(limit int, skip func(c *fiber.Ctx) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if skip(c) {
			err := c.Next()
			drainOrClose(c, maxDrain)
			return err
		}
		cl := c.Request().Header.ContentLength()
		if cl > limit {
			c.Context().SetConnectionClose() // the body stays unread
			return fiber.ErrRequestEntityTooLarge
		}
		stream := c.Context().RequestBodyStream()
		if cl == 0 || stream == nil {
			return c.Next()
		}
		b, err := io.ReadAll(io.LimitReader(stream, int64(limit)+1))
		if err != nil {
			c.Context().SetConnectionClose()
			return fiber.ErrBadRequest
		}
		if len(b) > limit {
			c.Context().SetConnectionClose()
			return fiber.ErrRequestEntityTooLarge
		}
		c.Request().SetBodyRaw(b)
		return c.Next()
	}
}

// maxDrain is how much of a streamed body left unread is read away so the
// connection can serve the next request.
const maxDrain = 1 << 20

// drainOrClose finishes a streamed request body its handler (or a
// middleware before it, e.g. auth) left unread: up to limit bytes are read
// away; a longer rest closes the connection after the response, since
// the unread bytes would otherwise be parsed as the next request. Reading
// a little instead of closing at once also spares a client that is still
// sending a reset in place of the answer.
func drainOrClose(c *fiber.Ctx, limit int64) {
	stream := c.Context().RequestBodyStream()
	if stream == nil {
		return
	}
	if _, err := io.CopyN(io.Discard, stream, limit); !errors.Is(err, io.EOF) {
		c.Context().SetConnectionClose()
	}
}

var mediaUploadPath = regexp.MustCompile(`(?i)^/[0-9]{1,32}/media/?$`)

// isMediaUpload selects the media upload, which streams its own body.
func isMediaUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && mediaUploadPath.MatchString(c.Path())
}
