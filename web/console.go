package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/etag"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/waedge/waedge/graph"
)

// consoleCSP allows the console's own scripts, styles and API calls and
// nothing else: no inline script or style, no third-party origin, no
// framing.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleHeaders are the security and cache headers of every console
// answer (files and the console's own endpoints).
func consoleHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", consoleCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	c.Set(fiber.HeaderCacheControl, "no-cache") // revalidate (ETag): files change with the binary
	return c.Next()
}

// serveConsole serves the console: `/` redirects to it, its own endpoints
// (session, sign-in, invitations) and its static files, compressed and
// with ETags.
func serveConsole(app *fiber.App, d Deps, body *bodies) {
	app.Get("/", func(c *fiber.Ctx) error {
		return c.Redirect(d.PublicURL+"/console/", fiber.StatusFound)
	})
	d.Accounts.Register(app, consoleHeaders, body.read)
	app.Use("/console", consoleHeaders, compress.New(), etag.New(), filesystem.New(filesystem.Config{
		Root:         http.FS(d.Console),
		Index:        "index.html",
		NotFoundFile: "index.html",
	}))
}

// sseFor bounds one event stream; the browser's EventSource reconnects,
// and the credential is checked again (under the server's write timeout).
const sseFor = 45 * time.Second

// clusterEvents answers GET /admin/v1/cluster/events: a server-sent event
// stream of this node's cluster status (the body of GET /admin/v1/cluster)
// every second, for the console's live views; ?limit=N ends it after N
// events.
func (a *adminAPI) clusterEvents(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 0) // events before the stream ends (0: until sseFor)
	if limit < 0 {
		return graph.ErrParameterValue.With("limit must be 0 or more")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	cl := a.d.Cluster
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		end := time.NewTimer(sseFor)
		defer end.Stop()
		if _, err := w.WriteString("retry: 1000\n\n"); err != nil {
			return
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cl.Status(ctx)
			cancel()
			var data []byte
			if err == nil {
				data, err = json.Marshal(st)
			}
			if err != nil {
				data, _ = json.Marshal(map[string]string{"error": "status unavailable"})
			}
			if _, err := w.WriteString("event: cluster\ndata: " + string(data) + "\n\n"); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return // the browser went away
			}
			if limit--; limit == 0 {
				return
			}
			select {
			case <-tick.C:
			case <-end.C:
				return
			}
		}
	})
	return nil
}
