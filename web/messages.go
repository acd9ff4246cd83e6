package web

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// messageKey returns a new message key: the time prefix keeps keys (nearly)
// monotonic across the cluster, so the messages bucket is appended in
// order; the sequence makes them unique within this process.
func (g *graphAPI) messageKey() []byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:8], uint64(g.d.Now().UnixNano()))
	binary.BigEndian.PutUint64(k[8:], g.seq.Add(1))
	return k[:]
}

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

// sendMessage answers POST /{phone-number-id}/messages.
func (g *graphAPI) sendMessage(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	req, err := cloudapi.ParseSend(c.Body())
	if err != nil {
		return err
	}
	now := g.d.Now()
	if req.IsMarkRead() {
		cmd, err := raftfsm.EncodeCommand(raftfsm.CmdMarkRead, raftfsm.MarkRead{
			PhoneNumberID: t.PhoneNumberID, IDRef: raftfsm.MessageIDRef(req.MessageID), At: now.UnixMilli(),
			Typing: req.TypingIndicator != nil})
		if err != nil {
			return err
		}
		_, err = raftfsm.Outcome(g.d.Cluster.Propose(c.UserContext(), cmd))
		if errors.Is(err, raftfsm.ErrNotFound) {
			return graph.ErrParameterValue.With("message_id is not a message received by this phone number")
		}
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"success": true})
	}
	phone, err := g.d.Cluster.FSM().Phone(t.PhoneNumberID)
	if err != nil {
		return err
	}
	if !phone.Registered {
		return cloudapi.ErrNotRegistered
	}
	if req.Type == "template" {
		if err := g.checkTemplate(t.WABAID, req); err != nil {
			return err
		}
	}
	for _, m := range req.MediaRefs() {
		if err := g.checkMediaID(c, m); err != nil {
			return err
		}
	}
	waID := req.WAID()
	if waID == cloudapi.NormalizePhone(t.DisplayPhoneNumber) {
		return cloudapi.ErrRecipientIsSender
	}
	if h := req.RecipientIdentityKeyHash; h != "" && g.d.Identities != nil {
		// The consumer reinstalled since the business last checked: refuse,
		// as the Cloud API does, until the business has seen the change.
		if cur, ok := g.d.Identities.IdentityHash(t.PhoneNumberID, waID); ok && cur != h {
			return cloudapi.ErrIdentityKeyMismatch
		}
	}
	content, err := cloudapi.EncodeContent(req)
	if err != nil {
		return err
	}
	var keyID [9]byte
	if _, err := rand.Read(keyID[:]); err != nil {
		return err
	}
	wamid := cloudapi.NewWAMID(waID, true, keyID)
	// Content, the consumer's number and the callback data are sealed here, on the proposer,
	// under the data key of the phone's retention class: the Raft log,
	// snapshots and backups only ever hold ciphertext, which becomes
	// unreadable when that key is destroyed after retention. The wamid
	// (which embeds the number) is stored only as a hash, the consumer as
	// a keyed reference.
	retention := phone.EffectiveRetention()
	sealed, err := g.d.Sealer.SealFor(c.UserContext(), retention, []byte(wamid), content)
	if err != nil {
		return err
	}
	peer, err := g.d.Sealer.SealFor(c.UserContext(), retention, raftfsm.PeerAAD(wamid), []byte(waID))
	if err != nil {
		return err
	}
	idRef := raftfsm.MessageIDRef(wamid)
	// The network connector needs the wamid (the envelope id, and the aad
	// of the content); it dies with the content.
	idSealed, err := g.d.Sealer.SealFor(c.UserContext(), retention, raftfsm.IDAAD(idRef), []byte(wamid))
	if err != nil {
		return err
	}
	var callback []byte
	if req.BizOpaqueCallbackData != "" {
		callback, err = g.d.Sealer.SealFor(c.UserContext(), retention, raftfsm.CallbackAAD(wamid), []byte(req.BizOpaqueCallbackData))
		if err != nil {
			return err
		}
	}
	typ := req.MessageContent().Type
	var tplName, tplLang string
	if typ == "template" && req.Template != nil {
		tplName, tplLang = req.Template.Name, req.Template.Language.Code
	}
	acc := raftfsm.AcceptMessage{
		Key: g.messageKey(), IDRef: idRef, IDSealed: idSealed, PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID,
		PeerRef: g.d.Sealer.ConsumerRef(t.PhoneNumberID, waID), PeerSealed: peer,
		Type: typ, Content: sealed, CallbackSealed: callback,
		RequireWindow: typ != "template", CreatedAt: now.UnixMilli(),
		TemplateName: tplName, TemplateLanguage: tplLang,
	}
	cmd := raftfsm.EncodeAcceptMessage(acc)
	if acc.RequireWindow && !g.d.Cluster.FSM().WindowOpen(acc.PhoneNumberID, acc.PeerRef, acc.CreatedAt) {
		if cmd, err = g.closedWindowCommand(c.UserContext(), t, acc, wamid, waID, req.BizOpaqueCallbackData, retention); err != nil {
			return err
		}
	}
	_, err = raftfsm.Outcome(g.d.Cluster.Propose(c.UserContext(), cmd))
	switch {
	case errors.Is(err, raftfsm.ErrPairRate):
		return cloudapi.ErrPairRateLimit
	case errors.Is(err, raftfsm.ErrThroughput):
		return cloudapi.ErrThroughput
	case errors.Is(err, raftfsm.ErrWindowClosed):
		return cloudapi.ErrReEngagement
	case errors.Is(err, raftfsm.ErrMessagingLimit):
		return cloudapi.ErrMessagingLimit
	case err != nil:
		return err
	}
	return c.JSON(cloudapi.NewSendResponse(req, wamid))
}
