package web

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/tenant"
)

// roles is a set of admin API roles; each token kind has one role.
type roles uint8

const (
	// roleAdmin is the cluster administrator (the bootstrap admin.token):
	// everything on /admin/v1.
	roleAdmin roles = 1 << iota
	// roleOperator sees the cluster, businesses and the audit log; never
	// message content, media or consumer numbers.
	roleOperator
	// roleBusinessAdmin manages one business: its API tokens, webhooks,
	// templates and phone numbers.
	roleBusinessAdmin

	staff = roleAdmin | roleOperator
)

// roleOf maps a token kind to its admin role (0: none; API tokens only
// serve the Graph routes).
func roleOf(kind string) roles {
	switch kind {
	case raftfsm.TokenAdmin:
		return roleAdmin
	case raftfsm.TokenOperator:
		return roleOperator
	case raftfsm.TokenBusinessAdmin:
		return roleBusinessAdmin
	}
	return 0
}

// adminRoute is one /admin/v1 route with the roles allowed to call it.
type adminRoute struct {
	method string
	path   string // below /admin/v1
	roles  roles
	// action names the route in the audit log. Every route but GET writes
	// an audit record (New refuses a non-GET route without one).
	action string
	// targetKind names what the :id parameter is, for the audit record.
	targetKind string
	// scoped: the :id parameter is a business id, and a business admin may
	// only name their own business (another one answers like a missing one).
	scoped  bool
	handler fiber.Handler
}

