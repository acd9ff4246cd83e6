package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/waedge/waedge/graph"
)

// Metrics counts the HTTP traffic and serves GET /metrics (package
// metrics).
type Metrics interface {
	// ObserveHTTP counts one answered request by its route template.
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
		// Fiber's strings may point into buffers reused by the next
		// request (the method always, the route when Fiber has none and
		// makes one of the path); the registry keeps label values, so the
		// method becomes a constant and the route is copied.
		m.ObserveHTTP(methodLabel(c.Method()), strings.Clone(routeOf(c)), c.Response().StatusCode(), time.Since(start))
		return err
	}
}

// methodLabel returns a string that outlives the request for method: the
// standard methods' constants, a copy of anything else.
func methodLabel(m string) string {
	for _, k := range [...]string{fiber.MethodGet, fiber.MethodPost, fiber.MethodDelete, fiber.MethodPut,
		fiber.MethodHead, fiber.MethodPatch, fiber.MethodOptions} {
		if m == k {
			return k
		}
	}
	return strings.Clone(m)
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
