package raftfsm

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/hashicorp/go-msgpack/v2/codec"
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
}

// CreateToken is the payload of CmdCreateToken.
type CreateToken struct {
	TokenID    string
	BusinessID string // empty for cluster-wide kinds
	Hash       [32]byte
	Kind       string // "api", "admin" or "operator"
	CreatedAt  int64
}

// RevokeToken is the payload of CmdRevokeToken.
type RevokeToken struct{ TokenID string }

// Token kinds.
const (
	TokenAPI      = "api"
	TokenAdmin    = "admin"
	TokenOperator = "operator"
)

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
	// ThroughputMPS is the messages/s limit of the number (0: the default, 80).
	ThroughputMPS int
	// PairPerMinute is the limit to one consumer (0: the default, 10).
	PairPerMinute int
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

// Token is a stored access token (only its hash is kept).
type Token struct {
	ID         string
	BusinessID string
	Kind       string
	Hash       [32]byte
	CreatedAt  int64
}

func marshal(v any) []byte {
	var b []byte
	if err := codec.NewEncoderBytes(&b, codecHandle).Encode(v); err != nil {
		panic(fmt.Sprintf("raftfsm: encode record: %v", err))
	}
	return b
}

func unmarshal(b []byte, v any) error {
	return codec.NewDecoderBytes(b, codecHandle).Decode(v)
}

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
	// All preconditions hold: write.
	puts := []struct {
		b, k, v []byte
	}{
		{bucketBusinesses, []byte(c.BusinessID), marshal(Business{ID: c.BusinessID, Name: c.BusinessName, CreatedAt: c.CreatedAt})},
		{bucketWABAs, []byte(c.WABAID), marshal(WABA{ID: c.WABAID, BusinessID: c.BusinessID, Name: c.WABAName, CreatedAt: c.CreatedAt})},
		{bucketPhones, []byte(c.PhoneNumberID), marshal(Phone{ID: c.PhoneNumberID, WABAID: c.WABAID, BusinessID: c.BusinessID,
			DisplayPhoneNumber: c.DisplayPhoneNumber, VerifiedName: c.VerifiedName, CreatedAt: c.CreatedAt, Registered: true})},
		{bucketPhoneByNumber, []byte(number), []byte(c.PhoneNumberID)},
		{bucketApps, []byte(c.AppID), marshal(App{ID: c.AppID, BusinessID: c.BusinessID, Secret: c.AppSecret, CreatedAt: c.CreatedAt})},
		{bucketTokens, c.TokenHash[:], marshal(Token{ID: c.TokenID, BusinessID: c.BusinessID, Kind: TokenAPI, Hash: c.TokenHash, CreatedAt: c.CreatedAt})},
		{bucketTokenIDs, []byte(c.TokenID), c.TokenHash[:]},
	}
	for _, p := range puts {
		if err := tx.Bucket(p.b).Put(p.k, p.v); err != nil {
			panic(fmt.Sprintf("raftfsm: put: %v", err))
		}
	}
	return nil, nil
}

func (f *FSM) applyCreateToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateToken
	decode(payload, &c)
	switch c.Kind {
	case TokenAPI:
		if tx.Bucket(bucketBusinesses).Get([]byte(c.BusinessID)) == nil {
			return nil, domainErr(ErrNotFound, "business")
		}
	case TokenAdmin, TokenOperator:
		if c.BusinessID != "" && tx.Bucket(bucketBusinesses).Get([]byte(c.BusinessID)) == nil {
			return nil, domainErr(ErrNotFound, "business")
		}
	default:
		return nil, domainErr(ErrInvalid, "token kind %q", c.Kind)
	}
	if c.TokenID == "" {
		return nil, domainErr(ErrInvalid, "token id is required")
	}
	if tx.Bucket(bucketTokens).Get(c.Hash[:]) != nil || tx.Bucket(bucketTokenIDs).Get([]byte(c.TokenID)) != nil {
		return nil, domainErr(ErrConflict, "token exists")
	}
	mustPut(tx, bucketTokens, c.Hash[:], marshal(Token{ID: c.TokenID, BusinessID: c.BusinessID, Kind: c.Kind, Hash: c.Hash, CreatedAt: c.CreatedAt}))
	mustPut(tx, bucketTokenIDs, []byte(c.TokenID), c.Hash[:])
	return nil, nil
}

