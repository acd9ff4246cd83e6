package raftfsm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Signal state of the business side (issue 4). The leader runs libsignal
// against an overlay of this state and proposes the resulting bytes; Apply
// never runs crypto. Every record in bucketSignal carries a version, and a
// SignalCommit names the version it read for every key it touches, so a
// commit built on a stale read is refused as a whole (ErrVersion).

// Message statuses, in the order they advance.
const (
	StatusAccepted  = "accepted"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// statusRank orders outbound statuses; a status never moves backwards.
func statusRank(s string) int {
	switch s {
	case StatusAccepted:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	case StatusFailed:
		return 4
	}
	return -1
}

// SignalWrite is one change to a number's Signal store: Key is
// "bucket\x00key" inside the phone number's namespace.
type SignalWrite struct {
	Key    string
	Value  []byte
	Delete bool
}

// SignalExpect is a compare-and-set precondition: Key's version must be
// Version (0 means absent).
type SignalExpect struct {
	Key     string
	Version uint64
}

// OutboundEnvelope is a committed ciphertext for an accepted message,
// waiting to be handed to the network. Sealed holds the sealed envelope
// (recipient, kind, ciphertext); a new leader resends it as is.
type OutboundEnvelope struct {
	MessageKey []byte
	Sealed     []byte
}

// SignalCommit is the payload of CmdSignalCommit: the Signal store changes
// of one operation and its effect, all or nothing.
type SignalCommit struct {
	PhoneNumberID string
	Expect        []SignalExpect
	Writes        []SignalWrite
	// Outbound are ciphertexts of accepted messages (each leaves the
	// pending queue and waits in the envelope outbox).
	Outbound []OutboundEnvelope
	// Inbound is a decrypted inbound message (with its webhook event).
	Inbound *RecordInbound
	// InboundHash dedupes retransmits of the inbound ciphertext.
	InboundHash []byte
	// Failed are accepted messages that cannot be encrypted (no session can
	// be built); each gets status failed with its webhook event.
	Failed []StatusUpdate
}

// StatusUpdate moves one outbound message forward.
type StatusUpdate struct {
	IDRef  string // MessageIDRef(wamid): the wamid embeds the consumer's number
	Status string
	At     int64
	// Event is the status webhook, queued only if the status advanced.
	Event *OutboxEvent
}

// MessageStatuses is the payload of CmdMessageStatuses.
type MessageStatuses struct {
	PhoneNumberID string
	Updates       []StatusUpdate
	// SentKeys are envelope-outbox keys the network accepted; they leave the
	// outbox (their status update is in Updates).
	SentKeys [][]byte
	// ReadsDone are read receipts the network accepted.
	ReadsDone [][]byte
}

// signalKey is the bucketSignal key of key in a phone number's namespace.
func signalKey(phoneID, key string) []byte { return []byte(phoneID + "\x00" + key) }

// signalVersion returns the version of a stored signal value (0 = absent).
func signalVersion(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (f *FSM) applySignalCommit(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SignalCommit
	decode(payload, &c)
	return nil, f.signalCommit(tx, &c)
}

// signalCommit applies one Signal operation: every precondition is checked
// before the first write, so a refused operation changes nothing.
func (f *FSM) signalCommit(tx *bolt.Tx, c *SignalCommit) error {
	if tx.Bucket(bucketPhones).Get([]byte(c.PhoneNumberID)) == nil {
		return domainErr(ErrNotFound, "phone number")
	}
	sb := tx.Bucket(bucketSignal)
	for _, e := range c.Expect {
		if signalVersion(sb.Get(signalKey(c.PhoneNumberID, e.Key))) != e.Version {
			return ErrVersion
		}
	}
	pending := tx.Bucket(bucketSignalPending)
	for _, o := range c.Outbound {
		if len(o.MessageKey) != 16 || pending.Get(o.MessageKey) == nil {
			return domainErr(ErrConflict, "message is not pending")
		}
	}
	for _, u := range c.Failed {
		if err := checkStatusUpdate(tx, c.PhoneNumberID, u); err != nil {
			return err
		}
	}
	hb := tx.Bucket(bucketSignalInbound)
	var hk []byte
	if c.Inbound != nil {
		if c.Inbound.PhoneNumberID != c.PhoneNumberID {
			return domainErr(ErrInvalid, "inbound message of another number")
		}
		if len(c.InboundHash) > 0 {
			hk = append([]byte(c.PhoneNumberID+"\x00"), c.InboundHash...)
			if hb.Get(hk) != nil {
				return domainErr(ErrConflict, "inbound envelope")
			}
		}
		if err := f.checkRecordInbound(c.Inbound); err != nil {
			return err
		}
	}
	// Every precondition held: write everything.
	for _, w := range c.Writes {
		k := signalKey(c.PhoneNumberID, w.Key)
		if w.Delete {
			deleteSignalRecord(tx, c.PhoneNumberID, w.Key)
			continue
		}
		old := sb.Get(k)
		v := make([]byte, 8, 8+len(w.Value))
		binary.BigEndian.PutUint64(v, signalVersion(old)+1)
		v = append(v, w.Value...)
		reindexSignal(tx, c.PhoneNumberID, w.Key, old, v)
		mustPut(tx, bucketSignal, k, v)
	}
	for _, o := range c.Outbound {
		k := bytes.Clone(o.MessageKey)
		mustDelete(tx, bucketSignalPending, k)
		mustPut(tx, bucketSignalEnvelopes, k, envelopeValue(c.PhoneNumberID, o.Sealed))
	}
	for _, u := range c.Failed {
		f.applyStatusUpdate(c.PhoneNumberID, u)
		if pk, _ := lookupMessage(tx, c.PhoneNumberID, u.IDRef); pk != nil {
			_, key, _ := splitMessageKey(pk)
			mustDelete(tx, bucketSignalPending, key)
		}
	}
	if c.Inbound != nil {
		f.recordInbound(c.Inbound)
		if hk != nil {
			mustPut(tx, bucketSignalInbound, hk, be64(c.Inbound.ReceivedAt))
			mustPut(tx, bucketSignalInboundByTime, inboundTimeKey(c.PhoneNumberID, c.Inbound.ReceivedAt, c.InboundHash), nil)
		}
	}
	return nil
}

// checkStatusUpdate validates u against the message it names.
func checkStatusUpdate(tx *bolt.Tx, phoneID string, u StatusUpdate) error {
	if statusRank(u.Status) < 1 {
		return domainErr(ErrInvalid, "status")
	}
	pk, v := lookupMessage(tx, phoneID, u.IDRef)
	if pk == nil {
		return domainErr(ErrNotFound, "message")
	}
	if m := mustDecodeMessage(pk, v); m.PhoneNumberID != phoneID || m.Direction != DirectionOut {
		return domainErr(ErrNotFound, "message")
	}
	return nil
}

// applyStatusUpdate advances a message's status (never backwards, never
// out of failed) and queues the status webhook when it moved.
func (f *FSM) applyStatusUpdate(phoneID string, u StatusUpdate) {
	b := f.batch
	tx := b.tx
	pk, v := lookupMessage(tx, phoneID, u.IDRef)
	if pk == nil {
		return
	}
	m := mustDecodeMessage(pk, v)
	if m.PhoneNumberID != phoneID || m.Direction != DirectionOut ||
		m.Status == StatusFailed || statusRank(u.Status) <= statusRank(m.Status) {
		return
	}
	b.bumpStatusStats(&m, m.Status, u.Status, u.At)
	if m.Type == "template" {
		b.bumpTemplateStats(pk, m.Status, u.Status, u.At)
	}
	m.Status, m.UpdatedAt = u.Status, u.At
	mustPut(tx, bucketMessages, pk, encodeMessage(&m))
	if u.Event != nil {
		p := b.phone(phoneID)
		ev := *u.Event
		ev.PhoneNumberID = phoneID
		enqueueInOrder(tx, p.WABAID, p.BusinessID, &ev, m.IDRef)
	}
}

func (f *FSM) applyMessageStatuses(_ *bolt.Tx, payload []byte) ([]byte, error) {
	var c MessageStatuses
	decode(payload, &c)
	return nil, f.messageStatuses(&c)
}

func (f *FSM) applyMessageStatusesV2(_ *bolt.Tx, payload []byte) ([]byte, error) {
	c := mustDecodeHot(payload, DecodeMessageStatuses)
	return nil, f.messageStatuses(&c)
}

func (f *FSM) messageStatuses(c *MessageStatuses) error {
	tx := f.batch.tx
	if f.batch.phone(c.PhoneNumberID) == nil {
		return domainErr(ErrNotFound, "phone number")
	}
	for _, u := range c.Updates {
		if statusRank(u.Status) < 1 {
			return domainErr(ErrInvalid, "status")
		}
	}
	// Unknown messages (expired, or receipts for ids this number never
	// sent) are skipped: receipts come from the network and may be late.
	for _, u := range c.Updates {
		f.applyStatusUpdate(c.PhoneNumberID, u)
	}
	for _, k := range c.SentKeys {
		if len(k) == 16 {
			mustDelete(tx, bucketSignalEnvelopes, bytes.Clone(k))
		}
	}
	for _, k := range c.ReadsDone {
		if len(k) == 16 {
			mustDelete(tx, bucketSignalReads, bytes.Clone(k))
		}
	}
	return nil
}

// SignalRecord returns a number's Signal store value and its version
// (nil, 0 when absent). The value is a copy.
func (f *FSM) SignalRecord(phoneID, key string) (value []byte, version uint64, err error) {
	err = f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSignal).Get(signalKey(phoneID, key))
		if len(v) >= 8 {
			version = signalVersion(v)
			value = bytes.Clone(v[8:])
		}
		return nil
	})
	return value, version, err
}

