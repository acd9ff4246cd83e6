package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// CookieName is the session cookie.
const CookieName = "waedge_session"

// HeaderCSRF carries a session's CSRF token on state-changing requests.
const HeaderCSRF = "X-CSRF-Token"

// errLocked is the answer while a user name or client address is locked
// out of sign-in (with Retry-After).
var errLocked = &graph.Error{Status: fiber.StatusTooManyRequests, Code: 4, Title: "Application request limit reached"}

// errCSRF is the answer to a state-changing request of a session without
// its CSRF token, or to a sign-in posted from another site.
var errCSRF = graph.ErrPermission.With("missing or wrong " + HeaderCSRF + " (or a cross-site request)")

// toGraph maps the account errors to the Graph envelope.
func toGraph(err error) error {
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		return errLocked.With("too many failed sign-ins; try again later")
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrNoSession):
		return graph.ErrAuth.With(err.Error())
	case errors.Is(err, ErrLinkInvalid), errors.Is(err, ErrNotFound):
		return graph.ErrObjectNotFound.With(err.Error())
	case errors.Is(err, ErrNameTaken), errors.Is(err, ErrInvalid):
		return graph.ErrInvalidParameter.With(err.Error())
	}
	return err
}

// Authenticate resolves the request's session cookie for the admin API:
// ok is false when the request has no cookie (the caller then looks for a
// bearer token). A stale cookie answers 401; a state-changing request
// without the session's CSRF token answers 403.
func (a *Accounts) Authenticate(c *fiber.Ctx) (tok raftfsm.Token, ok bool, err error) {
	secret := c.Cookies(CookieName)
	if secret == "" {
		return raftfsm.Token{}, false, nil
	}
	s, err := a.Session(secret)
	if err != nil {
		return raftfsm.Token{}, true, graph.ErrAuth.With("the console session ended; sign in again")
	}
	if !safeMethod(c.Method()) && !CheckCSRF(secret, c.Get(HeaderCSRF)) {
		return raftfsm.Token{}, true, errCSRF
	}
	return s.Token(), true, nil
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// sameSite refuses requests a browser marks as coming from another site,
// and bodies that are not JSON (an HTML form cannot send one without a
// CORS preflight, which waedge never grants).
func sameSite(c *fiber.Ctx) error {
	switch c.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errCSRF
	}
	if ct := strings.ToLower(c.Get(fiber.HeaderContentType)); !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return graph.ErrInvalidParameter.With("Content-Type must be application/json")
	}
	return nil
}

// decode decodes a JSON body strictly.
func decode(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return graph.ErrInvalidParameter.Withf("invalid JSON body: %v", err)
	}
	return nil
}

// sessionView is what the page learns about its session.
func sessionView(s Session) fiber.Map {
	return fiber.Map{"signed_in": true, "user": s.User, "expires_at": s.ExpiresAt.Unix(), "csrf_token": s.CSRF}
}

func (a *Accounts) setCookie(c *fiber.Ctx, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: CookieName, Value: value, Path: "/", Expires: expires, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: c.Protocol() == "https" || strings.HasPrefix(a.cfg.PublicURL, "https://"),
	})
}

// Register adds the console's own endpoints below /console/api: session,
// sign-in, sign-out and accepting an invitation. mw runs first on each
// (web passes its body reader). Everything else the console shows comes
// from the admin and Graph APIs.
func (a *Accounts) Register(r fiber.Router, mw ...fiber.Handler) {
	with := func(h fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, mw...), h) }
	r.Get("/console/api/session", with(a.getSession)...)
	r.Post("/console/api/sign-in", with(a.signIn)...)
	r.Post("/console/api/sign-out", with(a.signOut)...)
	r.Post("/console/api/link", with(a.linkInfo)...)
	r.Post("/console/api/accept", with(a.accept)...)
}

func (a *Accounts) getSession(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	s, err := a.Session(c.Cookies(CookieName))
	if err != nil {
		return c.JSON(fiber.Map{"signed_in": false})
	}
	return c.JSON(sessionView(s))
}

func (a *Accounts) signIn(c *fiber.Ctx) error {
	if err := sameSite(c); err != nil {
		return err
	}
	var req struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	secret, s, err := a.SignIn(c.UserContext(), req.Name, req.Password, c.IP())
	var locked *LockedError
	if errors.As(err, &locked) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(time.Until(locked.Until).Seconds())+1))
	}
	if err != nil {
		return toGraph(err)
	}
	a.setCookie(c, secret, s.ExpiresAt)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(sessionView(s))
}

func (a *Accounts) signOut(c *fiber.Ctx) error {
	secret := c.Cookies(CookieName)
	if secret != "" {
		if !CheckCSRF(secret, c.Get(HeaderCSRF)) {
			return errCSRF
		}
		if err := a.SignOut(c.UserContext(), strings.Clone(secret)); err != nil {
			return err
		}
	}
	a.setCookie(c, "", time.Unix(1, 0))
	return c.JSON(fiber.Map{"success": true})
}

func (a *Accounts) linkInfo(c *fiber.Ctx) error {
	if err := sameSite(c); err != nil {
		return err
	}
	var req struct {
		Link string `json:"link"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	l, err := a.LinkInfo(req.Link)
	if err != nil {
		return toGraph(err)
	}
	return c.JSON(l)
}

func (a *Accounts) accept(c *fiber.Ctx) error {
	if err := sameSite(c); err != nil {
		return err
	}
	var req struct {
		Link     string `json:"link"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if _, err := a.Accept(c.UserContext(), req.Link, req.Name, req.Password); err != nil {
		return toGraph(err)
	}
	secret, s, err := a.SignIn(c.UserContext(), req.Name, req.Password, c.IP())
	if err != nil {
		return toGraph(err)
	}
	a.setCookie(c, secret, s.ExpiresAt)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(sessionView(s))
}

// InviteHandler answers POST /admin/v1/console/invites {"role","business_id"}
// with a one-time link (shown once). actor names the caller.
func (a *Accounts) InviteHandler(actor func(*fiber.Ctx) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req struct {
			Role       string `json:"role"`
			BusinessID string `json:"business_id"`
		}
		if len(bytes.TrimSpace(c.Body())) > 0 {
			if err := decode(c, &req); err != nil {
				return err
			}
		}
		l, err := a.Invite(c.UserContext(), req.Role, req.BusinessID, actor(c))
		if err != nil {
			return toGraph(err)
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(l)
	}
}

// UsersHandler answers GET /admin/v1/console/users.
func (a *Accounts) UsersHandler(c *fiber.Ctx) error {
	us, err := a.Users()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": us})
}

// SetUserHandler answers POST /admin/v1/console/users/:id {"disabled":bool}.
func (a *Accounts) SetUserHandler(c *fiber.Ctx) error {
	var req struct {
		Disabled *bool `json:"disabled"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Disabled == nil {
		return graph.ErrMissingParameter.With("disabled is required")
	}
	if err := a.SetDisabled(c.UserContext(), strings.Clone(c.Params("id")), *req.Disabled); err != nil {
		return toGraph(err)
	}
	return c.JSON(fiber.Map{"success": true})
}
