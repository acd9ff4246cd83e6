package raftfsm

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// Stored message records (schema 2). A message is one record in
// bucketMessages under messageKey(phone-number id, message key): the
// phone's messages are a key range in time order, so accepting appends and
// expiry deletes the front of the range. The value is a hand-written
// binary encoding (version byte, then the fields in a fixed order); the
// phone-number id and the message key are not repeated in it. IDRef comes
// first so that expiry reads it without decoding the rest.

// messageRecordVersion is the first byte of a stored message record.
const messageRecordVersion = 1

// messageKeyLen is the length of a message key chosen by the proposer:
// BE64 unix ns | BE64 sequence.
const messageKeyLen = 16

// KeySource makes the 16-byte keys proposers give new messages and outbox
// events: the proposer's clock in ns (keys append in time order), then a
// counter of this process from a random start, so that two nodes stamping
// the same nanosecond still make different keys — numbered from 1 on every
// node they did not (equal load keeps the counts close), and the later
// accept was refused as a duplicate. Safe for concurrent use; Apply never
// makes keys.
type KeySource struct{ seq atomic.Uint64 }

// NewKeySource returns a KeySource whose counter starts at a random value.
func NewKeySource() *KeySource {
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	s := &KeySource{}
	s.seq.Store(binary.BigEndian.Uint64(seed[:]))
	return s
}

// Key returns a new key stamped at now.
func (s *KeySource) Key(now time.Time) []byte {
	k := make([]byte, messageKeyLen)
	binary.BigEndian.PutUint64(k[:8], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], s.seq.Add(1))
	return k
}

// messageKey is the bucketMessages key: phone-number id 0 message key.
func messageKey(phoneID string, key []byte) []byte {
	return appendMessageKey(make([]byte, 0, len(phoneID)+1+len(key)), phoneID, key)
}

// appendMessageKey appends messageKey(phoneID, key) to dst.
func appendMessageKey(dst []byte, phoneID string, key []byte) []byte {
	dst = append(dst, phoneID...)
	dst = append(dst, 0)
	return append(dst, key...)
}

// splitMessageKey splits a bucketMessages key into the phone-number id and
// the 16-byte message key (ok false when k is not such a key).
func splitMessageKey(k []byte) (phoneID string, key []byte, ok bool) {
	if len(k) < messageKeyLen+1 || k[len(k)-messageKeyLen-1] != 0 {
		return "", nil, false
	}
	return string(k[:len(k)-messageKeyLen-1]), k[len(k)-messageKeyLen:], true
}

// encodeMessage encodes m as a stored record (Key and PhoneNumberID are
// in the bucket key).
func encodeMessage(m *Message) []byte { return appendMessage(make([]byte, 0, messageLen(m)), m) }

// messageLen bounds the size of m's stored record.
func messageLen(m *Message) int {
	n := len(m.IDRef) + len(m.IDSealed) + len(m.BusinessID) + len(m.PeerRef) + len(m.PeerSealed) +
		len(m.Direction) + len(m.Type) + len(m.Content) + len(m.CallbackSealed) + len(m.Status) +
		len(m.NetworkID) + len(m.Category)
	return 1 + fieldsLen(12, n) + 2*10
}

// appendMessage appends m's stored record to dst.
func appendMessage(dst []byte, m *Message) []byte {
	w := wbuf{b: dst}
	w.byte1(messageRecordVersion)
	w.str(m.IDRef)
	w.bytes(m.IDSealed)
	w.str(m.BusinessID)
	w.str(m.PeerRef)
	w.bytes(m.PeerSealed)
	w.str(m.Direction)
	w.str(m.Type)
	w.bytes(m.Content)
	w.bytes(m.CallbackSealed)
	w.str(m.Status)
	w.varint(m.CreatedAt)
	w.varint(m.UpdatedAt)
	w.str(m.NetworkID)
	w.str(m.Category)
	return w.b
}

// decodeMessage decodes a stored record with its bucket key into a
// Message that shares no memory with k or v.
func decodeMessage(k, v []byte) (Message, error) {
	var m Message
	phoneID, key, ok := splitMessageKey(k)
	if !ok {
		return m, fmt.Errorf("%w: message key %x", ErrCorrupt, k)
	}
	r := rbuf{b: v}
	if r.byte1() != messageRecordVersion {
		return m, fmt.Errorf("%w: message record version", ErrCorrupt)
	}
	m.Key = append([]byte(nil), key...)
	m.PhoneNumberID = phoneID
	m.IDRef = r.str()
	m.IDSealed = r.bytes()
	m.BusinessID = r.str()
	m.PeerRef = r.str()
	m.PeerSealed = r.bytes()
	m.Direction = r.str()
	m.Type = r.str()
	m.Content = r.bytes()
	m.CallbackSealed = r.bytes()
	m.Status = r.str()
	m.CreatedAt = r.varint()
	m.UpdatedAt = r.varint()
	m.NetworkID = r.str()
	m.Category = r.str()
	return m, r.end()
}

// messageIDRefOf reads only the IDRef of a stored record (expiry needs
// nothing else).
func messageIDRefOf(v []byte) ([]byte, error) {
	r := rbuf{b: v}
	if r.byte1() != messageRecordVersion {
		return nil, fmt.Errorf("%w: message record version", ErrCorrupt)
	}
	ref := r.raw()
	return ref, r.err
}

// mustDecodeMessage decodes a stored record inside Apply; a record this
// binary cannot read panics (see decode).
func mustDecodeMessage(k, v []byte) Message {
	m, err := decodeMessage(k, v)
	if err != nil {
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
	return m
}