// adminRoutes is the one table of admin routes and who may call them.
func (a *adminAPI) adminRoutes() []adminRoute {
	rs := []adminRoute{
		{method: "GET", path: "/cluster", roles: staff, handler: a.clusterStatus},
		{method: "POST", path: "/cluster/join-tokens", roles: roleAdmin, action: "cluster.join_token", handler: a.joinToken},
		{method: "DELETE", path: "/cluster/nodes/:id", roles: roleAdmin, action: "cluster.remove_node", targetKind: "node", handler: a.removeNode},
		{method: "POST", path: "/cluster/transfer-leadership", roles: roleAdmin, action: "cluster.transfer_leadership", handler: a.transferLeadership},
		{method: "POST", path: "/tenants", roles: roleAdmin, action: "tenant.create", handler: a.createTenant},
		{method: "GET", path: "/tenants", roles: staff, handler: a.listTenants},
		{method: "GET", path: "/businesses/:id", roles: staff | roleBusinessAdmin, scoped: true, handler: a.business},
		{method: "GET", path: "/businesses/:id/tokens", roles: roleAdmin | roleBusinessAdmin, scoped: true, handler: a.listTokens},
		{method: "POST", path: "/businesses/:id/tokens", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "token.create", targetKind: "business", handler: a.createToken(raftfsm.TokenAPI)},
		{method: "DELETE", path: "/businesses/:id/tokens/:token", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "token.revoke", targetKind: "business", handler: a.revokeToken},
		{method: "POST", path: "/businesses/:id/admin-tokens", roles: roleAdmin, scoped: true,
			action: "business_admin_token.create", targetKind: "business", handler: a.createToken(raftfsm.TokenBusinessAdmin)},
		{method: "GET", path: "/businesses/:id/webhooks", roles: roleAdmin | roleBusinessAdmin, scoped: true, handler: a.businessWebhooks},
		{method: "POST", path: "/businesses/:id/webhooks/test", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "webhook.test", targetKind: "business", handler: a.sendTestEvent},
		{method: "POST", path: "/businesses/:id/webhooks/retry", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "webhook.retry", targetKind: "business", handler: a.retryWebhooks},
		{method: "POST", path: "/businesses/:id/webhooks/redeliver", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "webhook.redeliver", targetKind: "business", handler: a.redeliverWebhooks},
		{method: "GET", path: "/businesses/:id/templates", roles: roleAdmin | roleBusinessAdmin, scoped: true, handler: a.businessTemplates},
		// Phone-number verification codes (the sandbox sends no SMS): a
		// credential of the business, so not for the operator.
		{method: "GET", path: "/businesses/:id/verification-codes", roles: roleAdmin | roleBusinessAdmin, scoped: true, handler: a.verificationCodes},
		{method: "GET", path: "/webhooks/outbox", roles: roleAdmin | roleBusinessAdmin, handler: a.outbox},
		{method: "GET", path: "/debug/fsm-digest", roles: roleAdmin, handler: a.fsmDigest},
		{method: "POST", path: "/templates/:id/status", roles: roleAdmin, action: "template.review", targetKind: "template", handler: a.setTemplateStatus},
		{method: "POST", path: "/wabas/:id/template-review", roles: roleAdmin, action: "waba.template_review", targetKind: "waba", handler: a.setTemplateReview},
		{method: "POST", path: "/phones/:id/limits", roles: roleAdmin, action: "phone.limits", targetKind: "phone", handler: a.setPhoneLimits},
		{method: "POST", path: "/phones/:id/retention", roles: roleAdmin, action: "phone.retention", targetKind: "phone", handler: a.setPhoneRetention},
		{method: "GET", path: "/audit", roles: staff, handler: a.auditLog},
		{method: "GET", path: "/backup", roles: roleAdmin, handler: a.backup},
		{method: "POST", path: "/phones/:id/tier", roles: roleAdmin, action: "phone.tier", targetKind: "phone", handler: a.setPhoneTier},
		{method: "POST", path: "/phones/:id/display-name", roles: roleAdmin, action: "phone.display_name_review", targetKind: "phone", handler: a.decideDisplayName},
		{method: "GET", path: "/businesses/:id/marketing-cap", roles: staff, handler: a.getMarketingCap},
		{method: "POST", path: "/businesses/:id/marketing-cap", roles: roleAdmin, action: "business.marketing_cap", targetKind: "business", handler: a.setMarketingCap},
		{method: "POST", path: "/phones/:id/oba", roles: roleAdmin, action: "phone.oba_review", targetKind: "phone", handler: a.decideOBA},
		{method: "POST", path: "/templates/:id/quality", roles: roleAdmin, action: "template.quality", targetKind: "template", handler: a.setTemplateQuality},
		{method: "POST", path: "/templates/:id/category", roles: roleAdmin, action: "template.category", targetKind: "template", handler: a.setTemplateCategory},
		{method: "GET", path: "/stats", roles: staff, handler: a.stats},
		{method: "GET", path: "/integrity", roles: staff, handler: a.integrity},
		{method: "GET", path: "/billing", roles: staff, handler: a.billing},
		{method: "GET", path: "/billing/rates", roles: staff, handler: a.getRates},
		{method: "PUT", path: "/billing/rates", roles: roleAdmin, action: "billing.rates", handler: a.putRates},
		// A consumer's data is the business's conversations: its own admin
		// may export or erase it; the operator may not.
		{method: "GET", path: "/businesses/:id/consumers/export", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			handler: a.consumerExport},
		{method: "GET", path: "/businesses/:id/conversations", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			handler: a.conversations},
		{method: "POST", path: "/businesses/:id/consumers/erase", roles: roleAdmin | roleBusinessAdmin, scoped: true,
			action: "consumer.erase", targetKind: "business", handler: a.consumerErase},
		// The sandbox network's simulated phones (test consumers; their
		// chats are what a phone shows): not for the operator.
		{method: "GET", path: "/sandbox/phones", roles: roleAdmin | roleBusinessAdmin, handler: a.sandboxProxy("")},
		{method: "POST", path: "/sandbox/phones", roles: roleAdmin | roleBusinessAdmin, action: "sandbox.phone_create", handler: a.sandboxProxy("")},
		{method: "POST", path: "/sandbox/phones/:id/send", roles: roleAdmin | roleBusinessAdmin, action: "sandbox.phone_send",
			handler: a.sandboxProxy("send")}, // no target: a phone's number is a (simulated) consumer's
		{method: "GET", path: "/sandbox/phones/:id/inbox", roles: roleAdmin | roleBusinessAdmin, handler: a.sandboxProxy("inbox")},
		{method: "GET", path: "/sandbox/phones/:id/sent", roles: roleAdmin | roleBusinessAdmin, handler: a.sandboxProxy("sent")},
		// The console's users: invitations (one-time links) and disabling.
		{method: "GET", path: "/cluster/events", roles: staff, handler: a.clusterEvents},
		{method: "GET", path: "/webhooks/events", roles: staff | roleBusinessAdmin, handler: a.webhookEvents},
		{method: "POST", path: "/console/invites", roles: roleAdmin, action: "console.invite", handler: a.d.Accounts.InviteHandler(actorID)},
		{method: "GET", path: "/console/users", roles: roleAdmin, handler: a.d.Accounts.UsersHandler},
		{method: "POST", path: "/console/users/:id", roles: roleAdmin, action: "console.user_update", targetKind: "console_user",
			handler: a.d.Accounts.SetUserHandler},
	}
	if a.d.DebugClock != nil {
		rs = append(rs, adminRoute{method: "POST", path: "/debug/clock", roles: roleAdmin, action: "debug.clock", handler: a.advanceClock})
	}
	return rs
}

