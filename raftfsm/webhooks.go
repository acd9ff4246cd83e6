package raftfsm

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Subscription is a WABA's subscription of its app (set through
// /{waba-id}/subscribed_apps); CallbackURL is the WABA's override, verified
// by the handshake ("": the app's callback; see webhookconfig.go).
type Subscription struct {
	WABAID      string
	BusinessID  string
	AppID       string
	CallbackURL string
	CreatedAt   int64
}

// SetSubscription is the payload of CmdSetSubscription.
type SetSubscription struct {
	WABAID      string
	BusinessID  string
	AppID       string
	CallbackURL string
	At          int64
}

// DeleteSubscription is the payload of CmdDeleteSubscription.
type DeleteSubscription struct {
	WABAID     string
	BusinessID string
}

// OutboxEvent is one webhook waiting for delivery. Body is the exact JSON
// to POST, sealed by the proposer with aad WebhookAAD(WABAID) (it carries
// message content and consumer numbers); the dispatcher opens it and signs
// it with the app secret at send time.
type OutboxEvent struct {
	Key           []byte
	WABAID        string
	BusinessID    string
	PhoneNumberID string // the phone whose retention applies ("" for WABA-level events: the maximum)
	Body          []byte
	CreatedAt     int64
	Attempts      int
	NextAt        int64
	LastStatus    string
	LastAttemptAt int64
	// Group is the message the event is about (its IDRef; "" for events
	// of no message): a group's events are delivered one at a time, in
	// the order queued (outboxorder.go).
	Group string `codec:",omitempty"`
	// Held: an older event of the group is still queued; not deliverable
	// until it leaves the outbox.
	Held bool `codec:",omitempty"`
}

// WebhookAttempt is the payload of CmdWebhookAttempt: the dispatcher's
// report of one attempt, with the next try chosen by the leader.
type WebhookAttempt struct {
	Key       []byte
	Delivered bool
	GiveUp    bool
	Status    string // "200", "503", "timeout", …
	At        int64
	NextAt    int64
}

// WebhookAAD is the additional data an outbox body is sealed with.
func WebhookAAD(wabaID string) []byte { return []byte("webhook:" + wabaID) }

// enqueue adds ev to the outbox when the WABA has a subscription.
func enqueue(tx *bolt.Tx, wabaID, businessID string, ev *OutboxEvent) {
	if tx.Bucket(bucketSubscriptions).Get([]byte(wabaID)) == nil || len(ev.Key) != 16 {
		return
	}
	e := *ev
	e.WABAID, e.BusinessID, e.NextAt = wabaID, businessID, ev.CreatedAt
	mustPut(tx, bucketOutbox, e.Key, marshal(e))
}

func (f *FSM) applySetSubscription(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetSubscription
	decode(payload, &c)
	return nil, setSubscription(tx, c)
}

func setSubscription(tx *bolt.Tx, c SetSubscription) error {
	v := tx.Bucket(bucketWABAs).Get([]byte(c.WABAID))
	if v == nil {
		return domainErr(ErrNotFound, "waba")
	}
	var w WABA
	decode(v, &w)
	if w.BusinessID != c.BusinessID {
		return domainErr(ErrNotFound, "waba")
	}
	if c.AppID == "" {
		return domainErr(ErrInvalid, "app is required")
	}
	mustPut(tx, bucketSubscriptions, []byte(c.WABAID), marshal(Subscription{
		WABAID: c.WABAID, BusinessID: c.BusinessID, AppID: c.AppID, CallbackURL: c.CallbackURL, CreatedAt: c.At}))
	return nil
}

func (f *FSM) applyDeleteSubscription(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c DeleteSubscription
	decode(payload, &c)
	v := tx.Bucket(bucketSubscriptions).Get([]byte(c.WABAID))
	if v == nil {
		return nil, domainErr(ErrNotFound, "subscription")
	}
	var s Subscription
	decode(v, &s)
	if s.BusinessID != c.BusinessID {
		return nil, domainErr(ErrNotFound, "subscription")
	}
	mustDelete(tx, bucketSubscriptions, []byte(c.WABAID))
	return nil, nil
}

func (f *FSM) applyWebhookAttempt(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c WebhookAttempt
	decode(payload, &c)
	return nil, webhookAttempt(tx, c, false)
}

