package raftfsm

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// Official Business Account requests (issue 14): a business asks for the
// green badge on a number (POST /{phone-number-id}/official_business_account,
// https://developers.facebook.com/docs/whatsapp/official-business-accounts/),
// Meta reviews it, and the decision arrives as the account_alerts webhook
// OBA_APPROVED or OBA_REJECTED. waedge has no Meta review: an operator
// decides (admin API) and the same command queues the webhook. The state
// is one phone setting (JSON, OBAState).

const (
	// CmdRequestOBA records a number's Official Business Account request.
	CmdRequestOBA CommandType = 150
	// CmdDecideOBA decides a pending request and queues its account_alerts
	// webhook.
	CmdDecideOBA CommandType = 151
)

// Official Business Account statuses, as Meta's oba_status names them.
const (
	OBANotStarted = "NOT_STARTED"
	OBAPending    = "PENDING"
	OBAApproved   = "APPROVED"
	OBARejected   = "REJECTED"
)

// OBAResubmitMillis is how long after a rejection a new request is
// refused: Meta's 30 days.
const OBAResubmitMillis = 30 * 24 * 60 * 60 * 1000

// obaSetting is the phone setting holding OBAState.
const obaSetting = "oba"

// OBARequest is what the business submitted: public business
// information, Meta's request parameters.
type OBARequest struct {
	BusinessWebsiteURL              string   `json:"business_website_url"`
	PrimaryCountryOfOperation       string   `json:"primary_country_of_operation"`
	PrimaryLanguage                 string   `json:"primary_language"`
	ParentBusinessOrBrand           string   `json:"parent_business_or_brand,omitempty"`
	SupportingLinks                 []string `json:"supporting_links,omitempty"`
	AdditionalSupportingInformation string   `json:"additional_supporting_information,omitempty"`
}

// OBAState is where a number's Official Business Account request stands.
type OBAState struct {
	Status      string     `json:"status"`
	Request     OBARequest `json:"request"`
	RequestedAt int64      `json:"requested_at"`
	DecidedAt   int64      `json:"decided_at,omitempty"`
}

// RequestOBA is the payload of CmdRequestOBA. ErrConflict while a request
// is pending or the number is already official; ErrRateLimited within
// OBAResubmitMillis of a rejection.
type RequestOBA struct {
	PhoneNumberID string
	BusinessID    string
	Request       OBARequest
	At            int64
}

// DecideOBA is the payload of CmdDecideOBA: the operator's decision on
// the number's pending request; Event is the account_alerts webhook.
// ErrNotFound when no request is pending.
type DecideOBA struct {
	PhoneNumberID string
	Approve       bool
	At            int64
	Event         *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applyRequestOBA(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RequestOBA
	decode(payload, &c)
	if c.At <= 0 {
		return nil, domainErr(ErrInvalid, "time")
	}
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	st, _ := obaState(tx, p.ID)
	switch st.Status {
	case OBAPending:
		return nil, domainErr(ErrConflict, "an Official Business Account request is pending")
	case OBAApproved:
		return nil, domainErr(ErrConflict, "the number is an Official Business Account")
	case OBARejected:
		if c.At-st.DecidedAt < OBAResubmitMillis {
			return nil, domainErr(ErrRateLimited, "a rejected request may be submitted again after 30 days")
		}
	}
	putOBAState(tx, p.ID, OBAState{Status: OBAPending, Request: c.Request, RequestedAt: c.At})
	return nil, nil
}

func (f *FSM) applyDecideOBA(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c DecideOBA
	decode(payload, &c)
	p, err := storedPhone(tx, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	st, ok := obaState(tx, p.ID)
	if !ok || st.Status != OBAPending {
		return nil, domainErr(ErrNotFound, "pending Official Business Account request")
	}
	st.Status, st.DecidedAt = OBARejected, c.At
	if c.Approve {
		st.Status = OBAApproved
	}
	putOBAState(tx, p.ID, st)
	if c.Event != nil {
		e := *c.Event
		e.PhoneNumberID = p.ID
		enqueue(tx, p.WABAID, p.BusinessID, &e)
	}
	return nil, nil
}

func putOBAState(tx *bolt.Tx, phoneID string, st OBAState) {
	b, _ := json.Marshal(st) // strings and ints: cannot fail
	mustPut(tx, bucketPhoneSettings, phoneSettingKey(phoneID, obaSetting), b)
}

func obaState(tx *bolt.Tx, phoneID string) (OBAState, bool) {
	st := OBAState{Status: OBANotStarted}
	v := tx.Bucket(bucketPhoneSettings).Get(phoneSettingKey(phoneID, obaSetting))
	if v == nil || json.Unmarshal(v, &st) != nil {
		return OBAState{Status: OBANotStarted}, false
	}
	return st, true
}

// OBA returns where the number's Official Business Account request
// stands (Status OBANotStarted when none was made).
func (f *FSM) OBA(phoneID string) OBAState {
	var st OBAState
	_ = f.View(func(tx *bolt.Tx) error {
		st, _ = obaState(tx, phoneID)
		return nil
	})
	return st
}
