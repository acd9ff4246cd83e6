package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// CreateToken is the payload of CmdCreateToken.
type CreateToken struct {
	TokenID    string
	BusinessID string   // empty only for cluster-wide kinds (admin, operator)
	Hash       [32]byte // sha256 of the token value
	Kind       string   // TokenAPI, TokenBusinessAdmin, TokenAdmin or TokenOperator
	CreatedAt  int64    // unix ms, chosen by the proposer
}

// RevokeToken is the payload of CmdRevokeToken.
type RevokeToken struct{ TokenID string }

// Token kinds.
const (
	// TokenAPI is a business's Cloud API access token.
	TokenAPI = "api"
	// TokenAdmin is an administrator token.
	TokenAdmin = "admin"
	// TokenOperator is an operator token (cluster, statistics; no content).
	TokenOperator = "operator"
	// TokenBusinessAdmin is a business administrator token: the admin API
	// restricted to one business (its tokens, webhooks, templates, numbers).
	TokenBusinessAdmin = "business_admin"
)

// Token is a stored access token. Only the sha256 of the token value is
// kept; the record repeats it so a lookup can confirm it in constant time.
type Token struct {
	ID         string
	BusinessID string
	Kind       string
	Hash       [32]byte
	CreatedAt  int64
}

// putToken writes a token record and its id index. Callers have checked
// that neither the hash nor the id is taken.
func putToken(tx *bolt.Tx, t Token) {
	mustPut(tx, bucketTokens, t.Hash[:], marshal(t))
	mustPut(tx, bucketTokenIDs, []byte(t.ID), bytes.Clone(t.Hash[:]))
}

// applyCreateToken adds a token. API and business admin tokens need an
// existing business; admin and operator tokens may be cluster-wide (empty
// business).
func (f *FSM) applyCreateToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateToken
	decode(payload, &c)
	switch c.Kind {
	case TokenAPI, TokenBusinessAdmin:
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
	if c.Hash == ([32]byte{}) {
		return nil, domainErr(ErrInvalid, "token hash is required")
	}
	if tx.Bucket(bucketTokens).Get(c.Hash[:]) != nil || tx.Bucket(bucketTokenIDs).Get([]byte(c.TokenID)) != nil {
		return nil, domainErr(ErrConflict, "token exists")
	}
	putToken(tx, Token{ID: c.TokenID, BusinessID: c.BusinessID, Kind: c.Kind, Hash: c.Hash, CreatedAt: c.CreatedAt})
	return nil, nil
}

// applyRevokeToken deletes a token by id.
func (f *FSM) applyRevokeToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RevokeToken
	decode(payload, &c)
	hash := tx.Bucket(bucketTokenIDs).Get([]byte(c.TokenID))
	if hash == nil {
		return nil, domainErr(ErrNotFound, "token")
	}
	hash = bytes.Clone(hash) // bbolt memory may move once we write
	mustDelete(tx, bucketTokens, hash)
	mustDelete(tx, bucketTokenIDs, []byte(c.TokenID))
	return nil, nil
}

// TokensOfBusiness returns the tokens of a business (without their hashes)
// in id order.
func (f *FSM) TokensOfBusiness(businessID string) ([]Token, error) {
	var out []Token
	err := f.View(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		return tx.Bucket(bucketTokenIDs).ForEach(func(_, hash []byte) error {
			var t Token
			if err := unmarshal(tokens.Get(hash), &t); err != nil {
				return err
			}
			if t.BusinessID == businessID {
				t.Hash = [32]byte{}
				out = append(out, t)
			}
			return nil
		})
	})
	return out, err
}

// TokenByID returns a token (without its hash) by id; ErrNotFound when absent.
func (f *FSM) TokenByID(id string) (Token, error) {
	var t Token
	err := f.View(func(tx *bolt.Tx) error {
		hash := tx.Bucket(bucketTokenIDs).Get([]byte(id))
		if hash == nil {
			return ErrNotFound
		}
		return unmarshal(tx.Bucket(bucketTokens).Get(hash), &t)
	})
	t.Hash = [32]byte{}
	return t, err
}