// register adds the admin routes to g: authorization per route, and an
// audit record for every route that is not a GET. The request body is
// read only once the token and its role were admitted.
func (a *adminAPI) register(g fiber.Router) {
	for _, r := range a.adminRoutes() {
		handlers := []fiber.Handler{}
		if r.method != fiber.MethodGet {
			if r.action == "" {
				panic("web: admin route " + r.method + " " + r.path + " has no audit action")
			}
			handlers = append(handlers, a.audited(r))
		}
		handlers = append(handlers, a.allow(r), a.body.read, r.handler)
		g.Add(r.method, r.path, handlers...)
	}
}

// errNoBusiness is the answer for a business that does not exist — and for
// one that is not the business admin's own.
var errNoBusiness = graph.ErrObjectNotFound.With("no business with this id")

// actor is the authenticated admin token of the request.
func actor(c *fiber.Ctx) raftfsm.Token {
	tok, _ := c.Locals(localToken).(raftfsm.Token)
	return tok
}

// actorID is the id of the request's admin token or console user.
func actorID(c *fiber.Ctx) string { return actor(c).ID }

// allow admits the route's roles; a business admin only their own business.
func (a *adminAPI) allow(r adminRoute) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok := actor(c)
		role := roleOf(tok.Kind)
		if role&r.roles == 0 {
			if r.roles == roleAdmin {
				return graph.ErrPermission.With("an admin token is required")
			}
			return graph.ErrPermission.With("this token's role may not call this route")
		}
		if role == roleBusinessAdmin && r.scoped && c.Params("id") != tok.BusinessID {
			return errNoBusiness
		}
		return c.Next()
	}
}

const localAuditTargets = "waedge.audit.targets"

// auditTarget adds an id the handler created or touched to the request's
// audit record (only ids: never content or consumer numbers).
func auditTarget(c *fiber.Ctx, kind, id string) {
	ts, _ := c.Locals(localAuditTargets).([]raftfsm.AuditTarget)
	c.Locals(localAuditTargets, append(ts, raftfsm.AuditTarget{Kind: kind, ID: strings.Clone(id)}))
}

// auditTimeout bounds the audit proposal, which runs after the action on a
// context detached from the request's deadline.
const auditTimeout = 10 * time.Second

// audited runs the rest of the chain (authorization and the handler), then
// appends one audit record through Raft before the answer leaves: actor
// (token id and kind), action, target ids, outcome. A failed audit
// proposal does not turn a committed action into an error (a retry would
// repeat it); it is logged with the actor kind and action instead.
func (a *adminAPI) audited(r adminRoute) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			g, _ := toGraph(err)
			status = g.Status
		}
		outcome := "ok"
		switch {
		case status == fiber.StatusForbidden:
			outcome = "denied"
		case status >= 400:
			outcome = "failed"
		}
		var targets []raftfsm.AuditTarget
		if r.targetKind != "" {
			targets = append(targets, raftfsm.AuditTarget{Kind: r.targetKind, ID: strings.Clone(c.Params("id"))})
		}
		if id := c.Params("token"); id != "" {
			targets = append(targets, raftfsm.AuditTarget{Kind: "token", ID: strings.Clone(id)})
		}
		if ts, ok := c.Locals(localAuditTargets).([]raftfsm.AuditTarget); ok {
			targets = append(targets, ts...)
		}
		tok := actor(c)
		now := a.d.Now()
		key := make([]byte, raftfsm.AuditKeyLen)
		binary.BigEndian.PutUint64(key, uint64(now.UnixNano()))
		_, _ = rand.Read(key[8:])
		cmd, cerr := raftfsm.EncodeCommand(raftfsm.CmdAudit, raftfsm.AppendAudit{Key: key, Record: raftfsm.AuditRecord{
			At: now.UnixMilli(), ActorID: tok.ID, ActorKind: tok.Kind, ActorBusiness: tok.BusinessID,
			Action: r.action, Targets: targets, Outcome: outcome, Status: status}})
		if cerr == nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), auditTimeout)
			_, cerr = raftfsm.Outcome(a.d.Cluster.Propose(ctx, cmd))
			cancel()
		}
		if cerr != nil {
			a.d.Logger.Error("audit record not written", slog.String("action", r.action),
				slog.String("actor_kind", tok.Kind), slog.String("outcome", outcome), slog.String("error", cerr.Error()))
		}
		return err
	}
}

