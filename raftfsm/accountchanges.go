package raftfsm

import (
	"encoding/json"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Consumer preferences, display-name review and template quality and
// category changes (issue 14, items 6 and 7). Every handler checks all
// its preconditions before its first write (invariant 9); webhook bodies
// are sealed by the proposer and queued by the same command.

// marketingStopPrefix names a consumer's "stop marketing messages"
// preference among a phone number's settings: + the consumer's keyed
// reference. The value is the time of the stop (unix ms, 8 bytes).
const marketingStopPrefix = "mkt-stop/"

// SetUserPreference is the payload of CmdSetUserPreference: the consumer
// PeerRef stopped (Stop) or resumed marketing messages from the number.
// Event is the user_preferences webhook.
type SetUserPreference struct {
	PhoneNumberID string
	PeerRef       string
	Stop          bool
	At            int64
	Event         *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applySetUserPreference(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetUserPreference
	decode(payload, &c)
	if c.PeerRef == "" || c.At <= 0 {
		return nil, domainErr(ErrInvalid, "consumer and time")
	}
	p, err := storedPhone(tx, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	key := phoneSettingKey(c.PhoneNumberID, marketingStopPrefix+c.PeerRef)
	if c.Stop {
		mustPut(tx, bucketPhoneSettings, key, be64(c.At))
	} else if tx.Bucket(bucketPhoneSettings).Get(key) != nil {
		mustDelete(tx, bucketPhoneSettings, key)
	}
	if c.Event != nil {
		e := *c.Event
		e.PhoneNumberID = p.ID
		enqueue(tx, p.WABAID, p.BusinessID, &e)
	}
	return nil, nil
}

// MarketingStopped reports whether the consumer ref stopped marketing
// messages from the number phoneID, as this replica sees it.
func (f *FSM) MarketingStopped(phoneID, ref string) bool {
	return f.Recipient(phoneID, ref, 0).MarketingStopped
}

// Display-name statuses, Meta's name_status / new_name_status values
// (https://developers.facebook.com/docs/whatsapp/cloud-api/phone-numbers/display-names).
const (
	NameApproved      = "APPROVED"
	NamePendingReview = "PENDING_REVIEW"
	NameDeclined      = "DECLINED"
	NameNone          = "NONE"
)

// pendingNameSetting is the phone setting holding the last requested
// display name and its review status (JSON, PendingName).
const pendingNameSetting = "display-name/new"

// PendingName is a requested display name and where its review stands.
type PendingName struct {
	Name        string `json:"name"`
	Status      string `json:"status"`
	RequestedAt int64  `json:"requested_at"`
	Reason      string `json:"reason,omitempty"`
}

// NameEvents are the phone_number_name_update webhooks of a decision,
// sealed by the proposer: Apply queues the one that applies.
type NameEvents struct {
	Approved, Declined *OutboxEvent
}

// RequestDisplayName is the payload of CmdRequestDisplayName. Apply
// judges the request by the WABA's review policy (the one templates
// use): approve at once, leave it PENDING_REVIEW, or decline at once.
// At most MaxNameChanges requests in 30 days.
type RequestDisplayName struct {
	PhoneNumberID string
	BusinessID    string
	Name          string
	At            int64
	Events        NameEvents
}

// DecideDisplayName is the payload of CmdDecideDisplayName: the review
// decision on a number's pending name (admin API). Event is the
// phone_number_name_update webhook.
type DecideDisplayName struct {
	PhoneNumberID string
	Name          string // the pending name decided on (ErrConflict if it changed)
	Approve       bool
	Reason        string
	At            int64
	Event         *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applyRequestDisplayName(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RequestDisplayName
	decode(payload, &c)
	if c.Name == "" || c.At <= 0 {
		return nil, domainErr(ErrInvalid, "display name")
	}
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	p.NameChanges = slices.DeleteFunc(p.NameChanges, func(at int64) bool { return c.At-at >= nameChangeWindow })
	if len(p.NameChanges) >= MaxNameChanges {
		return nil, domainErr(ErrRateLimited, "%d display-name changes in 30 days", MaxNameChanges)
	}
	var w WABA
	if v := tx.Bucket(bucketWABAs).Get([]byte(p.WABAID)); v != nil {
		decode(v, &w)
	}
	p.NameChanges = append(p.NameChanges, c.At)
	pn := PendingName{Name: c.Name, Status: NamePendingReview, RequestedAt: c.At}
	var ev *OutboxEvent
	switch w.TemplateReview {
	case ReviewManual:
	case ReviewReject:
		pn.Status, ev = NameDeclined, c.Events.Declined
	default:
		pn.Status, ev = NameApproved, c.Events.Approved
		p.VerifiedName = c.Name
	}
	mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
	putPendingName(tx, p.ID, pn)
	if ev != nil {
		enqueue(tx, p.WABAID, p.BusinessID, ev)
	}
	return []byte(pn.Status), nil
}

func (f *FSM) applyDecideDisplayName(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c DecideDisplayName
	decode(payload, &c)
	p, err := storedPhone(tx, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	pn, ok := pendingName(tx, p.ID)
	if !ok || pn.Status != NamePendingReview {
		return nil, domainErr(ErrNotFound, "pending display name")
	}
	if pn.Name != c.Name {
		return nil, domainErr(ErrConflict, "the pending display name changed")
	}
	if c.Approve {
		pn.Status, pn.Reason = NameApproved, ""
		p.VerifiedName = pn.Name
		mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
	} else {
		pn.Status, pn.Reason = NameDeclined, c.Reason
	}
	putPendingName(tx, p.ID, pn)
	if c.Event != nil {
		enqueue(tx, p.WABAID, p.BusinessID, c.Event)
	}
	return nil, nil
}

func putPendingName(tx *bolt.Tx, phoneID string, pn PendingName) {
	b, _ := json.Marshal(pn) // a struct of strings and an int: cannot fail
	mustPut(tx, bucketPhoneSettings, phoneSettingKey(phoneID, pendingNameSetting), b)
}

func pendingName(tx *bolt.Tx, phoneID string) (PendingName, bool) {
	var pn PendingName
	v := tx.Bucket(bucketPhoneSettings).Get(phoneSettingKey(phoneID, pendingNameSetting))
	if v == nil || json.Unmarshal(v, &pn) != nil {
		return pn, false
	}
	return pn, true
}

// PendingDisplayName returns the number's last requested display name and
// its review status (false if none was ever requested).
func (f *FSM) PendingDisplayName(phoneID string) (PendingName, bool) {
	var pn PendingName
	var ok bool
	_ = f.View(func(tx *bolt.Tx) error {
		pn, ok = pendingName(tx, phoneID)
		return nil
	})
	return pn, ok
}

// Template quality scores (message_template_quality_update).
const (
	TemplateQualityGreen   = "GREEN"
	TemplateQualityYellow  = "YELLOW"
	TemplateQualityRed     = "RED"
	TemplateQualityUnknown = "UNKNOWN"
)

// ValidTemplateQuality reports whether q is a quality score an admin may set.
func ValidTemplateQuality(q string) bool {
	return q == TemplateQualityGreen || q == TemplateQualityYellow || q == TemplateQualityRed || q == TemplateQualityUnknown
}

// TemplateQualityOf is a template's quality score (UNKNOWN until rated).
func TemplateQualityOf(t Template) string {
	if t.QualityScore == "" {
		return TemplateQualityUnknown
	}
	return t.QualityScore
}

// SetTemplateQuality is the payload of CmdSetTemplateQuality. Previous is
// the score the proposer saw (its webhook reports it): ErrConflict if the
// template's score changed meanwhile; an unchanged score is ErrInvalid.
type SetTemplateQuality struct {
	ID       string
	Previous string
	Score    string
	At       int64
	Event    *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applySetTemplateQuality(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetTemplateQuality
	decode(payload, &c)
	if !ValidTemplateQuality(c.Score) {
		return nil, domainErr(ErrInvalid, "quality score %q", c.Score)
	}
	_, err := changeTemplate(tx, c.ID, "quality score", TemplateQualityOf, c.Previous, c.Score, c.At, c.Event,
		func(t *Template) {
			t.QualityScore = c.Score
			if c.Score == TemplateQualityUnknown {
				t.QualityScore = ""
			}
		})
	return nil, err
}

// changeTemplate moves one property of template id from previous (the
// value the proposer saw, read by current) to next, stamps it at and queues
// its webhook: ErrConflict if the property moved meanwhile, ErrInvalid if
// it already is next. It returns the template's record key.
func changeTemplate(tx *bolt.Tx, id, what string, current func(Template) string, previous, next string,
	at int64, event *OutboxEvent, set func(*Template)) ([]byte, error) {
	key, t, err := templateTx(tx, id)
	if err != nil {
		return nil, err
	}
	if current(t) != previous {
		return nil, domainErr(ErrConflict, "the template's %s changed", what)
	}
	if next == previous {
		return nil, domainErr(ErrInvalid, "the template's %s is already %s", what, next)
	}
	set(&t)
	t.UpdatedAt = at
	mustPut(tx, bucketTemplates, key, marshal(t))
	if event != nil {
		enqueue(tx, t.WABAID, t.BusinessID, event)
	}
	return key, nil
}

// SetTemplateCategory is the payload of CmdSetTemplateCategory: Meta
// re-categorised the template (Previous → Category, upper case). The
// pricing category of later sends follows.
type SetTemplateCategory struct {
	ID       string
	Previous string
	Category string
	At       int64
	Event    *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applySetTemplateCategory(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetTemplateCategory
	decode(payload, &c)
	switch c.Category {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
	default:
		return nil, domainErr(ErrInvalid, "category %q", c.Category)
	}
	_, err := changeTemplate(tx, c.ID, "category", func(t Template) string { return t.Category }, c.Previous, c.Category, c.At, c.Event,
		func(t *Template) { t.Category = c.Category })
	if err == nil && f.batch != nil {
		f.batch.cats = nil // the batch's pricing categories may name this template
	}
	return nil, err
}

// ChangeMessagingTier is the payload of CmdChangeMessagingTier: an
// operator moves a number's messaging-limit tier from Previous to Tier
// (""restores DefaultTier) and the change is reported by Events
// (business_capability_update and phone_number_quality_update UPGRADE or
// DOWNGRADE, built by the proposer). ErrConflict when the tier is no
// longer Previous; an unchanged tier queues nothing.
type ChangeMessagingTier struct {
	PhoneNumberID string
	Previous      string
	Tier          string
	Events        []*OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applyChangeMessagingTier(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ChangeMessagingTier
	decode(payload, &c)
	if _, ok := TierLimit(c.Tier); !ok && c.Tier != "" {
		return nil, domainErr(ErrInvalid, "tier %q", c.Tier)
	}
	p, err := storedPhone(tx, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	if TierOf(p) != c.Previous {
		return nil, domainErr(ErrConflict, "the number's tier changed")
	}
	next := p
	next.MessagingLimitTier = c.Tier
	if TierOf(next) == c.Previous {
		if p.MessagingLimitTier != c.Tier {
			mustPut(tx, bucketPhones, []byte(p.ID), marshal(next))
		}
		return nil, nil
	}
	mustPut(tx, bucketPhones, []byte(p.ID), marshal(next))
	for _, ev := range c.Events {
		if ev != nil {
			e := *ev
			e.PhoneNumberID = p.ID
			enqueue(tx, p.WABAID, p.BusinessID, &e)
		}
	}
	return nil, nil
}
