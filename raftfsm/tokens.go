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
	Kind       string   // TokenAPI, TokenAdmin or TokenOperator
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

// applyCreateToken adds a token. An API token needs an existing business;
// admin and operator tokens may be cluster-wide (empty business).
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
