package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// AuditKeyLen is the length of an audit record key: BE64 unix ns of the
// action (chosen by the proposer) | 8 bytes chosen by the proposer to keep
// keys unique. Keys sort in time order.
const AuditKeyLen = 16

// AuditTarget names one object an admin action touched, by id only.
type AuditTarget struct {
	Kind string // "business", "phone", "token", "template", "node", …
	ID   string
}

// AuditRecord is one admin action: who (the token's id and kind, never the
// token), what, on which ids, when and with which outcome. It never holds
// message content, media or consumer numbers.
type AuditRecord struct {
	At            int64 // unix ms, chosen by the proposer
	ActorID       string
	ActorKind     string
	ActorBusiness string // the actor token's business, "" for cluster-wide tokens
	Action        string // e.g. "tenant.create"
	Targets       []AuditTarget
	Outcome       string // "ok", "denied" or "failed"
	Status        int    // the HTTP status answered
}

// AppendAudit is the payload of CmdAudit.
type AppendAudit struct {
	Key    []byte // AuditKeyLen bytes, see AuditKeyLen
	Record AuditRecord
}

// AuditEntry is a stored audit record with its key (the paging cursor).
type AuditEntry struct {
	Key    []byte
	Record AuditRecord
}

// applyAudit appends one audit record. Nothing deletes audit records yet.
func (f *FSM) applyAudit(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c AppendAudit
	decode(payload, &c)
	if len(c.Key) != AuditKeyLen {
		return nil, domainErr(ErrInvalid, "audit key must be %d bytes", AuditKeyLen)
	}
	if c.Record.Action == "" || c.Record.ActorID == "" {
		return nil, domainErr(ErrInvalid, "audit action and actor are required")
	}
	if tx.Bucket(bucketAudit).Get(c.Key) != nil {
		return nil, domainErr(ErrConflict, "audit record exists")
	}
	mustPut(tx, bucketAudit, bytes.Clone(c.Key), marshal(c.Record))
	return nil, nil
}

// AuditLog returns up to limit audit records in time order, starting after
// the key after (nil: from the first).
func (f *FSM) AuditLog(after []byte, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if len(after) == 0 {
			k, v = c.First()
		} else {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var r AuditRecord
			if err := unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, AuditEntry{Key: bytes.Clone(k), Record: r})
		}
		return nil
	})
	return out, err
}
