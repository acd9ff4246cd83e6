package web

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// displayNameParam is new_display_name of POST /{phone-number-id}, from
// the query (Meta's example) or the body.
func displayNameParam(c *fiber.Ctx) (string, bool) {
	if v := c.Query("new_display_name"); v != "" {
		return string([]byte(v)), true
	}
	var req struct {
		NewDisplayName *string `json:"new_display_name"`
	}
	if json.Unmarshal(edgeBody(c), &req) == nil && req.NewDisplayName != nil {
		return *req.NewDisplayName, true
	}
	return "", false
}

// wabaEvent seals a WABA-level webhook body (default retention class) as
// an outbox event created at now.
func (g *graphAPI) wabaEvent(c *fiber.Ctx, wabaID string, body []byte, now time.Time) (*raftfsm.OutboxEvent, error) {
	sealed, err := g.d.Sealer.Seal(c.UserContext(), raftfsm.WebhookAAD(wabaID), body)
	if err != nil {
		return nil, err
	}
	return &raftfsm.OutboxEvent{Key: g.messageKey(), Body: sealed, CreatedAt: now.UnixMilli()}, nil
}

// changeDisplayName answers POST /{phone-number-id}?new_display_name=…:
// waedge reviews names at once and approves them, so verified_name
// changes and the phone_number_name_update webhook (decision APPROVED) is
// queued in the same command; at most raftfsm.MaxNameChanges in 30 days.
func (g *graphAPI) changeDisplayName(c *fiber.Ctx, name string) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	if err := cloudapi.CheckDisplayName(name); err != nil {
		return err
	}
	now := g.d.Now()
	body, err := cloudapi.PhoneNumberNameUpdate(t.WABAID, now.Unix(), t.DisplayPhoneNumber, "APPROVED", name)
	if err != nil {
		return err
	}
	ev, err := g.wabaEvent(c, t.WABAID, body, now)
	if err != nil {
		return err
	}
	err = g.propose(c, raftfsm.CmdUpdateProfile, raftfsm.UpdateProfile{PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID,
		VerifiedName: &name, At: now.UnixMilli(), Event: ev})
	if errors.Is(err, raftfsm.ErrRateLimited) {
		return graph.ErrInvalidParameter.Withf("the display name can change %d times in 30 days", raftfsm.MaxNameChanges)
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
