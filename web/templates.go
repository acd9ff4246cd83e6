package web

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// templateView is a template as Graph shows it: every field, or those
// selected.
func templateView(t raftfsm.Template, f cloudapi.Fields) fiber.Map {
	format := t.ParameterFormat
	if format == "" {
		format = "POSITIONAL"
	}
	m := fiber.Map{"id": t.ID, "name": t.Name, "language": t.Language, "status": t.Status, "category": t.Category,
		"parameter_format": format}
	var comps json.RawMessage
	if json.Unmarshal(t.Components, &comps) == nil {
		m["components"] = comps
	}
	if t.Reason != "" {
		m["rejected_reason"] = t.Reason
	}
	if t.MessageSendTTLSeconds != 0 {
		m["message_send_ttl_seconds"] = t.MessageSendTTLSeconds
	}
	if f.Empty() {
		return m
	}
	if t.Reason == "" {
		m["rejected_reason"] = "NONE" // asked for: Meta answers NONE
	}
	// quality_score only when asked for, in Meta's shape
	// ({"score":"GREEN|YELLOW|RED|UNKNOWN"}).
	m["quality_score"] = fiber.Map{"score": raftfsm.TemplateQualityOf(t)}
	return pick(m, f)
}

// statusEvent builds the message_template_status_update webhook, its body
// sealed (WABA-level event: the default retention class).
func statusEvent(ctx context.Context, s Sealer, key []byte, t raftfsm.Template, status, reason string, at int64) (*raftfsm.OutboxEvent, error) {
	id, _ := strconv.ParseInt(t.ID, 10, 64)
	value := map[string]any{"event": status, "message_template_id": id, "message_template_name": t.Name,
		"message_template_language": t.Language, "reason": reason, "message_template_category": t.Category}
	if reason == "" {
		value["reason"] = "NONE"
	}
	body, err := cloudapi.MarshalASCII(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": t.WABAID, "time": at / 1000, "changes": []any{map[string]any{"field": "message_template_status_update", "value": value}}}}})
	if err != nil {
		return nil, err
	}
	sealed, err := s.Seal(ctx, raftfsm.WebhookAAD(t.WABAID), body)
	if err != nil {
		return nil, err
	}
	return &raftfsm.OutboxEvent{Key: key, Body: sealed, CreatedAt: at}, nil
}

// createTemplate answers POST /{waba-id}/message_templates. A template
// that passes validation gets the WABA's review policy (approve by
// default; manual leaves it PENDING; reject), applied by the state machine
// in the same command that stores it.
func (g *graphAPI) createTemplate(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	req, params, err := cloudapi.ParseCreateTemplate(c.Body())
	if err != nil {
		return err
	}
	if err := g.checkHeaderHandles(req.Components, w.BusinessID); err != nil {
		return err
	}
	comps, err := json.Marshal(req.Components)
	if err != nil {
		return err
	}
	id, err := graph.NewID()
	if err != nil {
		return err
	}
	now := g.d.Now().UnixMilli()
	t := raftfsm.Template{ID: id, WABAID: w.ID, BusinessID: w.BusinessID, Name: req.Name, Language: req.Language,
		Category: req.Category, Components: comps, BodyParams: len(params.Body), HeaderParams: len(params.Header),
		ParameterFormat: "POSITIONAL", MessageSendTTLSeconds: req.MessageSendTTLSeconds, CreatedAt: now}
	if params.Named {
		t.ParameterFormat, t.BodyParamNames, t.HeaderParamNames = "NAMED", params.Body, params.Header
	}
	// One outbox key for both events: Apply queues at most one.
	key := g.messageKey()
	approved, err := statusEvent(c.UserContext(), g.d.Sealer, key, t, "APPROVED", "", now)
	if err != nil {
		return err
	}
	rejected, err := statusEvent(c.UserContext(), g.d.Sealer, key, t, "REJECTED", "", now)
	if err != nil {
		return err
	}
	status, err := proposeValue(c, g.d.Cluster, raftfsm.CmdSubmitTemplate, raftfsm.SubmitTemplate{Template: t, Approved: approved, Rejected: rejected})
	if errors.Is(err, raftfsm.ErrConflict) {
		return graph.ErrInvalidParameter.Withf("a template named %s already exists in language %s", req.Name, req.Language)
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "status": string(status), "category": req.Category})
}

