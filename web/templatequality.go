package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// setTemplateQuality answers POST /admin/v1/templates/:id/quality
// {"quality_score":"GREEN"|"YELLOW"|"RED"|"UNKNOWN"}: the operator plays
// Meta's rating of a template from its recipients' feedback. The change
// queues the message_template_quality_update webhook; an unchanged score
// is 131009.
func (a *adminAPI) setTemplateQuality(c *fiber.Ctx) error {
	var req struct {
		QualityScore string `json:"quality_score"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	score := strings.ToUpper(req.QualityScore)
	if !raftfsm.ValidTemplateQuality(score) {
		return graph.ErrParameterValue.With("quality_score must be GREEN, YELLOW, RED or UNKNOWN")
	}
	t, err := a.d.Cluster.FSM().TemplateByID(strings.Clone(c.Params("id")))
	if err != nil {
		return graph.ErrObjectNotFound.With("no template with this id")
	}
	prev := raftfsm.TemplateQualityOf(t)
	if prev == score {
		return graph.ErrParameterValue.Withf("the template's quality score is already %s", score)
	}
	now := a.d.Now()
	id, _ := strconv.ParseInt(t.ID, 10, 64)
	body, err := cloudapi.MarshalASCII(cloudapi.TemplateQualityNotification(t.WABAID, now.Unix(), cloudapi.TemplateQualityUpdate{
		PreviousQualityScore: prev, NewQualityScore: score, MessageTemplateID: id,
		MessageTemplateName: t.Name, MessageTemplateLanguage: t.Language}))
	if err != nil {
		return err
	}
	ev, err := a.wabaEvent(c, t.WABAID, body, now)
	if err != nil {
		return err
	}
	_, err = proposeValue(c, a.d.Cluster, raftfsm.CmdSetTemplateQuality, raftfsm.SetTemplateQuality{
		ID: t.ID, Previous: prev, Score: score, At: now.UnixMilli(), Event: ev})
	if errors.Is(err, raftfsm.ErrConflict) {
		return graph.ErrParameterValue.With("the template's quality score changed meanwhile")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "quality_score": score})
}

// setTemplateCategory answers POST /admin/v1/templates/:id/category
// {"category":"MARKETING"|"UTILITY"|"AUTHENTICATION"}: the operator plays
// Meta re-categorising a template. Later sends are priced (and reported
// in status webhooks) by the new category; the change queues the
// template_category_update webhook.
func (a *adminAPI) setTemplateCategory(c *fiber.Ctx) error {
	var req struct {
		Category string `json:"category"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cat := strings.ToUpper(req.Category)
	if cat != "MARKETING" && cat != "UTILITY" && cat != "AUTHENTICATION" {
		return graph.ErrParameterValue.With("category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	t, err := a.d.Cluster.FSM().TemplateByID(strings.Clone(c.Params("id")))
	if err != nil {
		return graph.ErrObjectNotFound.With("no template with this id")
	}
	if t.Category == cat {
		return graph.ErrParameterValue.Withf("the template's category is already %s", cat)
	}
	now := a.d.Now()
	id, _ := strconv.ParseInt(t.ID, 10, 64)
	body, err := cloudapi.MarshalASCII(cloudapi.TemplateCategoryNotification(t.WABAID, now.Unix(), cloudapi.TemplateCategoryUpdate{
		MessageTemplateID: id, MessageTemplateName: t.Name, MessageTemplateLanguage: t.Language,
		PreviousCategory: t.Category, NewCategory: cat}))
	if err != nil {
		return err
	}
	ev, err := a.wabaEvent(c, t.WABAID, body, now)
	if err != nil {
		return err
	}
	_, err = proposeValue(c, a.d.Cluster, raftfsm.CmdSetTemplateCategory, raftfsm.SetTemplateCategory{
		ID: t.ID, Previous: t.Category, Category: cat, At: now.UnixMilli(), Event: ev})
	if errors.Is(err, raftfsm.ErrConflict) {
		return graph.ErrParameterValue.With("the template's category changed meanwhile")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "category": cat})
}