// SignalForEach visits a number's Signal store values whose key starts with
// prefix, in key order (keys without the namespace).
func (f *FSM) SignalForEach(phoneID, prefix string, fn func(key string, value []byte, version uint64) error) error {
	return f.View(func(tx *bolt.Tx) error {
		ns := signalKey(phoneID, "")
		p := signalKey(phoneID, prefix)
		c := tx.Bucket(bucketSignal).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(v) < 8 {
				continue
			}
			if err := fn(string(k[len(ns):]), bytes.Clone(v[8:]), signalVersion(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PendingMessage is an accepted outbound message not yet encrypted.
type PendingMessage struct {
	Key     []byte
	Message Message
}

// PendingOutbound returns up to limit accepted messages waiting for
// encryption, oldest first, leaving out (undecoded) those skip reports.
func (f *FSM) PendingOutbound(skip func(key []byte) bool, limit int) ([]PendingMessage, error) {
	out, _, err := f.PendingOutboundFrom(nil, skip, limit)
	return out, err
}

// PendingOutboundFrom is PendingOutbound starting at the first key at or
// after from (nil: the oldest). last is the last key it walked, skipped or
// not (nil when it walked none): a poller resumes near it instead of
// walking a backlog it has already claimed, every poll.
func (f *FSM) PendingOutboundFrom(from []byte, skip func(key []byte) bool, limit int) (out []PendingMessage, last []byte, err error) {
	err = f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignalPending).Cursor()
		msgs := tx.Bucket(bucketMessages)
		var k, phone []byte
		if from == nil {
			k, phone = c.First()
		} else {
			k, phone = c.Seek(from)
		}
		for ; k != nil && len(out) < limit; k, phone = c.Next() {
			last = k
			if skip != nil && skip(k) {
				continue
			}
			pk := messageKey(string(phone), k)
			v := msgs.Get(pk)
			if v == nil {
				continue
			}
			m, err := decodeMessage(pk, v)
			if err != nil {
				return err
			}
			out = append(out, PendingMessage{Key: bytes.Clone(k), Message: m})
		}
		last = bytes.Clone(last)
		return nil
	})
	return out, last, err
}

// StoredEnvelope is a committed outbound ciphertext not yet accepted by the
// network.
type StoredEnvelope struct {
	Key     []byte
	Sealed  []byte
	Message Message
}

// StoredEnvelopes returns up to limit committed envelopes waiting to be
// (re)sent, oldest first, leaving out (undecoded) those skip reports.
func (f *FSM) StoredEnvelopes(skip func(key []byte) bool, limit int) ([]StoredEnvelope, error) {
	var out []StoredEnvelope
	err := f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignalEnvelopes).Cursor()
		msgs := tx.Bucket(bucketMessages)
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if skip != nil && skip(k) {
				continue
			}
			phone, sealed, ok := parseEnvelopeValue(v)
			if !ok {
				return fmt.Errorf("%w: envelope %x", ErrCorrupt, k)
			}
			m, err := storedMessage(msgs, phone, k)
			if err != nil {
				return err
			}
			out = append(out, StoredEnvelope{Key: bytes.Clone(k), Sealed: bytes.Clone(sealed), Message: m})
		}
		return nil
	})
	return out, err
}