// WebhookAttempts is the payload of CmdWebhookAttempts: one dispatcher
// round's outcomes, applied in order.
type WebhookAttempts struct {
	Attempts []WebhookAttempt
}

// applyWebhookAttempts records each outcome as CmdWebhookAttempt would;
// an event no longer queued (already settled) is skipped, not an error
// for the round.
func (f *FSM) applyWebhookAttempts(tx *bolt.Tx, payload []byte) ([]byte, error) {
	return nil, webhookRound(tx, payload, false)
}

// applyWebhookAttemptsV2 is applyWebhookAttempts keeping each finished
// event's sealed body, phone number and group in its log entry, so it can
// be redelivered (CmdWebhookRedeliver).
func (f *FSM) applyWebhookAttemptsV2(tx *bolt.Tx, payload []byte) ([]byte, error) {
	return nil, webhookRound(tx, payload, true)
}

// webhookRound applies a round's outcomes in order, skipping events no
// longer queued.
func webhookRound(tx *bolt.Tx, payload []byte, keepBody bool) error {
	var c WebhookAttempts
	decode(payload, &c)
	for _, a := range c.Attempts {
		_ = webhookAttempt(tx, a, keepBody)
	}
	return nil
}

// webhookAttempt records one outcome; keepBody keeps a finished event's
// sealed body (and phone number and group) in the delivery log.
func webhookAttempt(tx *bolt.Tx, c WebhookAttempt, keepBody bool) error {
	v := tx.Bucket(bucketOutbox).Get(c.Key)
	if v == nil {
		return domainErr(ErrNotFound, "outbox event")
	}
	var e OutboxEvent
	decode(v, &e)
	if c.Delivered || c.GiveUp {
		mustDelete(tx, bucketOutbox, bytes.Clone(c.Key))
		outboxLeft(tx, &e, c.At)
		outcome := WebhookDropped
		if c.Delivered {
			outcome = WebhookDelivered
		}
		l := WebhookLogEntry{WABAID: e.WABAID, BusinessID: e.BusinessID, CreatedAt: e.CreatedAt,
			Attempts: e.Attempts + 1, LastStatus: c.Status, LastAttemptAt: c.At, Outcome: outcome}
		if keepBody {
			l.Body, l.PhoneNumberID, l.Group = e.Body, e.PhoneNumberID, e.Group
		}
		logWebhook(tx, c.Key, l)
		return nil
	}
	e.Attempts++
	e.LastStatus, e.LastAttemptAt, e.NextAt = c.Status, c.At, c.NextAt
	mustPut(tx, bucketOutbox, bytes.Clone(c.Key), marshal(e))
	return nil
}

// Outcomes of a webhook event that left the outbox.
const (
	WebhookDelivered = "delivered" // the receiver answered 200
	WebhookDropped   = "dropped"   // given up: too old, unsubscribed or unreadable
)

// WebhookLogKeep is how long the delivery log keeps an event after it was
// queued.
const WebhookLogKeep = 7 * 24 * time.Hour

// webhookLogPrune bounds the old entries one attempt deletes, so the log's
// upkeep stays O(1) per write.
const webhookLogPrune = 16

// WebhookLogEntry is one finished event in the delivery log: what happened
// to it and, when logged by CmdWebhookAttemptsV2, its body still sealed
// as in the outbox (so shredding the data key covers it), for redelivery.
type WebhookLogEntry struct {
	WABAID        string
	BusinessID    string
	CreatedAt     int64
	Attempts      int
	LastStatus    string
	LastAttemptAt int64
	Outcome       string // WebhookDelivered or WebhookDropped
	// Body is the event's sealed body (nil: logged by an older binary,
	// cannot be redelivered); PhoneNumberID and Group as in the outbox.
	Body          []byte `codec:",omitempty"`
	PhoneNumberID string `codec:",omitempty"`
	Group         string `codec:",omitempty"`
}

// logWebhook records a finished event and drops a few entries older than
// WebhookLogKeep (relative to the attempt's time, chosen by the leader).
func logWebhook(tx *bolt.Tx, key []byte, e WebhookLogEntry) {
	mustPut(tx, bucketWebhookLog, bytes.Clone(key), marshal(e))
	pruneWebhookLog(tx.Bucket(bucketWebhookLog), e.LastAttemptAt-WebhookLogKeep.Milliseconds(), webhookLogPrune)
}

