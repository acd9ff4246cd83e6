package raftfsm

import (
	"crypto/subtle"

	bolt "go.etcd.io/bbolt"
)

// PutClusterValue is the payload of CmdPutClusterValue.
type PutClusterValue struct {
	Key   string
	Value []byte
}

// CreateJoinToken is the payload of CmdCreateJoinToken.
type CreateJoinToken struct {
	TokenID    string
	SecretHash [32]byte
	ExpiresAt  int64 // unix ms
	CreatedAt  int64
}

// ConsumeJoinToken is the payload of CmdConsumeJoinToken; Now is chosen by
// the proposing leader.
type ConsumeJoinToken struct {
	TokenID    string
	SecretHash [32]byte
	NodeID     string
	Now        int64
}

// RemoveMember is the payload of CmdRemoveMember.
type RemoveMember struct {
	NodeID string
	At     int64
}

// JoinTokenInfo is a stored join token.
type JoinTokenInfo struct {
	ID         string
	SecretHash [32]byte
	ExpiresAt  int64
	CreatedAt  int64
	UsedBy     string
	UsedAt     int64
}

// applyPutClusterValue sets (or replaces) a cluster-wide value.
func (f *FSM) applyPutClusterValue(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutClusterValue
	decode(payload, &c)
	if c.Key == "" || len(c.Key) > 256 {
		return nil, domainErr(ErrInvalid, "cluster value key")
	}
	mustPut(tx, bucketCluster, []byte(c.Key), c.Value)
	return nil, nil
}

// applyCreateJoinToken records a join token (only its secret's hash).
func (f *FSM) applyCreateJoinToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateJoinToken
	decode(payload, &c)
	if c.TokenID == "" || c.SecretHash == ([32]byte{}) {
		return nil, domainErr(ErrInvalid, "join token id and secret hash are required")
	}
	if tx.Bucket(bucketJoinTokens).Get([]byte(c.TokenID)) != nil {
		return nil, domainErr(ErrConflict, "join token exists")
	}
	mustPut(tx, bucketJoinTokens, []byte(c.TokenID), marshal(JoinTokenInfo{
		ID: c.TokenID, SecretHash: c.SecretHash, ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt,
	}))
	return nil, nil
}

// applyConsumeJoinToken admits NodeID with a join token: unknown, wrong or
// expired tokens are ErrTokenInvalid, consumed ones ErrTokenUsed. Success
// marks the token used, records the member and lifts an earlier removal.
func (f *FSM) applyConsumeJoinToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c ConsumeJoinToken
	decode(payload, &c)
	v := tx.Bucket(bucketJoinTokens).Get([]byte(c.TokenID))
	if v == nil || c.NodeID == "" {
		return nil, ErrTokenInvalid
	}
	var info JoinTokenInfo
	decode(v, &info)
	if subtle.ConstantTimeCompare(info.SecretHash[:], c.SecretHash[:]) != 1 || c.Now > info.ExpiresAt {
		return nil, ErrTokenInvalid
	}
	if info.UsedBy != "" {
		return nil, ErrTokenUsed
	}
	info.UsedBy, info.UsedAt = c.NodeID, c.Now
	mustPut(tx, bucketJoinTokens, []byte(c.TokenID), marshal(info))
	mustDelete(tx, bucketRemoved, []byte(c.NodeID))
	mustPut(tx, bucketMembers, []byte(c.NodeID), be64(c.Now))
	return nil, nil
}

// applyRemoveMember moves a node from the members to the removed set.
func (f *FSM) applyRemoveMember(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RemoveMember
	decode(payload, &c)
	if c.NodeID == "" {
		return nil, domainErr(ErrInvalid, "node id")
	}
	mustDelete(tx, bucketMembers, []byte(c.NodeID))
	mustPut(tx, bucketRemoved, []byte(c.NodeID), be64(c.At))
	return nil, nil
}
