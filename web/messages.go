package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/messages"
	"github.com/waedge/waedge/raftfsm"
)

// messageKey returns a new 16-byte record key in time order (the messages
// service's keys, so keys of this process never repeat).
func (g *graphAPI) messageKey() []byte { return g.msgs.Key() }

// ownPhone resolves a phone-number id of the caller's business. A foreign
// id answers exactly like a missing one.
func (g *graphAPI) ownPhone(c *fiber.Ctx) (raftfsm.Tenant, error) {
	id := strings.Clone(c.Params("node"))
	t, err := g.d.Cluster.FSM().Tenant(id)
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && t.BusinessID != businessOf(c)) {
		return t, graph.ErrObjectNotFound.Withf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	return t, err
}

// sendMessage answers POST /{phone-number-id}/messages: the caller and the
// wire format here, the use case in package messages.
func (g *graphAPI) sendMessage(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	req, err := cloudapi.ParseSend(c.Body())
	if err != nil {
		return err
	}
	if req.IsMarkRead() {
		if err := g.msgs.MarkRead(c.UserContext(), t.PhoneNumberID, req); err != nil {
			return err
		}
		return c.JSON(fiber.Map{"success": true})
	}
	wamid, err := g.msgs.Send(c.UserContext(), messages.Send{Tenant: t, Request: req,
		Media: func(m cloudapi.MediaRef) error { return g.checkMediaID(c, m) }})
	if err != nil {
		return err
	}
	// Written by hand (the bytes c.JSON would write): this answer goes
	// out once per accepted message. It is appended to the bytes of the
	// response's pooled body buffer (taken out and put back with
	// SwapBody), so once that buffer has grown an answer costs no
	// allocation.
	resp := c.Response()
	resp.SwapBody(cloudapi.AppendSendResponse(resp.SwapBody(nil)[:0], req, wamid))
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}
