package web

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
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

// reviewDecision is an operator's decision on a phone number's pending
// review (display name, Official Business Account): the body
// {"decision":"APPROVED"|"REJECTED","reason":"…"} — decision upper-cased,
// reason at most 512 characters — and the number named by the :id path
// parameter.
func (a *adminAPI) reviewDecision(c *fiber.Ctx) (req decisionRequest, p raftfsm.Phone, err error) {
	if err = decodeJSON(c, &req); err != nil {
		return req, p, err
	}
	req.Decision = strings.ToUpper(req.Decision)
	if req.Decision != "APPROVED" && req.Decision != "REJECTED" {
		return req, p, graph.ErrParameterValue.With("decision must be APPROVED or REJECTED")
	}
	if len(req.Reason) > 512 {
		return req, p, graph.ErrParameterValue.With("reason is at most 512 characters")
	}
	if p, err = a.d.Cluster.FSM().Phone(strings.Clone(c.Params("id"))); err != nil {
		return req, p, graph.ErrObjectNotFound.With("no phone number with this id")
	}
	return req, p, nil
}

// decisionRequest is the body of a review decision.
type decisionRequest struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
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

// changeDisplayName answers POST /{phone-number-id}?new_display_name=…
// with {"success":true}: the name is submitted for review under the
// WABA's review policy — the policy templates use
// (POST /admin/v1/wabas/{id}/template-review): approve (the default)
// changes verified_name at once, manual leaves it PENDING_REVIEW until
// POST /admin/v1/phones/{id}/display-name decides, reject declines it.
// Each decision queues the phone_number_name_update webhook. At most
// raftfsm.MaxNameChanges requests in 30 days.
func (g *graphAPI) changeDisplayName(c *fiber.Ctx, name string) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	if err := cloudapi.CheckDisplayName(name); err != nil {
		return err
	}
	now := g.d.Now()
	var evs raftfsm.NameEvents
	for _, d := range []struct {
		decision string
		ev       **raftfsm.OutboxEvent
	}{{"APPROVED", &evs.Approved}, {"REJECTED", &evs.Declined}} {
		body, err := cloudapi.PhoneNumberNameDecision(t.WABAID, now.Unix(), t.DisplayPhoneNumber, d.decision, name, "")
		if err != nil {
			return err
		}
		if *d.ev, err = g.wabaEvent(c, t.WABAID, body, now); err != nil {
			return err
		}
	}
	_, err = proposeValue(c, g.d.Cluster, raftfsm.CmdRequestDisplayName, raftfsm.RequestDisplayName{PhoneNumberID: t.PhoneNumberID,
		BusinessID: t.BusinessID, Name: name, At: now.UnixMilli(), Events: evs})
	if errors.Is(err, raftfsm.ErrRateLimited) {
		return graph.ErrInvalidParameter.Withf("the display name can change %d times in 30 days", raftfsm.MaxNameChanges)
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// nameReviewView adds the display-name review fields of a phone number to
// its view: name_status (APPROVED, or PENDING_REVIEW while the first
// name awaits review), new_display_name and new_name_status (the last
// requested name: PENDING_REVIEW, APPROVED or DECLINED; NONE when no
// change was requested), as Meta's phone-number node shows them.
func nameReviewView(pn raftfsm.PendingName, ok bool, view fiber.Map) {
	view["name_status"] = raftfsm.NameApproved
	view["new_name_status"] = raftfsm.NameNone
	if !ok {
		return
	}
	view["new_display_name"] = pn.Name
	view["new_name_status"] = pn.Status
}

// decideDisplayName answers POST /admin/v1/phones/:id/display-name
// {"decision":"APPROVED"|"REJECTED","reason":"…"}: the review of the
// number's pending display name, with its phone_number_name_update
// webhook. No name pending review: 131009; an unknown number: not found.
func (a *adminAPI) decideDisplayName(c *fiber.Ctx) error {
	req, p, err := a.reviewDecision(c)
	if err != nil {
		return err
	}
	fsm := a.d.Cluster.FSM()
	pn, ok := fsm.PendingDisplayName(p.ID)
	if !ok || pn.Status != raftfsm.NamePendingReview {
		return graph.ErrParameterValue.With("the phone number has no display name pending review")
	}
	now := a.d.Now()
	reason := ""
	if req.Decision == "REJECTED" {
		reason = req.Reason
	}
	body, err := cloudapi.PhoneNumberNameDecision(p.WABAID, now.Unix(), p.DisplayPhoneNumber, req.Decision, pn.Name, reason)
	if err != nil {
		return err
	}
	ev, err := a.wabaEvent(c, p.WABAID, body, now)
	if err != nil {
		return err
	}
	_, err = proposeValue(c, a.d.Cluster, raftfsm.CmdDecideDisplayName, raftfsm.DecideDisplayName{PhoneNumberID: p.ID, Name: pn.Name,
		Approve: req.Decision == "APPROVED", Reason: reason, At: now.UnixMilli(), Event: ev})
	switch {
	case errors.Is(err, raftfsm.ErrNotFound), errors.Is(err, raftfsm.ErrConflict):
		return graph.ErrParameterValue.With("the pending display name changed or was decided meanwhile")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"success": true, "name": pn.Name, "decision": req.Decision})
}

// wabaEvent seals a WABA-level webhook body for an admin action; its
// outbox key is the time with random low bits, as the template review's.
func (a *adminAPI) wabaEvent(c *fiber.Ctx, wabaID string, body []byte, now time.Time) (*raftfsm.OutboxEvent, error) {
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(now.UnixNano()))
	if _, err := rand.Read(key[8:]); err != nil {
		return nil, err
	}
	sealed, err := a.d.Sealer.Seal(c.UserContext(), raftfsm.WebhookAAD(wabaID), body)
	if err != nil {
		return nil, err
	}
	return &raftfsm.OutboxEvent{Key: key[:], Body: sealed, CreatedAt: now.UnixMilli()}, nil
}
