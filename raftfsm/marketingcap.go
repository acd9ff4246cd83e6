package raftfsm

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Marketing sends per consumer (issue 14, error 131049): Meta fails a
// marketing template with 131049 "to maintain healthy ecosystem
// engagement" when the user has received too many marketing messages
// lately; it publishes no number. waedge makes that an operator policy
// (messages package): at most N marketing templates to one consumer per
// rolling window, per business. The policy is judged by the proposer on
// this replica's state, as the 24-hour window is; the state is the record
// kept here: every accepted marketing template message, per number and
// consumer reference, in time order. Entries go with the number's
// retention (they name a consumer by reference, invariant 6) and after
// MaxMarketingCapWindow at the latest.

// MaxMarketingCapWindow is the longest window a marketing cap may count
// over.
const MaxMarketingCapWindow = 30 * 24 * time.Hour

// marketingSendKey is the bucketMarketingSends key: phone-number id "/"
// ref 0 time BE64 message key.
func marketingSendKey(phoneID, ref string, at int64, key []byte) []byte {
	k := make([]byte, 0, len(phoneID)+len(ref)+10+len(key))
	k = append(append(append(k, phoneID...), '/'), ref...)
	k = append(append(k, 0), be64(at)...)
	return append(k, key...)
}

// recordMarketingSend records an accepted marketing template message.
func recordMarketingSend(tx *bolt.Tx, phoneID, ref string, at int64, key []byte) {
	mustPut(tx, bucketMarketingSends, marketingSendKey(phoneID, ref, at, key), nil)
	mustPut(tx, bucketMarketingSendsByTime, phoneTimeKey(phoneID, at, ref+string(key)), nil)
}

// MarketingSends counts the marketing template messages accepted at or
// after since (unix ms) to the consumer, given as its reference on each
// number (phone-number id → ref), as this replica sees them.
func (f *FSM) MarketingSends(refs map[string]string, since int64) int {
	n := 0
	_ = f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMarketingSends).Cursor()
		for phoneID, ref := range refs {
			prefix := marketingSendKey(phoneID, ref, 0, nil)
			prefix = prefix[:len(prefix)-8]
			for k, _ := c.Seek(marketingSendKey(phoneID, ref, max(since, 0), nil)); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				n++
			}
		}
		return nil
	})
	return n
}

// expireMarketingSendsOfPhone deletes up to budget marketing-send entries
// of phoneID recorded before cutoff (unix ms).
func expireMarketingSendsOfPhone(tx *bolt.Tx, phoneID string, cutoff int64, budget int) int {
	prefix := []byte(phoneID + "\x00")
	idx := dueIndexKeys(tx, bucketMarketingSendsByTime, prefix, cutoff, budget)
	for _, k := range idx {
		at := int64(beUint64(k[len(prefix):]))
		rest := k[len(prefix)+9:]
		if len(rest) > messageKeyLen {
			ref, key := string(rest[:len(rest)-messageKeyLen]), rest[len(rest)-messageKeyLen:]
			mustDelete(tx, bucketMarketingSends, marketingSendKey(phoneID, ref, at, key))
		}
		mustDelete(tx, bucketMarketingSendsByTime, k)
	}
	return len(idx)
}
