package web

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// postNode answers POST /{node-id}: a template edit when the id is one of
// the business's templates, the template analytics confirmation of a WABA
// with is_enabled_for_insights, a display-name change with
// new_display_name, otherwise a phone number update (PIN).
func (g *graphAPI) postNode(c *fiber.Ctx) error {
	if t, err := g.d.Cluster.FSM().TemplateByID(c.Params("node")); err == nil && t.BusinessID == businessOf(c) {
		return g.editTemplate(c, t)
	}
	if c.Query("is_enabled_for_insights") != "" {
		if w, err := g.d.Cluster.FSM().WABA(c.Params("node")); err == nil && w.BusinessID == businessOf(c) {
			return g.enableInsights(c, w)
		}
	}
	if name, ok := displayNameParam(c); ok {
		return g.changeDisplayName(c, name)
	}
	return g.updatePhone(c)
}

// editTemplate answers POST /{template-id} (Meta's template edit): a new
// category, components or time-to-live, validated like a new definition
// and reviewed again under the WABA's policy. The state machine enforces
// which statuses may be edited and Meta's limits for approved templates.
func (g *graphAPI) editTemplate(c *fiber.Ctx, t raftfsm.Template) error {
	current := cloudapi.CreateTemplateRequest{Name: t.Name, Language: t.Language, Category: t.Category,
		ParameterFormat: t.ParameterFormat, MessageSendTTLSeconds: t.MessageSendTTLSeconds}
	if err := json.Unmarshal(t.Components, &current.Components); err != nil {
		return err
	}
	req, params, err := cloudapi.ParseEditTemplate(c.Body(), current)
	if err != nil {
		return err
	}
	if err := g.checkHeaderHandles(req.Components, t.BusinessID); err != nil {
		return err
	}
	comps, err := json.Marshal(req.Components)
	if err != nil {
		return err
	}
	now := g.d.Now().UnixMilli()
	edit := raftfsm.EditTemplate{ID: t.ID, BusinessID: t.BusinessID, Category: req.Category, Components: comps,
		BodyParams: len(params.Body), HeaderParams: len(params.Header), ParameterFormat: "POSITIONAL",
		TTLSeconds: req.MessageSendTTLSeconds, At: now}
	if params.Named {
		edit.ParameterFormat, edit.BodyParamNames, edit.HeaderParamNames = "NAMED", params.Body, params.Header
	}
	t.Category = req.Category
	key := g.messageKey()
	if edit.Approved, err = statusEvent(c.UserContext(), g.d.Sealer, key, t, "APPROVED", "", now); err != nil {
		return err
	}
	if edit.Rejected, err = statusEvent(c.UserContext(), g.d.Sealer, key, t, "REJECTED", "", now); err != nil {
		return err
	}
	_, err = proposeValue(c, g.d.Cluster, raftfsm.CmdEditTemplate, edit)
	switch {
	case errors.Is(err, raftfsm.ErrRateLimited):
		return graph.ErrInvalidParameter.With("an approved template can be edited once in 24 hours and 10 times in 30 days")
	case errors.Is(err, raftfsm.ErrInvalid):
		return graph.ErrInvalidParameter.With(strings.TrimPrefix(err.Error(), raftfsm.ErrInvalid.Error()+": "))
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrObjectNotFound.With("no template with this id")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
