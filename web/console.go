package web

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/etag"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
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

// sse answers with a server-sent event stream: round writes one round of
// events (false ends the stream), once a second, for sseFor or ?limit=N
// rounds. Writing stops as soon as the client is gone.
func sse(c *fiber.Ctx, round func(send func(event string, v any) bool) bool) error {
	limit := c.QueryInt("limit", 0)
	if limit < 0 {
		return graph.ErrParameterValue.With("limit must be 0 or more")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		end := time.NewTimer(sseFor)
		defer end.Stop()
		send := func(event string, v any) bool {
			b, err := json.Marshal(v)
			if err != nil {
				return false
			}
			_, err = w.WriteString("event: " + event + "\ndata: " + string(b) + "\n\n")
			return err == nil
		}
		if _, err := w.WriteString("retry: 1000\n\n"); err != nil {
			return
		}
		for {
			if !round(send) {
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

// clusterEvents answers GET /admin/v1/cluster/events: a server-sent event
// stream of this node's cluster status (the body of GET /admin/v1/cluster)
// every second, for the console's live views.
func (a *adminAPI) clusterEvents(c *fiber.Ctx) error {
	cl := a.d.Cluster
	return sse(c, func(send func(string, any) bool) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := cl.Status(ctx)
		if err != nil {
			return send("cluster", map[string]string{"error": "status unavailable"})
		}
		return send("cluster", st)
	})
}

// monitorRow is one webhook event as the event monitor shows it.
type monitorRow struct {
	ID         string          `json:"id"`
	WABAID     string          `json:"waba_id,omitempty"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	LastStatus string          `json:"last_status,omitempty"`
	CreatedAt  int64           `json:"created_at"`
	Body       json.RawMessage `json:"body,omitempty"`
}

// webhookEvents answers GET /admin/v1/webhooks/events: a server-sent event
// stream of webhook events as they are queued and as their deliveries end
// (event "webhook", one per new event or change of state or attempts),
// and every second the counts per state (event "counts"). A business admin
// sees their own business's events with the body of those still queued;
// the cluster admin sees every event without bodies; the operator only
// the counts (never ids, WABAs or bodies).
func (a *adminAPI) webhookEvents(c *fiber.Ctx) error {
	tok := actor(c)
	role := roleOf(tok.Kind)
	business := ""
	if role == roleBusinessAdmin {
		business = tok.BusinessID
	}
	fsm, sealer, started := a.d.Cluster.FSM(), a.d.Sealer, a.d.Now().UnixMilli()
	seen := map[string]string{} // event id → state and attempts last sent
	return sse(c, func(send func(string, any) bool) bool {
		counts := map[string]int{"pending": 0, "delivered": 0, "dropped": 0}
		var rows []monitorRow
		_ = fsm.OutboxEach(nil, func(e raftfsm.OutboxEvent) bool {
			if business != "" && e.BusinessID != business {
				return true
			}
			counts["pending"]++
			r := monitorRow{ID: hex.EncodeToString(e.Key), WABAID: e.WABAID, State: "pending", Attempts: e.Attempts,
				LastStatus: e.LastStatus, CreatedAt: e.CreatedAt / 1000}
			if business != "" && sealer != nil {
				if body, err := sealer.Open(raftfsm.WebhookAAD(e.WABAID), e.Body); err == nil && json.Valid(body) {
					r.Body = body
				}
			}
			rows = append(rows, r)
			return len(rows) < 1000
		})
		visited := 0
		_ = fsm.WebhookLog(func(k []byte, e raftfsm.WebhookLogEntry) bool {
			// Newest first by creation: what ended during the stream was
			// queued recently, so a bounded walk finds it.
			if visited++; e.LastAttemptAt < started {
				return visited < 5000
			}
			if business == "" || e.BusinessID == business {
				counts[e.Outcome]++
				rows = append(rows, monitorRow{ID: hex.EncodeToString(k), WABAID: e.WABAID, State: e.Outcome,
					Attempts: e.Attempts, LastStatus: e.LastStatus, CreatedAt: e.CreatedAt / 1000})
			}
			return len(rows) < 2000
		})
		if role != roleOperator {
			for _, r := range rows {
				mark := r.State + "/" + strconv.Itoa(r.Attempts)
				if seen[r.ID] == mark {
					continue
				}
				seen[r.ID] = mark
				if !send("webhook", r) {
					return false
				}
			}
		}
		return send("counts", counts)
	})
}
