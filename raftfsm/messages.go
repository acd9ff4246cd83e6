package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// WindowMillis is the customer service window: 24 hours.
const WindowMillis = 24 * 60 * 60 * 1000

// Message directions.
const (
	DirectionOut = "out"
	DirectionIn  = "in"
)

// Message is a stored message. Content is opaque here (encoded by the
// cloudapi package; sealed by a later layer).
type Message struct {
	Key           []byte
	WAMID         string
	PhoneNumberID string
	BusinessID    string
	Peer          string // consumer wa_id
	Direction     string
	Type          string
	Content       []byte
	CallbackData  string
	Status        string
	CreatedAt     int64
	UpdatedAt     int64
	// NetworkID is the network's id of an inbound message (the sender's
	// envelope id), for read receipts.
	NetworkID string
}

// AcceptMessage is the payload of CmdAcceptMessage. Key and CreatedAt are
// chosen by the proposer.
type AcceptMessage struct {
	Key           []byte
	WAMID         string
	PhoneNumberID string
	BusinessID    string
	To            string
	Type          string
	Content       []byte
	CallbackData  string
	RequireWindow bool
	CreatedAt     int64
}

// RecordInbound is the payload of CmdRecordInbound.
type RecordInbound struct {
	Key           []byte
	WAMID         string
	PhoneNumberID string
	From          string
	Type          string
	Content       []byte
	ReceivedAt    int64
	// NetworkID is the sender's envelope id.
	NetworkID string
	// Event is the webhook to queue, built by the proposer; it is queued
	// only if the WABA has a subscription.
	Event *OutboxEvent
}

// MarkRead is the payload of CmdMarkRead.
type MarkRead struct {
	PhoneNumberID string
	WAMID         string
	At            int64
	// Typing also shows the consumer a typing indicator.
	Typing bool
}

func (f *FSM) applyAcceptMessage(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c AcceptMessage
	decode(payload, &c)
	if len(c.Key) != 16 || c.WAMID == "" || c.To == "" || c.Type == "" {
		return nil, domainErr(ErrInvalid, "message key, id, recipient and type are required")
	}
	var p Phone
	v := tx.Bucket(bucketPhones).Get([]byte(c.PhoneNumberID))
	if v == nil {
		return nil, domainErr(ErrNotFound, "phone number")
	}
	decode(v, &p)
	if p.BusinessID != c.BusinessID {
		return nil, domainErr(ErrNotFound, "phone number")
	}
	if tx.Bucket(bucketMessageIDs).Get([]byte(c.WAMID)) != nil || tx.Bucket(bucketMessages).Get(c.Key) != nil {
		return nil, domainErr(ErrConflict, "message id")
	}
	if c.RequireWindow {
		w := tx.Bucket(bucketWindows).Get(windowKey(c.PhoneNumberID, c.To))
		if len(w) != 8 || c.CreatedAt-int64(beUint64(w)) > WindowMillis {
			return nil, ErrWindowClosed
		}
	}
	mustPut(tx, bucketMessages, c.Key, marshal(Message{
		Key: c.Key, WAMID: c.WAMID, PhoneNumberID: c.PhoneNumberID, BusinessID: c.BusinessID, Peer: c.To,
		Direction: DirectionOut, Type: c.Type, Content: c.Content, CallbackData: c.CallbackData,
		Status: StatusAccepted, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt,
	}))
	mustPut(tx, bucketMessageIDs, []byte(c.WAMID), c.Key)
	// The network connector picks it up from the pending queue.
	mustPut(tx, bucketSignalPending, c.Key, []byte(c.PhoneNumberID))
	return nil, nil
}

func (f *FSM) applyRecordInbound(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RecordInbound
	decode(payload, &c)
	if err := checkRecordInbound(tx, &c); err != nil {
		return nil, err
	}
	recordInbound(tx, &c)
	return nil, nil
}

// checkRecordInbound validates an inbound message against the state.
func checkRecordInbound(tx *bolt.Tx, c *RecordInbound) error {
	if len(c.Key) != 16 || c.WAMID == "" || c.From == "" {
		return domainErr(ErrInvalid, "message key, id and sender are required")
	}
	if tx.Bucket(bucketPhones).Get([]byte(c.PhoneNumberID)) == nil {
		return domainErr(ErrNotFound, "phone number")
	}
	if tx.Bucket(bucketMessageIDs).Get([]byte(c.WAMID)) != nil || tx.Bucket(bucketMessages).Get(c.Key) != nil {
		return domainErr(ErrConflict, "message id")
	}
	return nil
}

// recordInbound stores a checked inbound message, queues its webhook and
// opens the 24-hour window.
func recordInbound(tx *bolt.Tx, c *RecordInbound) {
	var p Phone
	decode(tx.Bucket(bucketPhones).Get([]byte(c.PhoneNumberID)), &p)
	mustPut(tx, bucketMessages, c.Key, marshal(Message{
		Key: c.Key, WAMID: c.WAMID, PhoneNumberID: c.PhoneNumberID, BusinessID: p.BusinessID, Peer: c.From,
		Direction: DirectionIn, Type: c.Type, Content: c.Content, Status: "received",
		CreatedAt: c.ReceivedAt, UpdatedAt: c.ReceivedAt, NetworkID: c.NetworkID,
	}))
	mustPut(tx, bucketMessageIDs, []byte(c.WAMID), c.Key)
	if c.Event != nil {
		enqueue(tx, p.WABAID, p.BusinessID, c.Event)
	}
	wk := windowKey(c.PhoneNumberID, c.From)
	if w := tx.Bucket(bucketWindows).Get(wk); len(w) != 8 || int64(beUint64(w)) < c.ReceivedAt {
		mustPut(tx, bucketWindows, wk, be64(c.ReceivedAt))
	}
}

func (f *FSM) applyMarkRead(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c MarkRead
	decode(payload, &c)
	key := tx.Bucket(bucketMessageIDs).Get([]byte(c.WAMID))
	if key == nil {
		return nil, domainErr(ErrNotFound, "message")
	}
	key = bytes.Clone(key)
	var m Message
	decode(tx.Bucket(bucketMessages).Get(key), &m)
	if m.PhoneNumberID != c.PhoneNumberID || m.Direction != DirectionIn {
		return nil, domainErr(ErrNotFound, "message")
	}
	if m.Status == "read" {
		return nil, nil
	}
	m.Status, m.UpdatedAt = "read", c.At
	mustPut(tx, bucketMessages, key, marshal(m))
	// The connector tells the consumer's phone (read receipt, typing).
	typing := []byte{0}
	if c.Typing {
		typing[0] = 1
	}
	mustPut(tx, bucketSignalReads, key, typing)
	return nil, nil
}

// MessageByID returns a stored message.
func (f *FSM) MessageByID(wamid string) (Message, error) {
	var m Message
	err := f.View(func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketMessageIDs).Get([]byte(wamid))
		if key == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketMessages).Get(key)
		if v == nil {
			return ErrNotFound
		}
		return unmarshal(v, &m)
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
