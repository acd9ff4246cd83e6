package web

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/waedge/waedge/graph"
)

// Metrics counts the HTTP traffic and serves GET /metrics (package
// metrics).
type Metrics interface {
	// ObserveHTTP counts one answered request by its route template;
	// it copies the strings it keeps (the caller's may be reused).
	ObserveHTTP(method, route string, status int, d time.Duration)
	// Handler serves the Prometheus text format.
	Handler() http.Handler
}

// withMetrics counts every request once its answer (errors included) is
// written: it runs outside withAccessLog, which turns errors into answers.
func withMetrics(m Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		// The method and, when Fiber matched no route, the route point
		// into buffers reused by the next request: ObserveHTTP copies
		// what it keeps.
		m.ObserveHTTP(c.Method(), routeOf(c), c.Response().StatusCode(), time.Since(start))
		return err
	}
}

// registerMetrics serves GET /metrics to admin and operator tokens: the
// numbers describe the whole node, not one business.
func registerMetrics(app *fiber.App, admin *adminAPI, m Metrics) {
	h := adaptor.HTTPHandler(m.Handler())
	app.Get("/metrics", admin.auth, func(c *fiber.Ctx) error {
		if roleOf(actor(c).Kind)&staff == 0 {
			return graph.ErrPermission.With("an admin or operator token is required")
		}
		return h(c)
	})
}
