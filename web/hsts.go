package web

import "github.com/gofiber/fiber/v2"

// hstsValue asks browsers to use HTTPS only for two years (not for
// subdomains: they may be other services).
const hstsValue = "max-age=63072000"

// withHSTS sets Strict-Transport-Security on every answer of an HTTPS port.
func withHSTS() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderStrictTransportSecurity, hstsValue)
		return c.Next()
	}
}
