package raftfsm

import (
	"crypto/subtle"
	"encoding/binary"

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

func (f *FSM) applyPutClusterValue(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutClusterValue
	decode(payload, &c)
	if c.Key == "" || len(c.Key) > 256 {
		return nil, domainErr(ErrInvalid, "cluster value key")
	}
	mustPut(tx, bucketCluster, []byte(c.Key), c.Value)
	return nil, nil
}

func (f *FSM) applyCreateJoinToken(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateJoinToken
	decode(payload, &c)
	if c.TokenID == "" {
		return nil, domainErr(ErrInvalid, "token id")
	}
	if tx.Bucket(bucketJoinTokens).Get([]byte(c.TokenID)) != nil {
		return nil, domainErr(ErrConflict, "join token exists")
	}
	mustPut(tx, bucketJoinTokens, []byte(c.TokenID), marshal(JoinTokenInfo{
		ID: c.TokenID, SecretHash: c.SecretHash, ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt,
	}))
	return nil, nil
}

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

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// ClusterValue returns a cluster-wide value.
func (f *FSM) ClusterValue(key string) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		out = get(tx, bucketCluster, []byte(key))
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	return out, err
}

// IsMemberRemoved reports whether nodeID was removed from the cluster (and
// not readmitted with a new join token since).
func (f *FSM) IsMemberRemoved(nodeID string) bool {
	removed := false
	_ = f.View(func(tx *bolt.Tx) error {
		removed = tx.Bucket(bucketRemoved).Get([]byte(nodeID)) != nil
		return nil
	})
	return removed
}

// JoinTokenInfo returns a stored join token.
func (f *FSM) JoinTokenInfo(id string) (JoinTokenInfo, error) {
	var info JoinTokenInfo
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJoinTokens).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &info)
	})
	return info, err
}
