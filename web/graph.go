package web

import (
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/messages"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/tenant"
)

const localBusiness = "waedge.business"

// graphAPI serves the Graph-compatible Cloud API.
type graphAPI struct {
	d    Deps
	msgs *messages.Service
	body *bodies
}

// auth resolves the API access token to its business, from the headers
// alone; only an admitted request's body is read (bodies.read).
func (g *graphAPI) auth(c *fiber.Ctx) error {
	tok, err := tenant.Authenticate(g.d.Cluster.FSM(), bearer(c))
	if err != nil {
		return unknownToken(g.d)
	}
	if tok.Kind != raftfsm.TokenAPI || tok.BusinessID == "" {
		return graph.ErrPermission.With("an access token of a business is required")
	}
	c.Locals(localBusiness, tok.BusinessID)
	return g.body.read(c)
}

func businessOf(c *fiber.Ctx) string {
	b, _ := c.Locals(localBusiness).(string)
	return b
}

// getNode answers GET /{node-id}: phone numbers, WABAs (with analytics), templates and media. An id of another
// business answers exactly like a missing one (tenant isolation).
func (g *graphAPI) getNode(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("node"))
	if f := c.Query("fields"); strings.HasPrefix(f, "template_analytics?") {
		if w, werr := g.d.Cluster.FSM().WABA(id); werr == nil && w.BusinessID == businessOf(c) {
			return g.nestedTemplateAnalytics(c, w, strings.Clone(f))
		}
	}
	fields, err := fieldsOf(c)
	if err != nil {
		return err
	}
	t, err := g.d.Cluster.FSM().Tenant(id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		if w, werr := g.d.Cluster.FSM().WABA(id); werr == nil && w.BusinessID == businessOf(c) {
			return g.wabaView(c, w)
		}
		if tpl, terr := g.d.Cluster.FSM().TemplateByID(id); terr == nil && tpl.BusinessID == businessOf(c) {
			return c.JSON(templateView(tpl, fields))
		}
		if m, merr := g.ownMedia(c, id); merr == nil {
			return g.mediaView(c, m)
		} else if !errors.Is(merr, raftfsm.ErrNotFound) {
			return merr
		}
	}
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && t.BusinessID != businessOf(c)) {
		return graph.ErrObjectNotFound.Withf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	if err != nil {
		return err
	}
	p, err := g.d.Cluster.FSM().Phone(t.PhoneNumberID)
	if err != nil {
		return err
	}
	view := phoneView(p, fields)
	if err := g.verificationStatus(p.ID, view); err != nil {
		return err
	}
	if err := g.phoneExtras(p.ID, fields, view); err != nil {
		return err
	}
	if names := fields.Names(); slices.Contains(names, "name_status") || slices.Contains(names, "new_name_status") || slices.Contains(names, "new_display_name") {
		pn, ok := g.d.Cluster.FSM().PendingDisplayName(p.ID)
		review := fiber.Map{}
		nameReviewView(pn, ok, review)
		for k, v := range review {
			if slices.Contains(names, k) {
				view[k] = v
			}
		}
	}
	if names := fields.Names(); slices.Contains(names, "official_business_account") || slices.Contains(names, "is_official_business_account") {
		obaView(g.d.Cluster.FSM().OBA(p.ID), names, view)
	}
	if slices.Contains(fields.Names(), "webhook_configuration") {
		if view["webhook_configuration"], err = g.webhookConfiguration(t); err != nil {
			return err
		}
	}
	return c.JSON(view)
}
