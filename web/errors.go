package web

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/tenant"
)

// envelope is the Graph error envelope.
type envelope struct {
	Error envelopeError `json:"error"`
}

type envelopeError struct {
	Message   string    `json:"message"`
	Type      string    `json:"type"`
	Code      int       `json:"code"`
	ErrorData errorData `json:"error_data"`
	FBTraceID string    `json:"fbtrace_id"`
}

type errorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

// Errors of the HTTP layer itself, as Graph errors.
var (
	errUnknownPath = &graph.Error{Status: 400, Code: 100, Title: "Unknown path components",
		Type: "OAuthException"}
	errMethod = &graph.Error{Status: 405, Code: 100, Title: "Unsupported request - method type"}
	errBody   = graph.ErrInvalidParameter.With("request body is not valid JSON")
	// errHeaderTooLarge: the request line and headers exceed maxHeaderBytes.
	errHeaderTooLarge = &graph.Error{Status: 431, Code: 100, Title: "Request header fields too large",
		Details: "the request line and headers together may not exceed 8 KiB"}
	errRequestTimeout = &graph.Error{Status: 408, Code: 100, Title: "Request timeout"}
)

// toGraph maps any error a handler returns to the Graph error the client
// sees. Internal errors become a generic 500; their text is only logged.
func toGraph(err error) (*graph.Error, bool) {
	if g := graph.As(err); g != nil {
		return g, true
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusNotFound:
			return errUnknownPath, true
		case fiber.StatusMethodNotAllowed:
			return errMethod, true
		case fiber.StatusRequestEntityTooLarge:
			return &graph.Error{Status: 413, Code: 100, Title: "Request entity too large"}, true
		case fiber.StatusBadRequest, fiber.StatusUnprocessableEntity:
			return graph.ErrInvalidParameter, true
		// Raised by fasthttp while reading a request, before any route ran
		// (Fiber's serverErrorHandler): the client's doing, never logged.
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return errHeaderTooLarge, true
		case fiber.StatusRequestTimeout:
			return errRequestTimeout, true
		case fiber.StatusBadGateway: // a network error reading the request
			return graph.ErrInvalidParameter, true
		}
	}
	switch {
	case errors.Is(err, tenant.ErrUnauthenticated):
		return graph.ErrAuth, true
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrNotReady), errors.Is(err, cluster.ErrClosed):
		return graph.ErrServiceUnavailable.With("the cluster is electing a leader or shutting down; retry"), true
	case errors.Is(err, cluster.ErrOutcomeUnknown):
		return graph.ErrServiceUnavailable.With("the outcome of this request could not be confirmed (the leader changed, or this node fell behind, while it was committed); it may or may not have taken effect"), true
	case errors.Is(err, context.DeadlineExceeded):
		return graph.ErrServiceUnavailable.With("the request timed out; retry"), true
	case errors.Is(err, cluster.ErrTooLarge):
		return &graph.Error{Status: 413, Code: 100, Title: "Request entity too large"}, true
	}
	return graph.ErrInternal, false
}

// errorHandler is the only place that writes error responses.
func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		g, known := toGraph(err)
		trace := requestID(c)
		if trace == "" {
			// Errors raised by fasthttp before any middleware ran (body
			// too large, malformed request) still get a trace id.
			trace = newRequestID()
			c.Set("X-Request-Id", trace)
		}
		if !known {
			logger.Error("request failed", slog.String("method", c.Method()), slog.String("route", routeOf(c)),
				slog.String("request_id", trace), slog.Any("err", err))
		}
		return c.Status(g.Status).JSON(envelope{Error: envelopeError{
			Message:   g.Message(),
			Type:      g.TypeName(),
			Code:      g.Code,
			ErrorData: errorData{MessagingProduct: "whatsapp", Details: g.Details},
			FBTraceID: trace,
		}})
	}
}

// routeOf is the matched route pattern (never the raw path, which may
// carry ids).
func routeOf(c *fiber.Ctx) string {
	if r := c.Route(); r != nil && r.Path != "" {
		return r.Path
	}
	return "(unmatched)"
}
