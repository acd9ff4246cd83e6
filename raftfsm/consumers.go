package raftfsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Consumer rights (issue 5): everything stored about one consumer of one
// business, found by the consumer reference (seal.ConsumerRef) of each of
// the business's phone numbers — the number itself is never a key.

// CmdEraseConsumer deletes everything stored about one consumer for one
// business (messages with their indexes and connector queues, the media
// they carried, 24-hour windows, Signal sessions and identities).
const CmdEraseConsumer CommandType = 65

// ConsumerRef names one consumer on one phone number.
type ConsumerRef struct {
	PhoneNumberID string
	Ref           string // seal.ConsumerRef(PhoneNumberID, wa_id)
}

// EraseConsumer is the payload of CmdEraseConsumer. The proposer computes
// the references (they need the cluster key) and finds the media the
// consumer sent or received (ids inside sealed message content); Apply
// checks that every phone number belongs to the business and deletes only
// media of the business.
type EraseConsumer struct {
	BusinessID string
	Refs       []ConsumerRef
	MediaIDs   []string
}

// EraseResult is CmdEraseConsumer's Result.Value (msgpack).
type EraseResult struct {
	Messages int
	Windows  int
	Signal   int
	Media    int
}

// DecodeEraseResult decodes CmdEraseConsumer's Result.Value.
func DecodeEraseResult(v []byte) (EraseResult, error) {
	var r EraseResult
	err := DecodePayload(v, &r)
	return r, err
}

// consumerSignalBuckets are the Signal store buckets keyed by consumer
// ("<ref>:<device>").
var consumerSignalBuckets = []string{"sessions", "identities"}

func (f *FSM) applyEraseConsumer(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c EraseConsumer
	decode(payload, &c)
	if c.BusinessID == "" || len(c.Refs) == 0 {
		return nil, domainErr(ErrInvalid, "business and consumer are required")
	}
	for _, r := range c.Refs {
		if r.Ref == "" {
			return nil, domainErr(ErrInvalid, "consumer reference")
		}
		if _, err := ownedRecord(tx, bucketPhones, r.PhoneNumberID, c.BusinessID, "phone number", func(p *Phone) string { return p.BusinessID }); err != nil {
			return nil, err
		}
	}
	var res EraseResult
	for _, r := range c.Refs {
		keys := consumerMessageKeys(tx, r)
		for _, k := range keys {
			deleteMessage(tx, k)
		}
		res.Messages += len(keys)
		wk := windowKey(r.PhoneNumberID, r.Ref)
		if w := tx.Bucket(bucketWindows).Get(wk); w != nil {
			if len(w) == 8 {
				mustDelete(tx, bucketWindowsByTime, windowTimeKey(r.PhoneNumberID, int64(beUint64(w)), r.Ref))
			}
			mustDelete(tx, bucketWindows, wk)
			res.Windows++
		}
		for _, sk := range consumerSignalKeys(tx, r) {
			deleteSignalRecord(tx, r.PhoneNumberID, string(sk[len(r.PhoneNumberID)+1:]))
			res.Signal++
		}
	}
	for _, id := range c.MediaIDs {
		// Another business's media, or media already gone, is skipped.
		if m, ok := getMedia(tx, id); ok && m.BusinessID == c.BusinessID {
			deleteMediaTx(tx, id)
			res.Media++
		}
	}
	return marshal(res), nil
}

// consumerMessageKeys returns the primary keys of the messages of r's
// phone with r's consumer. It scans the phone's range (a phone holds at
// most its retention's worth of messages); see README, Consumer rights.
func consumerMessageKeys(tx *bolt.Tx, r ConsumerRef) [][]byte {
	prefix := messageKey(r.PhoneNumberID, nil)
	var keys [][]byte
	c := tx.Bucket(bucketMessages).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		m, err := decodeMessage(k, v)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: %v", err))
		}
		if m.PeerRef == r.Ref {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys
}

// consumerSignalKeys returns the bucketSignal keys of r's consumer.
func consumerSignalKeys(tx *bolt.Tx, r ConsumerRef) [][]byte {
	var out [][]byte
	c := tx.Bucket(bucketSignal).Cursor()
	for _, b := range consumerSignalBuckets {
		prefix := signalKey(r.PhoneNumberID, b+"\x00"+r.Ref+":")
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, bytes.Clone(k))
		}
	}
	return out
}

// ConsumerData is what the state holds about one consumer on one phone
// number (sealed fields still sealed).
type ConsumerData struct {
	PhoneNumberID string
	Messages      []Message
	// WindowOpenedAt is the last inbound message time (unix ms), 0 when
	// no window is stored.
	WindowOpenedAt int64
	// SignalKeys are the consumer's Signal store keys ("sessions\x00…").
	SignalKeys []string
}

// ConsumerData returns what is stored about r's consumer.
func (f *FSM) ConsumerData(r ConsumerRef) (ConsumerData, error) {
	out := ConsumerData{PhoneNumberID: r.PhoneNumberID}
	err := f.View(func(tx *bolt.Tx) error {
		for _, k := range consumerMessageKeys(tx, r) {
			m, err := decodeMessage(k, tx.Bucket(bucketMessages).Get(k))
			if err != nil {
				return err
			}
			out.Messages = append(out.Messages, m)
		}
		if w := tx.Bucket(bucketWindows).Get(windowKey(r.PhoneNumberID, r.Ref)); len(w) == 8 {
			out.WindowOpenedAt = int64(beUint64(w))
		}
		ns := len(r.PhoneNumberID) + 1
		for _, k := range consumerSignalKeys(tx, r) {
			out.SignalKeys = append(out.SignalKeys, string(k[ns:]))
		}
		return nil
	})
	return out, err
}
