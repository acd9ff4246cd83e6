// Package tenant creates businesses (a business, its WhatsApp Business
// Account, one phone number, an app and the first access token) and
// resolves access tokens to the business they belong to.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// CreateRequest asks for a new business with one phone number.
type CreateRequest struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Created is what the caller gets back, once: the access token and the app
// secret are not retrievable later.
type Created struct {
	BusinessID         string `json:"business_id"`
	WABAID             string `json:"waba_id"`
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	AppID              string `json:"app_id"`
	AppSecret          string `json:"app_secret"`
	AccessToken        string `json:"access_token"`
}

// Validate checks the request: a name of 1 to 256 characters (after
// trimming spaces) and an E.164 phone number ("+" then 8 to 15 digits, the
// first not 0). Errors wrap ErrInvalid and carry a public explanation.
func (r CreateRequest) Validate() error {
	name := strings.TrimSpace(r.Name)
	if name == "" || utf8.RuneCountInString(name) > 256 {
		return fmt.Errorf("%w: name must be 1 to 256 characters", ErrInvalid)
	}
	p := r.Phone
	if !strings.HasPrefix(p, "+") || len(p) < 9 || len(p) > 16 {
		return fmt.Errorf("%w: phone must be E.164: + then 8 to 15 digits", ErrInvalid)
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: phone must be E.164: + then 8 to 15 digits", ErrInvalid)
		}
	}
	if p[1] == '0' {
		return fmt.Errorf("%w: phone must not start with 0 after the +", ErrInvalid)
	}
	return nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("failed to read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewAccessToken returns a fresh API access token ("EAAW" then 48 base64url
// characters, shaped like Meta's) and its sha256, the only form ever stored.
func NewAccessToken() (string, [32]byte, error) {
	s, err := randomString(36)
	if err != nil {
		return "", [32]byte{}, err
	}
	tok := "EAAW" + s
	return tok, sha256.Sum256([]byte(tok)), nil
}

// Create proposes a new tenant: a business, its WABA, one phone number, an
// app with its secret and a first API access token. The token and the app
// secret are returned once and only their hash (token) or the FSM copy
// (secret, needed to sign webhooks) is kept. A phone number that is already
// registered gives ErrPhoneTaken; an invalid request gives ErrInvalid before
// anything is proposed.
func Create(ctx context.Context, c cluster.Cluster, req CreateRequest, now time.Time) (Created, error) {
	if err := req.Validate(); err != nil {
		return Created{}, err
	}
	var ids [4]string
	for i := range ids {
		id, err := graph.NewID()
		if err != nil {
			return Created{}, err
		}
		ids[i] = id
	}
	secretB := make([]byte, 16)
	if _, err := rand.Read(secretB); err != nil {
		return Created{}, fmt.Errorf("failed to generate app secret: %w", err)
	}
	tok, hash, err := NewAccessToken()
	if err != nil {
		return Created{}, err
	}
	name := strings.TrimSpace(req.Name)
	out := Created{
		BusinessID: ids[0], WABAID: ids[1], PhoneNumberID: ids[2], AppID: ids[3],
		DisplayPhoneNumber: req.Phone, AppSecret: hex.EncodeToString(secretB), AccessToken: tok,
	}
	hello, err := helloWorld(out.WABAID, out.BusinessID, now.UnixMilli())
	if err != nil {
		return Created{}, err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdCreateTenant, raftfsm.CreateTenant{
		BusinessID: out.BusinessID, BusinessName: name, WABAID: out.WABAID, WABAName: name,
		PhoneNumberID: out.PhoneNumberID, DisplayPhoneNumber: req.Phone, VerifiedName: name,
		AppID: out.AppID, AppSecret: out.AppSecret, TokenID: "tok-" + hex.EncodeToString(hash[:8]),
		TokenHash: hash, CreatedAt: now.UnixMilli(), HelloWorld: hello,
	})
	if err != nil {
		return Created{}, fmt.Errorf("failed to encode tenant: %w", err)
	}
	_, err = raftfsm.Outcome(c.Propose(ctx, cmd))
	switch {
	case errors.Is(err, raftfsm.ErrConflict):
		return Created{}, ErrPhoneTaken
	case err != nil:
		return Created{}, fmt.Errorf("failed to create tenant: %w", err)
	}
	return out, nil
}

// Authenticate resolves a bearer token. The FSM compares hashes in constant
// time; the token itself is never stored or logged.
func Authenticate(fsm *raftfsm.FSM, bearer string) (raftfsm.Token, error) {
	if fsm == nil || bearer == "" || len(bearer) > 512 {
		return raftfsm.Token{}, ErrUnauthenticated
	}
	t, err := fsm.LookupToken(sha256.Sum256([]byte(bearer)))
	if err != nil {
		return raftfsm.Token{}, ErrUnauthenticated
	}
	return t, nil
}

// Issued is a token just created: the value is returned once, only its
// sha256 is stored.
type Issued struct {
	TokenID    string `json:"token_id"`
	Kind       string `json:"kind"`
	BusinessID string `json:"business_id"`
	Token      string `json:"token"`
	CreatedAt  int64  `json:"created_at"`
}

// NewBusinessAdminToken returns a fresh business admin token ("wbadm_"
// then 48 base64url characters) and its sha256.
func NewBusinessAdminToken() (string, [32]byte, error) {
	s, err := randomString(36)
	if err != nil {
		return "", [32]byte{}, err
	}
	tok := "wbadm_" + s
	return tok, sha256.Sum256([]byte(tok)), nil
}

// IssueToken proposes a new token of a business: kind is
// raftfsm.TokenAPI (a Cloud API access token) or raftfsm.TokenBusinessAdmin.
// A business that does not exist gives ErrNotFound.
func IssueToken(ctx context.Context, c cluster.Cluster, businessID, kind string, now time.Time) (Issued, error) {
	var (
		tok    string
		hash   [32]byte
		err    error
		prefix string
	)
	switch kind {
	case raftfsm.TokenAPI:
		tok, hash, err = NewAccessToken()
		prefix = "tok-"
	case raftfsm.TokenBusinessAdmin:
		tok, hash, err = NewBusinessAdminToken()
		prefix = "badm-"
	default:
		return Issued{}, fmt.Errorf("%w: token kind %q", ErrInvalid, kind)
	}
	if err != nil {
		return Issued{}, err
	}
	out := Issued{TokenID: prefix + hex.EncodeToString(hash[:8]), Kind: kind, BusinessID: businessID,
		Token: tok, CreatedAt: now.UnixMilli()}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdCreateToken, raftfsm.CreateToken{
		TokenID: out.TokenID, BusinessID: businessID, Hash: hash, Kind: kind, CreatedAt: out.CreatedAt})
	if err != nil {
		return Issued{}, fmt.Errorf("failed to encode token: %w", err)
	}
	_, err = raftfsm.Outcome(c.Propose(ctx, cmd))
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return Issued{}, ErrNotFound
	case err != nil:
		return Issued{}, fmt.Errorf("failed to create token: %w", err)
	}
	return out, nil
}

// RevokeToken proposes the deletion of a token of a business. A token that
// does not exist or belongs to another business gives ErrNotFound.
func RevokeToken(ctx context.Context, c cluster.Cluster, businessID, tokenID string) error {
	t, err := c.FSM().TokenByID(tokenID)
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && t.BusinessID != businessID) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("failed to read token: %w", err)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdRevokeToken, raftfsm.RevokeToken{TokenID: tokenID})
	if err != nil {
		return fmt.Errorf("failed to encode revocation: %w", err)
	}
	_, err = raftfsm.Outcome(c.Propose(ctx, cmd))
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("failed to revoke token: %w", err)
	}
	return nil
}
