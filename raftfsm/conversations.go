package raftfsm

import (
	"bytes"
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Conversation is one consumer's retained messages on one business
// number, summarised by its newest message (the console's list of a
// number's conversations). Last is the newest message itself (sealed
// fields still sealed: the caller opens the consumer's number from it).
type Conversation struct {
	PeerRef  string
	Messages int
	Last     Message
}

// Conversations returns the consumers with retained messages on a phone
// number, newest conversation first (by its newest message; ties by
// reference). It scans the number's messages, which retention bounds.
func (f *FSM) Conversations(phoneNumberID string) ([]Conversation, error) {
	byRef := map[string]*Conversation{}
	err := f.View(func(tx *bolt.Tx) error {
		prefix := messageKey(phoneNumberID, nil)
		c := tx.Bucket(bucketMessages).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			m, err := decodeMessage(k, v)
			if err != nil {
				return err
			}
			if m.PeerRef == "" {
				continue
			}
			cv := byRef[m.PeerRef]
			if cv == nil {
				cv = &Conversation{PeerRef: m.PeerRef}
				byRef[m.PeerRef] = cv
			}
			cv.Messages++
			if cv.Messages == 1 || m.CreatedAt >= cv.Last.CreatedAt {
				cv.Last = m
			}
		}
		return nil
	})
	out := make([]Conversation, 0, len(byRef))
	for _, cv := range byRef {
		out = append(out, *cv)
	}
	slices.SortFunc(out, func(a, b Conversation) int {
		if c := cmp.Compare(b.Last.CreatedAt, a.Last.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.PeerRef, b.PeerRef)
	})
	return out, err
}