// auditLog answers GET /admin/v1/audit?limit=&after=: records in time
// order, limit 1…1000 (default 100), after = the previous page's cursor.
func (a *adminAPI) auditLog(c *fiber.Ctx) error {
	limit := 100
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return graph.ErrParameterValue.With("limit must be between 1 and 1000")
		}
		limit = n
	}
	var after []byte
	if s := c.Query("after"); s != "" {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != raftfsm.AuditKeyLen {
			return graph.ErrParameterValue.With("after must be a cursor returned by this API")
		}
		after = b
	}
	entries, err := a.d.Cluster.FSM().AuditLog(after, limit)
	if err != nil {
		return err
	}
	type target struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	type row struct {
		ID            string   `json:"id"`
		At            int64    `json:"at"`
		ActorID       string   `json:"actor_id"`
		ActorKind     string   `json:"actor_kind"`
		ActorBusiness string   `json:"actor_business_id,omitempty"`
		Action        string   `json:"action"`
		Targets       []target `json:"targets"`
		Outcome       string   `json:"outcome"`
		Status        int      `json:"status"`
	}
	out := make([]row, 0, len(entries))
	for _, e := range entries {
		r := e.Record
		ts := make([]target, 0, len(r.Targets))
		for _, t := range r.Targets {
			ts = append(ts, target{Kind: t.Kind, ID: t.ID})
		}
		out = append(out, row{ID: hex.EncodeToString(e.Key), At: r.At, ActorID: r.ActorID, ActorKind: r.ActorKind,
			ActorBusiness: r.ActorBusiness, Action: r.Action, Targets: ts, Outcome: r.Outcome, Status: r.Status})
	}
	resp := fiber.Map{"data": out}
	if len(out) == limit {
		resp["paging"] = fiber.Map{"cursors": fiber.Map{"after": out[len(out)-1].ID}}
	}
	return c.JSON(resp)
}

// business answers GET /admin/v1/businesses/:id: the business's name, its
// own phone numbers (never consumer numbers) and its WABAs with their
// template review policy.
func (a *adminAPI) business(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	fsm := a.d.Cluster.FSM()
	b, err := fsm.Business(id)
	if err != nil {
		return errNoBusiness
	}
	ts, err := fsm.TenantsByBusiness(id)
	if err != nil {
		return err
	}
	type phone struct {
		ID                 string `json:"id"`
		WABAID             string `json:"waba_id"`
		DisplayPhoneNumber string `json:"display_phone_number"`
		VerifiedName       string `json:"verified_name"`
		Registered         bool   `json:"registered"`
		RetentionHours     int    `json:"retention_hours"`
		OBAStatus          string `json:"oba_status"` // Official Business Account request (oba.go)
	}
	phones := make([]phone, 0, len(ts))
	for _, t := range ts {
		p, err := fsm.Phone(t.PhoneNumberID)
		if err != nil {
			return err
		}
		phones = append(phones, phone{ID: p.ID, WABAID: p.WABAID, DisplayPhoneNumber: p.DisplayPhoneNumber,
			VerifiedName: p.VerifiedName, Registered: p.Registered, RetentionHours: int(p.EffectiveRetention() / time.Hour),
			OBAStatus: fsm.OBA(p.ID).Status})
	}
	type waba struct {
		ID             string `json:"id"`
		TemplateReview string `json:"template_review"`
	}
	ids, err := a.businessWABAs(c)
	if err != nil {
		return err
	}
	wabas := make([]waba, 0, len(ids))
	for _, id := range ids {
		w, err := fsm.WABA(id)
		if err != nil {
			return err
		}
		if w.TemplateReview == "" {
			w.TemplateReview = raftfsm.ReviewApprove
		}
		wabas = append(wabas, waba{ID: w.ID, TemplateReview: w.TemplateReview})
	}
	return c.JSON(fiber.Map{"id": b.ID, "name": b.Name, "created_at": b.CreatedAt / 1000, "phone_numbers": phones, "wabas": wabas})
}