// propose encodes, replicates and unwraps a domain error.
func (g *graphAPI) propose(c *fiber.Ctx, typ raftfsm.CommandType, payload any) error {
	_, err := proposeValue(c, g.d.Cluster, typ, payload)
	return err
}

// proposeValue encodes a command, replicates it and returns its result's
// value, or its domain error.
func proposeValue(c *fiber.Ctx, cl cluster.Cluster, typ raftfsm.CommandType, payload any) ([]byte, error) {
	cmd, err := raftfsm.EncodeCommand(typ, payload)
	if err != nil {
		return nil, err
	}
	return raftfsm.Outcome(cl.Propose(c.UserContext(), cmd))
}

// listTemplates answers GET /{waba-id}/message_templates: filters name
// (substring), status, language and category; cursor paging in
// name/language order; fields= selects.
func (g *graphAPI) listTemplates(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	fields, err := fieldsOf(c)
	if err != nil {
		return err
	}
	ts, err := g.d.Cluster.FSM().Templates(w.ID) // in name/language order
	if err != nil {
		return err
	}
	name, status, lang, cat := c.Query("name"), strings.ToUpper(c.Query("status")), c.Query("language"), strings.ToUpper(c.Query("category"))
	var matched []raftfsm.Template
	for _, t := range ts {
		if (name == "" || strings.Contains(t.Name, name)) && (status == "" || t.Status == status) &&
			(lang == "" || t.Language == lang) && (cat == "" || t.Category == cat) {
			matched = append(matched, t)
		}
	}
	page, err := pageOf(c, g.d.PublicURL, matched, func(t raftfsm.Template) string { return t.Name + "\x00" + t.Language },
		func(t raftfsm.Template) fiber.Map { return templateView(t, fields) })
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// deleteTemplates answers DELETE /{waba-id}/message_templates?name=…[&hsm_id=…].
func (g *graphAPI) deleteTemplates(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	name := strings.Clone(c.Query("name"))
	if name == "" {
		return graph.ErrMissingParameter.With("name is required")
	}
	err = g.propose(c, raftfsm.CmdDeleteTemplates, raftfsm.DeleteTemplates{
		WABAID: w.ID, BusinessID: w.BusinessID, Name: name, ID: strings.Clone(c.Query("hsm_id"))})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrParameterValue.With("no template with this name")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// setTemplateReview answers POST /admin/v1/wabas/:id/template-review
// {"policy":"approve"|"manual"|"reject"}: what happens to the WABA's new
// templates once they pass validation. Templates already created keep
// their status.
func (a *adminAPI) setTemplateReview(c *fiber.Ctx) error {
	var req struct {
		Policy string `json:"policy"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.Policy == "":
		return graph.ErrMissingParameter.With("policy is required")
	case !raftfsm.ValidReview(req.Policy):
		return graph.ErrParameterValue.With("policy must be approve, manual or reject")
	}
	_, err := proposeValue(c, a.d.Cluster, raftfsm.CmdSetTemplateReview, raftfsm.SetTemplateReview{
		WABAID: strings.Clone(c.Params("id")), Policy: req.Policy})
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrObjectNotFound.With("no WABA with this id")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "template_review": req.Policy})
}

// setTemplateStatus answers POST /admin/v1/templates/:id/status.
func (a *adminAPI) setTemplateStatus(c *fiber.Ctx) error {
	var req struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Status = strings.ToUpper(req.Status)
	if req.Status != "APPROVED" && req.Status != "REJECTED" && req.Status != "PAUSED" && req.Status != "DISABLED" {
		return graph.ErrParameterValue.With("status must be APPROVED, REJECTED, PAUSED or DISABLED")
	}
	t, err := a.d.Cluster.FSM().TemplateByID(strings.Clone(c.Params("id")))
	if err != nil {
		return graph.ErrObjectNotFound.With("no template with this id")
	}
	now := a.d.Now().UnixMilli()
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(a.d.Now().UnixNano()))
	_, _ = rand.Read(key[8:])
	ev, err := statusEvent(c.UserContext(), a.d.Sealer, key[:], t, req.Status, req.Reason, now)
	if err != nil {
		return err
	}
	if _, err := proposeValue(c, a.d.Cluster, raftfsm.CmdSetTemplateStatus, raftfsm.SetTemplateStatus{
		ID: t.ID, Status: req.Status, Reason: req.Reason, At: now, Event: ev}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
