package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// CmdWebhookAttemptsV3 is CmdWebhookAttemptsV2 in the binary encoding
// (EncodeWebhookAttempts), applied without reflection (webhookwire.go)
// and pruning the delivery log once per round instead of once per event.
// What the dispatcher proposes; 83 and 118 still apply, so older logs
// replay. Not ignorable: every node must run this binary before one of
// them leads, as for 118.
const CmdWebhookAttemptsV3 CommandType = 165

// Flags of one attempt in a CmdWebhookAttemptsV3 payload.
const (
	attemptDelivered = 1 << iota
	attemptGiveUp
)

// EncodeWebhookAttempts encodes c as a CmdWebhookAttemptsV3 command: a
// count, then per attempt the key, a flags byte, the status and the two
// times.
func EncodeWebhookAttempts(c WebhookAttempts) []byte {
	n := 0
	for i := range c.Attempts {
		n += len(c.Attempts[i].Key) + len(c.Attempts[i].Status)
	}
	w := newCommand(CmdWebhookAttemptsV3, 10+fieldsLen(2*len(c.Attempts), n)+len(c.Attempts)*21)
	w.uvarint(uint64(len(c.Attempts)))
	for i := range c.Attempts {
		a := &c.Attempts[i]
		w.bytes(a.Key)
		var f byte
		if a.Delivered {
			f |= attemptDelivered
		}
		if a.GiveUp {
			f |= attemptGiveUp
		}
		w.byte1(f)
		w.str(a.Status)
		w.varint(a.At)
		w.varint(a.NextAt)
	}
	return w.b
}

// DecodeWebhookAttempts decodes a CmdWebhookAttemptsV3 payload; nothing
// aliases payload.
func DecodeWebhookAttempts(payload []byte) (WebhookAttempts, error) {
	var c WebhookAttempts
	r := rbuf{b: payload}
	checkHotVersion(&r)
	// An attempt is at least 5 bytes: key, flags, status, two times.
	if n := r.count(5); n > 0 {
		c.Attempts = make([]WebhookAttempt, n)
		for i := range c.Attempts {
			a := &c.Attempts[i]
			a.Key = r.bytes()
			f := r.byte1()
			if f&^(attemptDelivered|attemptGiveUp) != 0 {
				r.fail("bad attempt flags")
			}
			a.Delivered, a.GiveUp = f&attemptDelivered != 0, f&attemptGiveUp != 0
			a.Status = r.str()
			a.At = r.varint()
			a.NextAt = r.varint()
		}
	}
	return c, r.end()
}

// applyWebhookAttemptsV3 records a round's outcomes in order as
// CmdWebhookAttemptsV2 does (an event no longer queued is skipped), then
// prunes the delivery log once, relative to the latest finish.
func (f *FSM) applyWebhookAttemptsV3(tx *bolt.Tx, payload []byte) ([]byte, error) {
	c := mustDecodeHot(payload, DecodeWebhookAttempts)
	ob, lb := tx.Bucket(bucketOutbox), tx.Bucket(bucketWebhookLog)
	// The log is written in key order (keys are queueing times) and only
	// pruned at its head: full pages, not bbolt's default half-full
	// splits, halve the pages a round writes. Layout only: the content,
	// and so Dump, is the same.
	lb.FillPercent = 1.0
	oc := ob.Cursor()
	logged, latest := 0, int64(0)
	for _, a := range c.Attempts {
		// One seek finds the record and deletes it (Get and Delete would
		// each walk the tree).
		k, v := oc.Seek(a.Key)
		if k == nil || !bytes.Equal(k, a.Key) {
			continue
		}
		if !a.Delivered && !a.GiveUp {
			e := decodeOutboxRecord(v)
			e.Attempts++
			e.LastStatus, e.LastAttemptAt, e.NextAt = a.Status, a.At, a.NextAt
			mustPut(tx, bucketOutbox, a.Key, marshal(e))
			continue
		}
		// The record's body goes into its log entry below; the stored
		// bytes stay readable until the commit, so it is not copied first.
		e := viewOutboxRecord(v)
		if err := oc.Delete(); err != nil {
			panic("raftfsm: delete outbox: " + err.Error())
		}
		outboxLeft(tx, &e, a.At)
		outcome := WebhookDropped
		if a.Delivered {
			outcome = WebhookDelivered
		}
		mustPut(tx, bucketWebhookLog, a.Key, encodeWebhookLogEntry(&WebhookLogEntry{WABAID: e.WABAID,
			BusinessID: e.BusinessID, CreatedAt: e.CreatedAt, Attempts: e.Attempts + 1, LastStatus: a.Status,
			LastAttemptAt: a.At, Outcome: outcome, Body: e.Body, PhoneNumberID: e.PhoneNumberID, Group: e.Group}))
		if logged == 0 || a.At > latest {
			latest = a.At
		}
		logged++
	}
	if logged > 0 {
		pruneWebhookLog(lb, latest-WebhookLogKeep.Milliseconds(), logged*webhookLogPrune)
	}
	return nil, nil
}

// pruneWebhookLog deletes up to limit of the oldest log entries queued
// before horizon.
func pruneWebhookLog(b *bolt.Bucket, horizon int64, limit int) {
	var old [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(old) < limit; k, v = c.Next() {
		// Only the age is needed: decoding the whole entry would copy its
		// sealed body (the oldest entry is almost always young enough to
		// stop at).
		var l webhookLogAge
		decode(v, &l)
		if l.CreatedAt >= horizon {
			break
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			panic("raftfsm: prune webhook log: " + err.Error())
		}
	}
}
