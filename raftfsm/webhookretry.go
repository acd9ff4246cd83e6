package raftfsm

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// CmdWebhookRetryNow makes queued webhook events of one business due at
// once (an admin's "retry now" after fixing the receiver), instead of
// when their back-off ends. Ignorable: an older binary skips it, and its
// replica's next try stays as it was until the next attempt rewrites it.
const CmdWebhookRetryNow = FlagIgnorable | 117

// MaxRetryKeys bounds the events one CmdWebhookRetryNow names.
const MaxRetryKeys = 1000

// WebhookRetryNow is the payload of CmdWebhookRetryNow: Keys are outbox
// keys (none: every queued event of the business); only events of
// BusinessID that are waiting (not held behind an older event of their
// message) are moved, to At (the proposer's clock, unix ms).
type WebhookRetryNow struct {
	BusinessID string
	Keys       [][]byte
	At         int64
}

// applyWebhookRetryNow answers with the number of events moved (BE32).
func (f *FSM) applyWebhookRetryNow(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c WebhookRetryNow
	decode(payload, &c)
	if c.BusinessID == "" || len(c.Keys) > MaxRetryKeys {
		return nil, domainErr(ErrInvalid, "webhook retry needs a business and at most 1000 events")
	}
	ob := tx.Bucket(bucketOutbox)
	keys := c.Keys
	if len(keys) == 0 {
		_ = ob.ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	}
	moved := uint32(0)
	for _, k := range keys {
		v := ob.Get(k)
		if v == nil {
			continue
		}
		var e OutboxEvent
		decode(v, &e)
		if e.BusinessID != c.BusinessID || e.Held || e.NextAt <= c.At {
			continue
		}
		e.NextAt = c.At
		mustPut(tx, bucketOutbox, bytes.Clone(k), marshal(e))
		moved++
	}
	return binary.BigEndian.AppendUint32(nil, moved), nil
}