// InboundSeen reports whether an inbound ciphertext hash was recorded for
// the number.
func (f *FSM) InboundSeen(phoneID string, hash []byte) bool {
	seen := false
	_ = f.View(func(tx *bolt.Tx) error {
		seen = tx.Bucket(bucketSignalInbound).Get(append([]byte(phoneID+"\x00"), hash...)) != nil
		return nil
	})
	return seen
}

// PendingRead is an inbound message the business marked read.
type PendingRead struct {
	Key     []byte
	Typing  bool
	Message Message
}

// PendingReads returns up to limit read receipts waiting to be sent.
func (f *FSM) PendingReads(limit int) ([]PendingRead, error) {
	var out []PendingRead
	err := f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignalReads).Cursor()
		msgs := tx.Bucket(bucketMessages)
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if len(v) < 1 {
				return fmt.Errorf("%w: read receipt %x", ErrCorrupt, k)
			}
			m, err := storedMessage(msgs, string(v[1:]), k)
			if err != nil {
				return err
			}
			out = append(out, PendingRead{Key: bytes.Clone(k), Typing: v[0] == 1, Message: m})
		}
		return nil
	})
	return out, err
}

// storedMessage reads the message of phoneID with 16-byte key k (zero
// when it is gone).
func storedMessage(msgs *bolt.Bucket, phoneID string, k []byte) (Message, error) {
	pk := messageKey(phoneID, k)
	v := msgs.Get(pk)
	if v == nil {
		return Message{}, nil
	}
	return decodeMessage(pk, v)
}

// inboundTimeKey is the bucketSignalInboundByTime key.
func inboundTimeKey(phoneID string, at int64, hash []byte) []byte {
	return phoneTimeKey(phoneID, at, string(hash))
}

// expireInboundHashes deletes up to budget dedupe records of phoneID
// received before cutoff: the messages they protected are gone, and a late
// retransmit meets an old counter and is acknowledged as a duplicate.
func expireInboundHashes(tx *bolt.Tx, phoneID string, cutoff int64, budget int) int {
	prefix := []byte(phoneID + "\x00")
	idx := dueIndexKeys(tx, bucketSignalInboundByTime, prefix, cutoff, budget)
	for _, k := range idx {
		mustDelete(tx, bucketSignalInbound, append([]byte(phoneID+"\x00"), k[len(prefix)+9:]...))
		mustDelete(tx, bucketSignalInboundByTime, k)
	}
	return len(idx)
}