func (f *FSM) applyRevokeToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RevokeToken
	decode(payload, &c)
	hash := tx.Bucket(bucketTokenIDs).Get([]byte(c.TokenID))
	if hash == nil {
		return nil, domainErr(ErrNotFound, "token")
	}
	hash = append([]byte(nil), hash...)
	mustDelete(tx, bucketTokens, hash)
	mustDelete(tx, bucketTokenIDs, []byte(c.TokenID))
	return nil, nil
}

func mustPut(tx *bolt.Tx, bucket, k, v []byte) {
	if err := tx.Bucket(bucket).Put(k, v); err != nil {
		panic(fmt.Sprintf("raftfsm: put %s: %v", bucket, err))
	}
}

func mustDelete(tx *bolt.Tx, bucket, k []byte) {
	if err := tx.Bucket(bucket).Delete(k); err != nil {
		panic(fmt.Sprintf("raftfsm: delete %s: %v", bucket, err))
	}
}

// LookupToken finds a token by the sha256 of its value. The stored hash is
// compared in constant time.
func (f *FSM) LookupToken(hash [32]byte) (Token, error) {
	var t Token
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get(hash[:])
		if v == nil {
			return ErrNotFound
		}
		if err := unmarshal(v, &t); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(t.Hash[:], hash[:]) != 1 {
			return ErrNotFound
		}
		return nil
	})
	return t, err
}

func tenantFrom(tx *bolt.Tx, p Phone) (Tenant, error) {
	t := Tenant{PhoneNumberID: p.ID, WABAID: p.WABAID, BusinessID: p.BusinessID,
		DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName, CreatedAt: p.CreatedAt}
	var b Business
	if v := tx.Bucket(bucketBusinesses).Get([]byte(p.BusinessID)); v != nil {
		if err := unmarshal(v, &b); err != nil {
			return t, err
		}
	}
	t.BusinessName = b.Name
	var w WABA
	if v := tx.Bucket(bucketWABAs).Get([]byte(p.WABAID)); v != nil {
		if err := unmarshal(v, &w); err != nil {
			return t, err
		}
	}
	t.WABAName = w.Name
	// The app of a tenant is the business's app.
	c := tx.Bucket(bucketApps).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var a App
		if err := unmarshal(v, &a); err == nil && a.BusinessID == p.BusinessID {
			t.AppID = a.ID
			break
		}
	}
	return t, nil
}

// Tenant returns the tenant of a phone-number id.
func (f *FSM) Tenant(phoneNumberID string) (Tenant, error) {
	var t Tenant
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPhones).Get([]byte(phoneNumberID))
		if v == nil {
			return ErrNotFound
		}
		var p Phone
		if err := unmarshal(v, &p); err != nil {
			return err
		}
		var err error
		t, err = tenantFrom(tx, p)
		return err
	})
	return t, err
}

// ListTenants returns every tenant ordered by phone-number id.
func (f *FSM) ListTenants() ([]Tenant, error) {
	var out []Tenant
	err := f.View(func(tx *bolt.Tx) error {
		apps := map[string]string{}
		_ = tx.Bucket(bucketApps).ForEach(func(_, v []byte) error {
			var a App
			if unmarshal(v, &a) == nil {
				if _, ok := apps[a.BusinessID]; !ok {
					apps[a.BusinessID] = a.ID
				}
			}
			return nil
		})
		return tx.Bucket(bucketPhones).ForEach(func(_, v []byte) error {
			var p Phone
			if err := unmarshal(v, &p); err != nil {
				return err
			}
			t := Tenant{PhoneNumberID: p.ID, WABAID: p.WABAID, BusinessID: p.BusinessID,
				DisplayPhoneNumber: p.DisplayPhoneNumber, VerifiedName: p.VerifiedName, CreatedAt: p.CreatedAt,
				AppID: apps[p.BusinessID]}
			var b Business
			if bv := tx.Bucket(bucketBusinesses).Get([]byte(p.BusinessID)); bv != nil && unmarshal(bv, &b) == nil {
				t.BusinessName = b.Name
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}

// TenantsByBusiness returns the tenants of one business.
func (f *FSM) TenantsByBusiness(businessID string) ([]Tenant, error) {
	all, err := f.ListTenants()
	if err != nil {
		return nil, err
	}
	var out []Tenant
	for _, t := range all {
		if t.BusinessID == businessID {
			out = append(out, t)
		}
	}
	return out, nil
}

// App returns an app record (with its secret).
func (f *FSM) App(appID string) (App, error) {
	var a App
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketApps).Get([]byte(appID))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &a)
	})
	return a, err
}