// webhookLogAge is the part of a WebhookLogEntry the log's pruning reads
// (the codec skips the other fields).
type webhookLogAge struct {
	CreatedAt int64
}

// WebhookLog visits finished events newest first until fn returns false.
func (f *FSM) WebhookLog(fn func(key []byte, e WebhookLogEntry) bool) error {
	return f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketWebhookLog).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e WebhookLogEntry
			if err := unmarshal(v, &e); err != nil {
				return err
			}
			if !fn(k, e) {
				return nil
			}
		}
		return nil
	})
}

// Subscription returns a WABA's webhook subscription.
func (f *FSM) Subscription(wabaID string) (Subscription, error) {
	var s Subscription
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSubscriptions).Get([]byte(wabaID))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &s)
	})
	return s, err
}

// WABA returns a WABA record.
func (f *FSM) WABA(id string) (WABA, error) {
	var w WABA
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketWABAs).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &w)
	})
	return w, err
}

// Outbox returns up to limit queued events in queue order (limit ≤ 0: all).
func (f *FSM) Outbox(limit int) ([]OutboxEvent, error) {
	return f.OutboxScan(limit, nil)
}

// OutboxScan is Outbox without the events whose key skip reports (they are
// not decoded: the dispatcher skips those it is already delivering).
func (f *FSM) OutboxScan(limit int, skip func(key []byte) bool) ([]OutboxEvent, error) {
	var out []OutboxEvent
	err := f.OutboxEach(skip, func(e OutboxEvent) bool {
		out = append(out, e)
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// OutboxEach visits queued events in queue order until fn returns false,
// decoding only those skip does not report. fn runs inside a read
// transaction: it must not propose or open another transaction.
func (f *FSM) OutboxEach(skip func(key []byte) bool, fn func(OutboxEvent) bool) error {
	return f.OutboxEachFrom(nil, skip, fn)
}

// OutboxEachFrom is OutboxEach starting at the first event whose key is at
// or after from and wrapping around to the head of the queue, so each event
// is visited at most once. Bounded walks that resume where the previous one
// stopped reach every event in turn, however many wait before it.
func (f *FSM) OutboxEachFrom(from []byte, skip func(key []byte) bool, fn func(OutboxEvent) bool) error {
	return f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		visit := func(k, v []byte) (bool, error) {
			if skip != nil && skip(k) {
				return true, nil
			}
			e, err := readOutboxRecord(v)
			if err != nil {
				return false, err
			}
			return fn(e), nil
		}
		k, v := c.First()
		if len(from) > 0 {
			k, v = c.Seek(from)
		}
		for ; k != nil; k, v = c.Next() {
			if more, err := visit(k, v); !more || err != nil {
				return err
			}
		}
		if len(from) == 0 {
			return nil
		}
		for k, v := c.First(); k != nil && bytes.Compare(k, from) < 0; k, v = c.Next() {
			if more, err := visit(k, v); !more || err != nil {
				return err
			}
		}
		return nil
	})
}

// Subscriptions returns every WABA's webhook subscription by WABA id.
func (f *FSM) Subscriptions() (map[string]Subscription, error) {
	out := map[string]Subscription{}
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var s Subscription
			if err := unmarshal(v, &s); err != nil {
				return err
			}
			out[string(k)] = s
			return nil
		})
	})
	return out, err
}

// SetSubscriptionV2 is the payload of CmdSetSubscriptionV2:
// SetSubscription with Installed, the account_update PARTNER_APP_INSTALLED
// webhook built by the proposer, queued only when the WABA had no
// subscription (a new callback override is no new installation).
type SetSubscriptionV2 struct {
	SetSubscription
	Installed *OutboxEvent `codec:",omitempty"`
}

func (f *FSM) applySetSubscriptionV2(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetSubscriptionV2
	decode(payload, &c)
	isNew := tx.Bucket(bucketSubscriptions).Get([]byte(c.WABAID)) == nil
	if err := setSubscription(tx, c.SetSubscription); err != nil {
		return nil, err
	}
	if isNew && c.Installed != nil {
		enqueue(tx, c.WABAID, c.BusinessID, c.Installed)
	}
	return nil, nil
}
