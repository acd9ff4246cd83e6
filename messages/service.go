// Package messages is the use case of sending a message through the Cloud
// API (issue 12, item 7): it validates a parsed send request against the
// replicated state, seals what is private with the one sealing recipe
// (seal.SealMessage), proposes the accept command and maps the state
// machine's refusals to the platform's error codes. The HTTP handler only
// resolves the caller and the wire format (DESIGN.md).
package messages

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// Cluster replicates commands and exposes the local replica.
type Cluster interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Sealer seals content under a retention class's data key and names
// consumers by their keyed reference (package seal).
type Sealer interface {
	seal.SealingKeys
	ConsumerRef(phoneNumberID, waID string) string
}

// Identities reports the hash of the identity key the business last saw
// for a consumer of a phone number (package connector).
type Identities interface {
	IdentityHash(phoneNumberID, waID string) (hash string, ok bool)
}

// Deps are the service's dependencies.
type Deps struct {
	Cluster Cluster
	Sealer  Sealer
	// Identities backs recipient_identity_key_hash; nil skips that check.
	Identities Identities
	Now        func() time.Time
	// MarketingCap is the default policy behind 131049 for businesses
	// without their own (MarketingCapKey); the zero value is off.
	MarketingCap MarketingCap
}

// Service sends messages and marks inbound messages read.
type Service struct {
	d    Deps
	keys *raftfsm.KeySource
}

// New returns a service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d, keys: raftfsm.NewKeySource()}
}

// Send is one send request of a business.
type Send struct {
	// Tenant is the sending phone number's tenant (already checked to be
	// the caller's).
	Tenant raftfsm.Tenant
	// Request is the parsed, wire-valid request (not a mark-read).
	Request *cloudapi.SendRequest
	// Media checks one media id the request refers to (the caller knows
	// whose media it may use); nil accepts every id.
	Media func(cloudapi.MediaRef) error
}

// Send validates, seals and replicates one outbound message and returns
// its wamid once a quorum has committed it. Refusals are *graph.Error
// values with the platform's codes; nothing is replicated for them.
func (s *Service) Send(ctx context.Context, in Send) (string, error) {
	t, req := in.Tenant, in.Request
	now := s.d.Now()
	phone, err := s.d.Cluster.FSM().Phone(t.PhoneNumberID)
	if err != nil {
		return "", err
	}
	if !phone.Registered {
		return "", cloudapi.ErrNotRegistered
	}
	var tplCategory string
	if req.Type == "template" {
		tpl, err := s.checkTemplate(t.WABAID, req)
		if err != nil {
			return "", err
		}
		tplCategory = raftfsm.PricingCategory(tpl.Category)
	}
	if in.Media != nil {
		for _, m := range req.MediaRefs() {
			if err := in.Media(m); err != nil {
				return "", err
			}
		}
	}
	waID := req.WAID()
	if waID == cloudapi.NormalizePhone(t.DisplayPhoneNumber) {
		return "", cloudapi.ErrRecipientIsSender
	}
	if h := req.RecipientIdentityKeyHash; h != "" && s.d.Identities != nil {
		// The consumer reinstalled since the business last checked: refuse,
		// as the Cloud API does, until the business has seen the change.
		if cur, ok := s.d.Identities.IdentityHash(t.PhoneNumberID, waID); ok && cur != h {
			return "", cloudapi.ErrIdentityKeyMismatch
		}
	}
	peerRef := s.d.Sealer.ConsumerRef(t.PhoneNumberID, waID)
	typ := req.MessageType() // the stored type: MessageContent().Type
	recipient := s.d.Cluster.FSM().RecipientParts(t.PhoneNumberID, peerRef, now.UnixMilli(),
		recipientParts(phone, req.Type, typ, tplCategory))
	refuse, fail := checkRecipient(phone, recipient, req.Type, tplCategory)
	if refuse != nil {
		return "", refuse
	}
	if fail == nil && req.Type == "template" && tplCategory == raftfsm.CategoryMarketing {
		if fail, err = s.overMarketingCap(t, waID, now); err != nil {
			return "", err
		}
	}
	content, err := cloudapi.EncodeContent(req)
	if err != nil {
		return "", err
	}
	var keyID [9]byte
	if _, err := rand.Read(keyID[:]); err != nil {
		return "", err
	}
	// The wamid carries the message key, so the state machine finds the
	// message without a secondary index (raftfsm.WAMIDKeyID).
	key := s.Key()
	wamid := cloudapi.NewWAMIDWithKeyID(waID, true, raftfsm.WAMIDKeyID(key, keyID))
	// Sealed here, on the proposer, under the data key of the phone's
	// retention class: the Raft log, snapshots and backups only ever hold
	// ciphertext, unreadable once that key is destroyed after retention.
	// The wamid (which embeds the number) is stored only as a hash, the
	// consumer as a keyed reference.
	sm, err := seal.SealMessage(ctx, s.d.Sealer, phone.EffectiveRetention(), wamid, waID, content, req.BizOpaqueCallbackData)
	if err != nil {
		return "", err
	}
	var tplName, tplLang string
	if typ == "template" && req.Template != nil {
		tplName, tplLang = req.Template.Name, req.Template.Language.Code
	}
	acc := raftfsm.AcceptMessage{
		Key: key, IDRef: sm.IDRef, IDSealed: sm.ID, PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID,
		PeerRef: peerRef, PeerSealed: sm.Peer,
		Type: typ, Content: sm.Content, CallbackSealed: sm.Callback,
		RequireWindow: typ != "template", CreatedAt: now.UnixMilli(),
		TemplateName: tplName, TemplateLanguage: tplLang,
	}
	// The platform's throughput and pair-rate limits are enforced by the
	// state machine when the command applies (cluster-wide, raftfsm
	// ratelimit.go); a free-form send outside the 24-hour window is
	// accepted and fails by status webhook (closedWindowCommand), and so
	// do 131048, 131049 and 131050 (failedCommand).
	var cmd []byte
	if fail != nil {
		if cmd, err = s.failedCommand(ctx, t, acc, wamid, waID, req.BizOpaqueCallbackData, phone.EffectiveRetention(), fail); err != nil {
			return "", err
		}
	} else if acc.RequireWindow && !recipient.WindowOpen {
		if cmd, err = s.closedWindowCommand(ctx, t, acc, wamid, waID, req.BizOpaqueCallbackData, phone.EffectiveRetention()); err != nil {
			return "", err
		}
	} else {
		cmd = raftfsm.EncodeAcceptMessage(acc)
	}
	_, err = raftfsm.Outcome(s.d.Cluster.Propose(ctx, cmd))
	switch {
	case errors.Is(err, raftfsm.ErrPairRate):
		return "", cloudapi.ErrPairRateLimit
	case errors.Is(err, raftfsm.ErrThroughput):
		return "", cloudapi.ErrThroughput
	case errors.Is(err, raftfsm.ErrWindowClosed):
		return "", cloudapi.ErrReEngagement
	case errors.Is(err, raftfsm.ErrMessagingLimit):
		return "", cloudapi.ErrMessagingLimit
	case err != nil:
		return "", err
	}
	return wamid, nil
}

