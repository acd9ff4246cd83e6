package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
)

// SandboxRelay is the embedded sandbox relay's hosted-phone API, which the
// console's Sandbox page reaches through /admin/v1/sandbox/… (the relay's
// token never leaves the node).
type SandboxRelay struct {
	// BaseURL is the relay's HTTP address, e.g. "http://127.0.0.1:8089".
	BaseURL string
	// TokenFile holds the relay API's bearer token (read on each call).
	TokenFile string
}

// errNoSandbox answers when this node has no sandbox relay it may drive:
// no embedded one (--network is set) and no token of the shared one.
var errNoSandbox = graph.ErrObjectNotFound.With("this node has no sandbox relay it may drive: it runs no embedded sandbox " +
	"(--network is set), and it was given no API token of the shared relay (serve --relay-token-file)")

// sandboxTimeout bounds one call to the relay.
const sandboxTimeout = 10 * time.Second

// sandboxProxy forwards the request to the relay's hosted-phone API at
// /sandbox/phones[/{number}/{verb}] and answers with the relay's answer.
// Simulated phones are test consumers of the sandbox, not real people.
func (a *adminAPI) sandboxProxy(verb string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sb := a.d.Sandbox
		if sb == nil {
			return errNoSandbox
		}
		tok, err := os.ReadFile(sb.TokenFile)
		if err != nil {
			return errNoSandbox
		}
		path := "/sandbox/phones"
		if n := c.Params("id"); n != "" {
			if strings.Trim(n, "0123456789") != "" || len(n) > 20 {
				return graph.ErrParameterValue.With("a sandbox phone is named by its number, digits only")
			}
			path += "/" + url.PathEscape(n) + "/" + verb
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), sandboxTimeout)
		defer cancel()
		var body io.Reader
		if len(c.Body()) > 0 {
			body = bytes.NewReader(bytes.Clone(c.Body()))
		}
		req, err := http.NewRequestWithContext(ctx, c.Method(), strings.TrimRight(sb.BaseURL, "/")+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return graph.ErrServiceUnavailable.With("the sandbox relay did not answer")
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return graph.ErrServiceUnavailable.With("the sandbox relay did not answer")
		}
		if resp.StatusCode/100 != 2 {
			return graph.ErrInvalidParameter.With("sandbox relay: " + strings.TrimSpace(string(out)))
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(resp.StatusCode).Send(out)
	}
}
