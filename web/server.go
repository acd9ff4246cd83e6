// Package web is waedge's HTTP surface: the Graph-compatible Cloud API, the
// admin API behind the CLI and console, health endpoints, and the console's
// static files. It only wires routes to handlers; every error leaves
// through one error handler as a Graph error envelope.
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/console"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/messages"
)

// Deps are the web layer's dependencies.
type Deps struct {
	// Cluster is the node (writes, status, membership).
	Cluster cluster.Cluster
	// Logger receives access and error logs.
	Logger *slog.Logger
	// Console holds the console's static files; nil serves no console.
	Console fs.FS
	// RequestTimeout bounds each request (default 30s); a media upload gets
	// at least uploadTimeout (10 minutes).
	RequestTimeout time.Duration
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Egress is the policy of outgoing calls made for a tenant (webhook
	// verification handshakes); default: every internal range refused.
	Egress *egress.Policy
	// Sealer seals message content before it is replicated (required).
	Sealer Sealer
	// DebugClock, when set (tests only, see main.go's WAEDGE_TEST_CLOCK),
	// serves POST /admin/v1/debug/clock {"advance_seconds":N}, which moves
	// this process's clock forward.
	DebugClock func(advance time.Duration) time.Time
	// Identities knows consumers' current identity keys (for
	// recipient_identity_key_hash); nil skips that check.
	Identities Identities
	// MarketingCap is this node's default policy behind 131049 for
	// businesses without their own (serve --marketing-cap); off when zero.
	MarketingCap messages.MarketingCap
	// PublicURL is the base of every absolute URL waedge hands out (media
	// download URLs, paging links), e.g. "https://wa.example.com"; the
	// request's Host header is never used. Empty: "http://localhost".
	PublicURL string
	// Accounts are the console's users and sessions (default: built from
	// Cluster). A session cookie is accepted on /admin/v1 like an admin-kind
	// token of the user's role.
	Accounts *console.Accounts
	// Sandbox is the embedded sandbox relay's hosted-phone API (nil: this
	// node runs none); the console's Sandbox page reaches it through
	// /admin/v1/sandbox/phones.
	Sandbox *SandboxRelay
	// MaxBodyInFlight bounds the request body bytes that all requests
	// together hold in memory (default DefaultMaxBodyInFlight); a request
	// beyond it is answered 503 with Retry-After.
	MaxBodyInFlight int64
	// Metrics, when set, counts requests and serves GET /metrics
	// (admin or operator token).
	Metrics Metrics
	// HSTS sets Strict-Transport-Security on every answer (the port
	// serves HTTPS).
	HSTS bool
}

// Identities reports the hash of the identity key the business last saw
// for a consumer of a phone number (package connector).
type Identities interface {
	IdentityHash(phoneNumberID, waID string) (hash string, ok bool)
}

// Sealer seals content at rest (package seal).
type Sealer interface {
	// Seal seals under the default (30-day) retention class.
	Seal(ctx context.Context, aad, plaintext []byte) ([]byte, error)
	// SealFor seals under the retention class of content kept for retention.
	SealFor(ctx context.Context, retention time.Duration, aad, plaintext []byte) ([]byte, error)
	Open(aad, sealed []byte) ([]byte, error)
	// URLKey signs media download URLs; the same on every node.
	URLKey() [32]byte
	// ConsumerRef is the keyed reference under which a consumer's state is stored.
	ConsumerRef(phoneNumberID, waID string) string
}

// maxBody is the default request body limit.
const maxBody = 4 << 20

// New builds the Fiber app.
func New(d Deps) *fiber.App {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = 30 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Egress == nil {
		d.Egress = egress.New(egress.Config{})
	}
	app := fiber.New(fiber.Config{
		AppName:               "waedge",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(d.Logger),
		// Bodies are streamed and read only after authentication (see
		// body.go): the media upload reads its body chunk by chunk,
		// bodies.read buffers every other route's body (at most maxBody)
		// within the in-flight budget.
		BodyLimit:                    maxBody,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               maxHeaderBytes,
		ReadTimeout:                  headerTimeout,
		WriteTimeout:                 writeTimeout,
		IdleTimeout:                  idleTimeout,
	})
	configureServer(app.Server())
	d.PublicURL = publicBase(d.PublicURL)
	if d.Accounts == nil {
		d.Accounts = console.New(console.Config{Cluster: d.Cluster, Now: d.Now, Logger: d.Logger, PublicURL: d.PublicURL})
	}
	body := newBodies(d.MaxBodyInFlight)
	if d.Metrics != nil {
		app.Use(withMetrics(d.Metrics))
	}
	if d.HSTS {
		app.Use(withHSTS())
	}
	app.Use(withRequestID(), withAccessLog(d.Logger), withRecover(d.Logger), withDeadline(d.RequestTimeout),
		withVersionStripped(), withBodyDrain())

	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/readyz", func(c *fiber.Ctx) error {
		if !d.Cluster.Ready() {
			return cluster.ErrNotReady
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})

	admin := &adminAPI{d: d, body: body}
	a := app.Group("/admin/v1", admin.auth)
	admin.register(a)
	if d.Metrics != nil {
		registerMetrics(app, admin, d.Metrics)
	}

	if d.Console != nil {
		serveConsole(app, d, body)
	}

	api := &graphAPI{d: d, body: body,
		msgs: messages.New(messages.Deps{Cluster: d.Cluster, Sealer: d.Sealer, Identities: d.Identities, Now: d.Now,
			MarketingCap: d.MarketingCap})}
	// The send comes first: fiber tries a method's routes in the order
	// they were registered, each checking the id's constraint (a regular
	// expression) again, and the send is most of the traffic. No other
	// route's pattern overlaps it, so the order decides nothing else.
	app.Post("/:node<regex(^[0-9]{1,32}$)>/messages", api.auth, api.sendMessage)
	app.Get("/:node<regex(^[0-9]{1,32}$)>", api.auth, api.getNode)
	app.Delete("/:node<regex(^[0-9]{1,32}$)>", api.auth, api.deleteNode)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/media", api.auth, api.uploadMedia)
	app.Get(mediaDownloadPath+":id<regex(^[0-9]{1,32}$)>", api.auth, api.downloadMedia)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/subscribed_apps", api.auth, api.subscribe)
	app.Get("/:node<regex(^[0-9]{1,32}$)>/subscribed_apps", api.auth, api.subscriptions)
	app.Delete("/:node<regex(^[0-9]{1,32}$)>/subscribed_apps", api.auth, api.unsubscribe)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/subscriptions", api.auth, api.subscribeApp)
	app.Get("/:node<regex(^[0-9]{1,32}$)>/subscriptions", api.auth, api.appSubscriptions)
	app.Delete("/:node<regex(^[0-9]{1,32}$)>/subscriptions", api.auth, api.unsubscribeApp)
	app.Get("/oauth/access_token", api.appAccessToken)
	app.Post("/:node<regex(^[0-9]{1,32}$)>", api.auth, api.postNode)
	app.Get("/:node<regex(^[0-9]{1,32}$)>/phone_numbers", api.auth, api.phoneNumbers)
	app.Get("/:node<regex(^[0-9]{1,32}$)>/template_analytics", api.auth, api.templateAnalytics)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/register", api.auth, api.register(true))
	app.Post("/:node<regex(^[0-9]{1,32}$)>/deregister", api.auth, api.register(false))
	app.Get("/:node<regex(^[0-9]{1,32}$)>/whatsapp_business_profile", api.auth, api.profile)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/whatsapp_business_profile", api.auth, api.updateProfile)
	app.Post("/:node<regex(^[0-9]{1,32}$)>/message_templates", api.auth, api.createTemplate)
	app.Get("/:node<regex(^[0-9]{1,32}$)>/message_templates", api.auth, api.listTemplates)
	app.Delete("/:node<regex(^[0-9]{1,32}$)>/message_templates", api.auth, api.deleteTemplates)
	api.registerPhoneEdges(app)
	serveOpenAPI(app, admin, d.PublicURL)
	return app
}
