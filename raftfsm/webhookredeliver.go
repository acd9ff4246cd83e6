package raftfsm

import (
	"bytes"
	"encoding/hex"

	bolt "go.etcd.io/bbolt"
)

// CmdWebhookAttemptsV2 is CmdWebhookAttempts whose finished events keep
// their sealed body in the delivery log (WebhookLogEntry.Body). Not
// ignorable: an older binary skipping it would keep events the others
// settled, so every node runs the new binary before one of them leads.
const CmdWebhookAttemptsV2 CommandType = 118

// CmdWebhookRedeliver queues again events of one business that already
// left the outbox (delivered or dropped), from the bodies their delivery
// log entries keep. Ignorable: a leader running an older binary answers
// ErrIgnored and nothing is queued.
const CmdWebhookRedeliver = FlagIgnorable | 119

// MaxRedeliverKeys bounds the events one CmdWebhookRedeliver names.
const MaxRedeliverKeys = 100

// WebhookRedeliver is the payload of CmdWebhookRedeliver: Keys are
// delivery log keys of BusinessID, NewKeys the outbox keys (time-ordered,
// chosen by the proposer) their copies are queued under, one per key; At
// is the proposer's clock (unix ms), the copies' queue time.
type WebhookRedeliver struct {
	BusinessID string
	Keys       [][]byte
	NewKeys    [][]byte
	At         int64
}

// applyWebhookRedeliver queues a copy of each named logged event (same
// sealed body, WABA, phone number and creation time, so retention and the
// dispatcher's give-up age count from the original; no attempts; due at
// At; in no message group, so held behind nothing) and leaves the log
// entries as they are. All or nothing: an unknown key, an entry of another
// business, one without a body, one older than its number's retention or a
// WABA without a subscription fails the command before anything is
// written.
func (f *FSM) applyWebhookRedeliver(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c WebhookRedeliver
	decode(payload, &c)
	if c.BusinessID == "" || len(c.Keys) == 0 || len(c.Keys) > MaxRedeliverKeys || len(c.NewKeys) != len(c.Keys) {
		return nil, domainErr(ErrInvalid, "webhook redelivery needs a business and 1 to 100 events")
	}
	lb, ob := tx.Bucket(bucketWebhookLog), tx.Bucket(bucketOutbox)
	events := make([]OutboxEvent, 0, len(c.Keys))
	for i, k := range c.Keys {
		v := lb.Get(k)
		id := hex.EncodeToString(k)
		if v == nil {
			return nil, domainErr(ErrNotFound, "delivery log entry %s", id)
		}
		var l WebhookLogEntry
		decode(v, &l)
		if l.BusinessID != c.BusinessID {
			return nil, domainErr(ErrNotFound, "delivery log entry %s", id)
		}
		if len(l.Body) == 0 {
			return nil, domainErr(ErrInvalid, "event %s was logged by an older version without its body and cannot be redelivered", id)
		}
		if l.CreatedAt < c.At-retentionMs(tx, l.PhoneNumberID) {
			return nil, domainErr(ErrInvalid, "event %s is older than its number's retention: its content is no longer kept", id)
		}
		if tx.Bucket(bucketSubscriptions).Get([]byte(l.WABAID)) == nil {
			return nil, domainErr(ErrInvalid, "event %s: its WABA has no webhook subscription", id)
		}
		nk := c.NewKeys[i]
		if len(nk) != 16 || ob.Get(nk) != nil || slicesContainKey(events, nk) {
			return nil, domainErr(ErrInvalid, "webhook redelivery needs a new 16-byte key per event")
		}
		events = append(events, OutboxEvent{Key: bytes.Clone(nk), WABAID: l.WABAID, BusinessID: l.BusinessID,
			PhoneNumberID: l.PhoneNumberID, Body: l.Body, CreatedAt: l.CreatedAt, NextAt: c.At})
	}
	for _, e := range events {
		mustPut(tx, bucketOutbox, e.Key, marshal(e))
	}
	return nil, nil
}

// retentionMs is a phone's retention in ms (unknown or "": the maximum).
func retentionMs(tx *bolt.Tx, phoneID string) int64 {
	r := MaxRetention
	if v := tx.Bucket(bucketPhones).Get([]byte(phoneID)); phoneID != "" && v != nil {
		var p Phone
		decode(v, &p)
		r = p.EffectiveRetention()
	}
	return r.Milliseconds()
}

func slicesContainKey(events []OutboxEvent, k []byte) bool {
	for _, e := range events {
		if bytes.Equal(e.Key, k) {
			return true
		}
	}
	return false
}
