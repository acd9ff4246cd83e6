package raftfsm

import (
	"bytes"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// WindowMillis is the customer service window: 24 hours.
const WindowMillis = 24 * 60 * 60 * 1000

// Message directions.
const (
	DirectionOut = "out"
	DirectionIn  = "in"
)

// Message is a stored message. Nothing in it names the consumer or the
// message in clear: the wamid (which embeds the consumer's number) is kept
// only as IDRef, a hash; the consumer as PeerRef (a keyed hash, see
// seal.ConsumerRef) and PeerSealed, sealed under the same data key as the
// content so that it dies with it; so is the business's
// biz_opaque_callback_data (CallbackSealed).
type Message struct {
	Key           []byte
	IDRef         string // MessageIDRef(wamid)
	IDSealed      []byte // the wamid, sealed with aad IDAAD(IDRef) (the connector needs it)
	PhoneNumberID string
	BusinessID    string
	PeerRef       string // consumer reference (seal.ConsumerRef)
	PeerSealed    []byte // consumer wa_id, sealed with aad PeerAAD(wamid)
	Direction     string
	Type          string
	Content       []byte // sealed with aad = wamid
	// CallbackSealed is the send request's biz_opaque_callback_data,
	// sealed with aad CallbackAAD(wamid) (empty: none).
	CallbackSealed []byte
	Status         string
	CreatedAt      int64
	UpdatedAt      int64
	// NetworkID is the network's id of an inbound message (the sender's
	// envelope id), for read receipts.
	NetworkID string
	// Category is an outbound message's pricing category (its template's
	// category, else service), for statistics and billing.
	Category string
}

// IDAAD is the additional data a message's sealed wamid is bound to.
func IDAAD(idRef string) []byte { return []byte("wamid:" + idRef) }

// PeerAAD is the additional data a message's sealed peer number is bound to.
func PeerAAD(wamid string) []byte { return []byte("peer:" + wamid) }

// CallbackAAD is the additional data a message's sealed
// biz_opaque_callback_data is bound to.
func CallbackAAD(wamid string) []byte { return []byte("callback:" + wamid) }

// AcceptMessage is the payload of CmdAcceptMessage. Key and CreatedAt are
// chosen by the proposer, which also seals Content, PeerSealed and
// CallbackSealed.
type AcceptMessage struct {
	Key           []byte
	IDRef         string
	IDSealed      []byte
	PhoneNumberID string
	BusinessID    string
	PeerRef       string
	PeerSealed    []byte
	Type          string
	Content       []byte
	// CallbackSealed is biz_opaque_callback_data, sealed like PeerSealed.
	CallbackSealed []byte
	RequireWindow  bool
	CreatedAt      int64
	// TemplateName and TemplateLanguage name the template of a template
	// message: Apply looks up its category (the pricing category).
	TemplateName     string
	TemplateLanguage string
	// ClosedWindowEvent, when set, is the proposer's sealed status webhook
	// reporting the message failed with 131047: a RequireWindow message
	// outside the window is then stored as failed and reported by this
	// event instead of refused, as Meta's Cloud API does (the send answers
	// 200 with a wamid; the failure arrives as a status webhook). Carried
	// only by the msgpack CmdAcceptMessage (closedwindow.go).
	ClosedWindowEvent *OutboxEvent `codec:",omitempty"`
}

// RecordInbound is the payload of CmdRecordInbound.
type RecordInbound struct {
	Key           []byte
	IDRef         string
	IDSealed      []byte
	PhoneNumberID string
	PeerRef       string
	PeerSealed    []byte
	Type          string
	Content       []byte
	ReceivedAt    int64
	// NetworkID is the sender's envelope id.
	NetworkID string
	// Event is the webhook to queue, built by the proposer (body sealed); it is queued
	// only if the WABA has a subscription.
	Event *OutboxEvent
}

// MarkRead is the payload of CmdMarkRead.
type MarkRead struct {
	PhoneNumberID string
	IDRef         string
	At            int64
	// Typing also shows the consumer a typing indicator.
	Typing bool
}

// putMessage stores m under its primary key (messageKey: its phone's
// range, in time order) with the one secondary entry a lookup needs: the
// wamid reference → primary key (statuses, mark-as-read, GET), unless the
// reference is keyed (idref.go).
func putMessage(tx *bolt.Tx, m *Message) {
	pk := messageKey(m.PhoneNumberID, m.Key)
	mustPut(tx, bucketMessages, pk, encodeMessage(m))
	if needsRefEntry(m.IDRef, m.Key) {
		mustPut(tx, bucketMessageIDs, []byte(m.IDRef), pk)
	}
}

// putAccepted is putMessage for the accept path, in the batch's memory
// (alloc.go); refEntry is needsRefEntry(m.IDRef, m.Key).
func (b *applyBatch) putAccepted(m *Message, refEntry bool) {
	pk := appendMessageKey(b.vals.take(len(m.PhoneNumberID)+1+len(m.Key)), m.PhoneNumberID, m.Key)
	put(b.bucket(&b.bks.messages, bucketMessages), pk, appendMessage(b.vals.take(messageLen(m)), m))
	if refEntry {
		mustPut(b.tx, bucketMessageIDs, []byte(m.IDRef), pk)
	}
}

// lookupMessage finds a message of phoneID ("": any phone) by its wamid
// reference: its primary key (a copy) and stored record (valid in tx),
// nil when absent. Callers still check the record's phone.
func lookupMessage(tx *bolt.Tx, phoneID, idRef string) (pk, v []byte) {
	if key := refKey(idRef); key != nil {
		if pk, v = lookupKeyed(tx, phoneID, idRef, key); pk != nil {
			return pk, v
		}
	}
	k := tx.Bucket(bucketMessageIDs).Get([]byte(idRef))
	if k == nil {
		return nil, nil
	}
	if v = tx.Bucket(bucketMessages).Get(k); v == nil {
		return nil, nil
	}
	return bytes.Clone(k), v
}

// messageTaken reports whether a new message would clash with a stored
// one: its wamid reference, its primary key, or (for the connector's
// queues, keyed by the 16-byte message key alone) a queued message of any
// phone with the same key.
func messageTaken(tx *bolt.Tx, phoneID, idRef string, key []byte, queues ...[]byte) bool {
	if needsRefEntry(idRef, key) && tx.Bucket(bucketMessageIDs).Get([]byte(idRef)) != nil ||
		tx.Bucket(bucketMessages).Get(messageKey(phoneID, key)) != nil {
		return true
	}
	for _, q := range queues {
		if tx.Bucket(q).Get(key) != nil {
			return true
		}
	}
	return false
}

func (f *FSM) applyAcceptMessage(_ *bolt.Tx, payload []byte) ([]byte, error) {
	var c AcceptMessage
	decode(payload, &c)
	return nil, f.acceptMessage(&c)
}

func (f *FSM) applyAcceptMessageV2(_ *bolt.Tx, payload []byte) ([]byte, error) {
	c := mustDecodeHot(payload, decodeAcceptMessage)
	return nil, f.acceptMessage(&c)
}

// acceptMessage stores an outbound message accepted by the API and queues
// it for the connector. Every check comes before the first write.
func (f *FSM) acceptMessage(c *AcceptMessage) error {
	b := f.batch
	tx := b.tx
	if len(c.Key) != messageKeyLen || c.IDRef == "" || c.PeerRef == "" || c.Type == "" {
		return domainErr(ErrInvalid, "message key, id, recipient and type are required")
	}
	p := b.phone(c.PhoneNumberID)
	if p == nil || p.BusinessID != c.BusinessID {
		return domainErr(ErrNotFound, "phone number")
	}
	refEntry := needsRefEntry(c.IDRef, c.Key)
	if b.acceptKeyTaken(c.PhoneNumberID, c.IDRef, c.Key, refEntry) {
		return domainErr(ErrConflict, "message id")
	}
	b.key = appendWindowKey(b.key[:0], c.PhoneNumberID, c.PeerRef)
	w := b.window(b.key)
	windowOpen := len(w) == 8 && c.CreatedAt-int64(beUint64(w)) <= WindowMillis
	closed := c.RequireWindow && !windowOpen
	if closed && c.ClosedWindowEvent == nil {
		return ErrWindowClosed
	}
	category, tplID := CategoryService, ""
	if c.Type == "template" {
		t := b.template(p.WABAID, c.TemplateName, c.TemplateLanguage)
		category = t.category
		if t.counted {
			tplID = t.id
		}
	}
	// A template outside the window is business-initiated: it counts
	// against the messaging-limit tier (distinct consumers per rolling 24
	// hours). The check only reads, so a refusal leaves nothing behind.
	businessInitiated := c.Type == "template" && !windowOpen
	if businessInitiated {
		if limit, _ := TierLimit(TierOf(*p)); limit > 0 &&
			b.tierRefused(setTier, c.PhoneNumberID, c.PeerRef, c.CreatedAt-tierHorizon, limit) {
			return ErrMessagingLimit
		}
	}
	// The consumer's times in the in-memory indexes, in one lookup: the
	// tier check above may have flushed its set, nothing below changes
	// them before they are used (a rate prune moves other pairs only).
	times := b.index.times(c.PhoneNumberID, c.PeerRef)
	if err := b.rateAdmit(p, c.PeerRef, c.CreatedAt, times[slotPair]); err != nil {
		return err
	}
	b.tops.raise(c.PhoneNumberID, c.Key)
	if closed {
		b.failClosedWindow(p, c, category)
		return nil
	}
	b.putAccepted(&Message{
		Key: c.Key, IDRef: c.IDRef, IDSealed: c.IDSealed, PhoneNumberID: c.PhoneNumberID, BusinessID: c.BusinessID,
		PeerRef: c.PeerRef, PeerSealed: c.PeerSealed,
		Direction: DirectionOut, Type: c.Type, Content: c.Content, CallbackSealed: c.CallbackSealed,
		Status: StatusAccepted, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt, Category: category,
	}, refEntry)
	if tplID != "" {
		tagTemplateMessage(tx, c.PhoneNumberID, c.Key, p.WABAID, tplID)
	}
	if category == CategoryMarketing {
		recordMarketingSend(tx, c.PhoneNumberID, c.PeerRef, c.CreatedAt, c.Key)
	}
	b.bumpStat(c.PhoneNumberID, c.CreatedAt, DirectionOut, c.Type, StatusAccepted, category)
	b.distinctTouch(setReach, c.PhoneNumberID, c.PeerRef, c.CreatedAt, reachHorizon, times[slotReach])
	if businessInitiated {
		b.distinctTouch(setTier, c.PhoneNumberID, c.PeerRef, c.CreatedAt, tierHorizon, times[slotTier])
	}
	// The network connector picks it up from the pending queue.
	put(b.bucket(&b.bks.pending, bucketSignalPending), c.Key, b.vals.bytes(c.PhoneNumberID))
	return nil
}

// keyTops are upper bounds of the keys stored where a new message's key
// must not be: a key above them is absent without a lookup. The proposers'
// keys are their clock in ns, so an accept's key is almost always above
// every stored one, and the three B+tree lookups per message of
// messageTaken become one seek per number and queue per batch. A bound
// is loaded from the database on first use and raised by every write of
// an accept; before drops them for any other command (which may write
// these buckets), so a bound is never below a stored key.
type keyTops struct {
	msgs               map[string]keyTop // phone → its range of message_records
	pending, envelopes keyTop
}

// keyTop is the largest stored key (nil: none), once loaded.
type keyTop struct {
	k      []byte
	loaded bool
}

// above reports whether key sorts after the top (so it is not stored).
func (t keyTop) above(key []byte) bool { return t.k == nil || bytes.Compare(key, t.k) > 0 }

// raise keeps key itself, not a copy: it is an accept's key, the
// decoded command's own bytes, which nothing changes.
func (t *keyTop) raise(key []byte) {
	if t.loaded && t.above(key) {
		t.k = key
	}
}

// raise records that an accept stored key in phoneID's range and in the
// pending queue.
func (t *keyTops) raise(phoneID string, key []byte) {
	if m, ok := t.msgs[phoneID]; ok {
		m.raise(key)
		t.msgs[phoneID] = m
	}
	t.pending.raise(key)
}

// detached returns the bounds with keys of their own (a raised key is
// the decoded command's, which the next batch must not keep), or none
// when they cover more numbers than a batch is worth keeping for.
func (t keyTops) detached() keyTops {
	if len(t.msgs) > maxKeptRecords {
		return keyTops{}
	}
	out := keyTops{pending: t.pending.detached(), envelopes: t.envelopes.detached()}
	if t.msgs != nil {
		out.msgs = make(map[string]keyTop, len(t.msgs))
		for phone, m := range t.msgs {
			out.msgs[strings.Clone(phone)] = m.detached()
		}
	}
	return out
}

func (t keyTop) detached() keyTop { return keyTop{k: bytes.Clone(t.k), loaded: t.loaded} }

// lastKey loads a top: the last key of bucket name below prefix (all of
// it when prefix is nil), without the prefix.
func lastKey(tx *bolt.Tx, name, prefix []byte) keyTop {
	c := tx.Bucket(name).Cursor()
	var k []byte
	if prefix == nil {
		k, _ = c.Last()
	} else {
		// The range is prefix…; the first key past it is prefix with its
		// last byte (0) raised to 1.
		end := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
		if k, _ = c.Seek(end); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		if !bytes.HasPrefix(k, prefix) {
			k = nil
		}
	}
	if k == nil {
		return keyTop{loaded: true}
	}
	return keyTop{k: bytes.Clone(k[len(prefix):]), loaded: true}
}

// acceptKeyTaken is messageTaken(tx, phoneID, idRef, key, pending,
// envelopes) with the lookups the bounds rule out skipped.
func (b *applyBatch) acceptKeyTaken(phoneID, idRef string, key []byte, refEntry bool) bool {
	tx := b.tx
	if refEntry && tx.Bucket(bucketMessageIDs).Get([]byte(idRef)) != nil {
		return true
	}
	t := &b.tops
	m, ok := t.msgs[phoneID]
	if !ok {
		m = lastKey(tx, bucketMessages, messageKey(phoneID, nil))
		if t.msgs == nil {
			t.msgs = map[string]keyTop{}
		}
		t.msgs[phoneID] = m
	}
	if !m.above(key) {
		b.key = appendMessageKey(b.key[:0], phoneID, key)
		if b.has(&b.bks.messageCur, &b.bks.messages, bucketMessages, b.key) {
			return true
		}
	}
	for _, q := range []struct {
		top  *keyTop
		name []byte
		cur  **bolt.Cursor
		bk   **bolt.Bucket
	}{{&t.pending, bucketSignalPending, &b.bks.pendingCur, &b.bks.pending},
		{&t.envelopes, bucketSignalEnvelopes, &b.bks.envelopeCur, &b.bks.envelopes}} {
		if !q.top.loaded {
			*q.top = lastKey(tx, q.name, nil)
		}
		if !q.top.above(key) && b.has(q.cur, q.bk, q.name, key) {
			return true
		}
	}
	return false
}

func (f *FSM) applyRecordInbound(_ *bolt.Tx, payload []byte) ([]byte, error) {
	var c RecordInbound
	decode(payload, &c)
	if err := f.checkRecordInbound(&c); err != nil {
		return nil, err
	}
	f.recordInbound(&c)
	return nil, nil
}

// checkRecordInbound validates an inbound message against the state.
func (f *FSM) checkRecordInbound(c *RecordInbound) error {
	if len(c.Key) != messageKeyLen || c.IDRef == "" || c.PeerRef == "" {
		return domainErr(ErrInvalid, "message key, id and sender are required")
	}
	if f.batch.phone(c.PhoneNumberID) == nil {
		return domainErr(ErrNotFound, "phone number")
	}
	if messageTaken(f.batch.tx, c.PhoneNumberID, c.IDRef, c.Key, bucketSignalReads) {
		return domainErr(ErrConflict, "message id")
	}
	return nil
}

// recordInbound stores a checked inbound message, queues its webhook and
// opens the 24-hour window.
func (f *FSM) recordInbound(c *RecordInbound) {
	b := f.batch
	tx := b.tx
	p := b.phone(c.PhoneNumberID)
	putMessage(tx, &Message{
		Key: c.Key, IDRef: c.IDRef, IDSealed: c.IDSealed, PhoneNumberID: c.PhoneNumberID, BusinessID: p.BusinessID,
		PeerRef: c.PeerRef, PeerSealed: c.PeerSealed,
		Direction: DirectionIn, Type: c.Type, Content: c.Content, Status: "received",
		CreatedAt: c.ReceivedAt, UpdatedAt: c.ReceivedAt, NetworkID: c.NetworkID,
	})
	b.bumpStat(c.PhoneNumberID, c.ReceivedAt, DirectionIn, c.Type, StatusReceived, CategoryService)
	if c.Event != nil {
		ev := *c.Event
		ev.PhoneNumberID = c.PhoneNumberID
		enqueue(tx, p.WABAID, p.BusinessID, &ev)
	}
	wk := windowKey(c.PhoneNumberID, c.PeerRef)
	if w := tx.Bucket(bucketWindows).Get(wk); len(w) != 8 || int64(beUint64(w)) < c.ReceivedAt {
		if len(w) == 8 {
			mustDelete(tx, bucketWindowsByTime, windowTimeKey(c.PhoneNumberID, int64(beUint64(w)), c.PeerRef))
		}
		mustPut(tx, bucketWindows, wk, be64(c.ReceivedAt))
		mustPut(tx, bucketWindowsByTime, windowTimeKey(c.PhoneNumberID, c.ReceivedAt, c.PeerRef), nil)
	}
}

func (f *FSM) applyMarkRead(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c MarkRead
	decode(payload, &c)
	pk, v := lookupMessage(tx, c.PhoneNumberID, c.IDRef)
	if pk == nil {
		return nil, domainErr(ErrNotFound, "message")
	}
	m := mustDecodeMessage(pk, v)
	if m.PhoneNumberID != c.PhoneNumberID || m.Direction != DirectionIn {
		return nil, domainErr(ErrNotFound, "message")
	}
	if m.Status == "read" {
		return nil, nil
	}
	m.Status, m.UpdatedAt = "read", c.At
	mustPut(tx, bucketMessages, pk, encodeMessage(&m))
	// The connector tells the consumer's phone (read receipt, typing).
	mustPut(tx, bucketSignalReads, m.Key, readValue(c.Typing, m.PhoneNumberID))
	return nil, nil
}

// readValue is the bucketSignalReads value: typing flag (0/1) | phone-number
// id (so the reader finds the message's primary key).
func readValue(typing bool, phoneID string) []byte {
	return append([]byte{boolByte(typing)}, phoneID...)
}

// envelopeValue is the bucketSignalEnvelopes value: uvarint length |
// phone-number id | sealed envelope.
func envelopeValue(phoneID string, sealed []byte) []byte {
	w := wbuf{b: make([]byte, 0, fieldsLen(1, len(phoneID))+len(sealed))}
	w.str(phoneID)
	w.b = append(w.b, sealed...)
	return w.b
}

// parseEnvelopeValue splits an envelopeValue (ok false when malformed).
func parseEnvelopeValue(v []byte) (phoneID string, sealed []byte, ok bool) {
	r := rbuf{b: v}
	p := r.raw()
	if r.err != nil {
		return "", nil, false
	}
	return string(p), r.b, true
}

// MessageByID returns a stored message by its wamid.
func (f *FSM) MessageByID(wamid string) (Message, error) {
	var m Message
	err := f.View(func(tx *bolt.Tx) error {
		pk, v := lookupMessage(tx, "", MessageIDRef(wamid))
		if pk == nil {
			return ErrNotFound
		}
		var err error
		m, err = decodeMessage(pk, v)
		return err
	})
	return m, err
}

// MessageCount returns how many messages are stored.
func (f *FSM) MessageCount() int {
	n := 0
	_ = f.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketMessages).Stats().KeyN
		return nil
	})
	return n
}