// listTokens answers GET /admin/v1/businesses/:id/tokens: ids, kinds and
// creation times (never a token or its hash).
func (a *adminAPI) listTokens(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(id); err != nil {
		return errNoBusiness
	}
	toks, err := a.d.Cluster.FSM().TokensOfBusiness(id)
	if err != nil {
		return err
	}
	type row struct {
		ID        string `json:"token_id"`
		Kind      string `json:"kind"`
		CreatedAt int64  `json:"created_at"`
	}
	out := make([]row, 0, len(toks))
	for _, t := range toks {
		out = append(out, row{ID: t.ID, Kind: t.Kind, CreatedAt: t.CreatedAt / 1000})
	}
	return c.JSON(fiber.Map{"data": out})
}

// createToken answers POST /admin/v1/businesses/:id/tokens (an API access
// token) and …/admin-tokens (a business admin token). The token is shown
// once; only its sha256 is stored.
func (a *adminAPI) createToken(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := strings.Clone(c.Params("id"))
		if _, err := a.d.Cluster.FSM().Business(id); err != nil {
			return errNoBusiness
		}
		issued, err := tenant.IssueToken(c.UserContext(), a.d.Cluster, id, kind, a.d.Now())
		if err != nil {
			if errors.Is(err, tenant.ErrNotFound) {
				return errNoBusiness
			}
			return err
		}
		auditTarget(c, "token", issued.TokenID)
		issued.CreatedAt /= 1000
		return c.JSON(issued)
	}
}

// revokeToken answers DELETE /admin/v1/businesses/:id/tokens/:token. A
// token of another business answers like a missing one.
func (a *adminAPI) revokeToken(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(id); err != nil {
		return errNoBusiness
	}
	err := tenant.RevokeToken(c.UserContext(), a.d.Cluster, id, strings.Clone(c.Params("token")))
	if errors.Is(err, tenant.ErrNotFound) {
		return graph.ErrObjectNotFound.With("no token with this id")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// businessWebhooks answers GET /admin/v1/businesses/:id/webhooks: the
// webhook subscription of each of the business's WABAs with the callback
// of every level (app, WABA override, phone-number overrides) and the one
// in effect (webhookLevels). The delivery log is /admin/v1/webhooks/outbox.
func (a *adminAPI) businessWebhooks(c *fiber.Ctx) error {
	fsm := a.d.Cluster.FSM()
	wabas, err := a.businessWABAs(c)
	if err != nil {
		return err
	}
	out := []webhookRow{}
	for _, waba := range wabas {
		s, err := fsm.Subscription(waba)
		if errors.Is(err, raftfsm.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		r, err := webhookLevels(fsm, s)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	return c.JSON(fiber.Map{"data": out})
}

// businessTemplates answers GET /admin/v1/businesses/:id/templates: the
// business's templates (its own definitions) with their review status.
func (a *adminAPI) businessTemplates(c *fiber.Ctx) error {
	wabas, err := a.businessWABAs(c)
	if err != nil {
		return err
	}
	out := []fiber.Map{}
	for _, waba := range wabas {
		tpls, err := a.d.Cluster.FSM().Templates(waba)
		if err != nil {
			return err
		}
		for _, tpl := range tpls {
			v := templateView(tpl, cloudapi.Fields{})
			v["waba_id"] = tpl.WABAID
			out = append(out, v)
		}
	}
	return c.JSON(fiber.Map{"data": out})
}

// businessWABAs returns the distinct WABA ids of the business named by the
// route's :id (errNoBusiness when there is none).
func (a *adminAPI) businessWABAs(c *fiber.Ctx) ([]string, error) {
	id := strings.Clone(c.Params("id"))
	fsm := a.d.Cluster.FSM()
	if _, err := fsm.Business(id); err != nil {
		return nil, errNoBusiness
	}
	ts, err := fsm.TenantsByBusiness(id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		if !slices.Contains(out, t.WABAID) {
			out = append(out, t.WABAID)
		}
	}
	return out, nil
}
