package raftfsm

import (
	"strings"

	bolt "go.etcd.io/bbolt"
)

// CreateTenant is the payload of CmdCreateTenant: a business with one WABA,
// one phone number, one app and the first API access token.
type CreateTenant struct {
	BusinessID         string
	BusinessName       string
	WABAID             string
	WABAName           string
	PhoneNumberID      string
	DisplayPhoneNumber string // E.164 as given, e.g. "+15551234567"
	VerifiedName       string
	AppID              string
	AppSecret          string
	TokenID            string
	TokenHash          [32]byte // sha256 of the access token
	CreatedAt          int64    // unix ms, chosen by the proposer
	// HelloWorld, when set, is stored APPROVED in the new WABA, as Meta
	// creates hello_world on every WABA (absent in older log entries).
	HelloWorld *Template
}

// Tenant is one business phone number with the records around it.
type Tenant struct {
	BusinessID         string
	BusinessName       string
	WABAID             string
	WABAName           string
	PhoneNumberID      string
	DisplayPhoneNumber string
	VerifiedName       string
	AppID              string
	CreatedAt          int64
}

// Business is a stored business.
type Business struct {
	ID        string
	Name      string
	CreatedAt int64
}

// WABA is a stored WhatsApp Business Account.
type WABA struct {
	ID         string
	BusinessID string
	Name       string
	CreatedAt  int64
	// TemplateReview is the review policy of the WABA's new templates:
	// ReviewApprove ("" in older records), ReviewManual or ReviewReject.
	TemplateReview string
}

// Phone is a stored business phone number.
type Phone struct {
	ID                 string
	WABAID             string
	BusinessID         string
	DisplayPhoneNumber string
	VerifiedName       string
	CreatedAt          int64
	Registered         bool
	PINHash            []byte  // two-step verification PIN (sha256 of id:pin)
	RegisterLog        []int64 // register/deregister calls in the last 72 h (unix ms)
	Profile            Profile
	// RetentionHours is how long the number's messages are kept (0: the
	// default, MaxRetention; see EffectiveRetention).
	RetentionHours int
	// ThroughputMPS is the messages/s limit of the number (0: the default, 80).
	ThroughputMPS int
	// PairPerMinute is the limit to one consumer (0: the default, 10).
	PairPerMinute int
	// PairBurst is how many messages one consumer may get at once before
	// PairPerMinute applies (0: the default, 45).
	PairBurst int `codec:",omitempty"`
	// QualityRating is GREEN, YELLOW or RED, derived from integrity
	// signals ("" until the first signal: GREEN; see QualityOf).
	QualityRating string
	// MessagingLimitTier is the number's tier ("": DefaultTier; see
	// TierOf).
	MessagingLimitTier string
	// NameChanges holds when the display name changed in the last 30
	// days (unix ms); omitted when empty, so older records keep their bytes.
	NameChanges []int64 `codec:",omitempty"`
}

// Profile is a phone number's WhatsApp business profile.
type Profile struct {
	About       string
	Address     string
	Description string
	Email       string
	Websites    []string
	Vertical    string
}

// App is a stored app (holder of the webhook signing secret).
type App struct {
	ID         string
	BusinessID string
	Secret     string
	CreatedAt  int64
}

// isDigits reports whether s is min to max ASCII digits.
func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// e164Digits returns the digits of "+15551234567", or "" when malformed.
func e164Digits(s string) string {
	d := strings.TrimPrefix(s, "+")
	if !isDigits(d, 8, 15) {
		return ""
	}
	return d
}

// applyCreateTenant writes a business, its WABA, phone number (and the
// number's uniqueness index), app and first API token.
func (f *FSM) applyCreateTenant(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateTenant
	decode(payload, &c)
	for _, id := range []string{c.BusinessID, c.WABAID, c.PhoneNumberID, c.AppID} {
		if !isDigits(id, 1, 32) {
			return nil, domainErr(ErrInvalid, "ids must be digits")
		}
	}
	if c.TokenID == "" || c.BusinessName == "" {
		return nil, domainErr(ErrInvalid, "token id and business name are required")
	}
	if c.TokenHash == ([32]byte{}) {
		return nil, domainErr(ErrInvalid, "token hash is required")
	}
	number := e164Digits(c.DisplayPhoneNumber)
	if number == "" {
		return nil, domainErr(ErrInvalid, "phone number must be E.164")
	}
	if tx.Bucket(bucketPhoneByNumber).Get([]byte(number)) != nil {
		return nil, domainErr(ErrConflict, "phone number already registered")
	}
	for _, chk := range []struct{ b, k []byte }{
		{bucketBusinesses, []byte(c.BusinessID)}, {bucketWABAs, []byte(c.WABAID)},
		{bucketPhones, []byte(c.PhoneNumberID)}, {bucketApps, []byte(c.AppID)},
		{bucketTokens, c.TokenHash[:]}, {bucketTokenIDs, []byte(c.TokenID)},
	} {
		if tx.Bucket(chk.b).Get(chk.k) != nil {
			return nil, domainErr(ErrConflict, "id already in use")
		}
	}
	if h := c.HelloWorld; h != nil {
		if !isDigits(h.ID, 1, 32) || h.WABAID != c.WABAID || h.BusinessID != c.BusinessID || h.Name == "" || h.Language == "" {
			return nil, domainErr(ErrInvalid, "hello_world must be a template of the new WABA")
		}
		if tx.Bucket(bucketTemplateIDs).Get([]byte(h.ID)) != nil {
			return nil, domainErr(ErrConflict, "id already in use")
		}
	}
	// All preconditions hold: write.
	mustPut(tx, bucketBusinesses, []byte(c.BusinessID), marshal(Business{ID: c.BusinessID, Name: c.BusinessName, CreatedAt: c.CreatedAt}))
	mustPut(tx, bucketWABAs, []byte(c.WABAID), marshal(WABA{ID: c.WABAID, BusinessID: c.BusinessID, Name: c.WABAName, CreatedAt: c.CreatedAt}))
	mustPut(tx, bucketPhones, []byte(c.PhoneNumberID), marshal(Phone{ID: c.PhoneNumberID, WABAID: c.WABAID, BusinessID: c.BusinessID,
		DisplayPhoneNumber: c.DisplayPhoneNumber, VerifiedName: c.VerifiedName, CreatedAt: c.CreatedAt, Registered: true}))
	mustPut(tx, bucketPhoneByNumber, []byte(number), []byte(c.PhoneNumberID))
	mustPut(tx, bucketApps, []byte(c.AppID), marshal(App{ID: c.AppID, BusinessID: c.BusinessID, Secret: c.AppSecret, CreatedAt: c.CreatedAt}))
	putToken(tx, Token{ID: c.TokenID, BusinessID: c.BusinessID, Kind: TokenAPI, Hash: c.TokenHash, CreatedAt: c.CreatedAt})
	if c.HelloWorld != nil {
		putTemplate(tx, *c.HelloWorld, "APPROVED")
	}
	return nil, nil
}