// MarkRead marks an inbound message of the phone number read (and shows a
// typing indicator when asked); the connector sends the read receipt.
func (s *Service) MarkRead(ctx context.Context, phoneNumberID string, req *cloudapi.SendRequest) error {
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdMarkRead, raftfsm.MarkRead{
		PhoneNumberID: phoneNumberID, IDRef: raftfsm.MessageIDRef(req.MessageID), At: s.d.Now().UnixMilli(),
		Typing: req.TypingIndicator != nil})
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(s.d.Cluster.Propose(ctx, cmd))
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrParameterValue.With("message_id is not a message received by this phone number")
	}
	return err
}

// checkTemplate refuses a template send whose template is missing, paused
// (132015), disabled (132016), not approved, or whose parameters do not
// match it.
func (s *Service) checkTemplate(wabaID string, req *cloudapi.SendRequest) (raftfsm.Template, error) {
	t, err := s.d.Cluster.FSM().TemplateByName(wabaID, req.Template.Name, req.Template.Language.Code)
	switch {
	case err == nil && t.Status == "PAUSED":
		return t, cloudapi.ErrTemplatePaused
	case err == nil && t.Status == "DISABLED":
		return t, cloudapi.ErrTemplateDisabled
	}
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && t.Status != "APPROVED") {
		return t, cloudapi.ErrTemplateMissing.Withf("template name (%s) does not exist in %s or is not approved", req.Template.Name, req.Template.Language.Code)
	}
	if err != nil {
		return t, err
	}
	want := cloudapi.PositionalParams(t.BodyParams, t.HeaderParams)
	if t.ParameterFormat == "NAMED" {
		want = cloudapi.TemplateParams{Named: true, Body: t.BodyParamNames, Header: t.HeaderParamNames}
	}
	return t, req.Template.MatchParams(want)
}

// Key returns a new message key (raftfsm.KeySource: unique across the
// nodes, in time order).
func (s *Service) Key() []byte { return s.keys.Key(s.d.Now()) }
