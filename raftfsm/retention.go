package raftfsm

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention bounds (issue 5): at most 30 days, at least one hour (the
// "no storage" mode), 30 days unless configured per phone number.
const (
	MaxRetention     = 30 * 24 * time.Hour
	MinRetention     = time.Hour
	DefaultRetention = MaxRetention
)

// Expiry work bounds: one CmdExpire deletes at most Budget records so that
// Apply never stalls Raft; the worker proposes again while More is set.
const (
	DefaultExpireBudget = 5000
	MaxExpireBudget     = 50000
)

// NormalizeRetention rounds d up to whole hours and clamps it to
// [MinRetention, MaxRetention]; d ≤ 0 means the default.
func NormalizeRetention(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultRetention
	}
	h := (d + time.Hour - 1) / time.Hour * time.Hour
	return min(max(h, MinRetention), MaxRetention)
}

// EffectiveRetention is the phone number's retention.
func (p Phone) EffectiveRetention() time.Duration {
	if p.RetentionHours <= 0 {
		return DefaultRetention
	}
	return NormalizeRetention(time.Duration(p.RetentionHours) * time.Hour)
}

// SetRetention is the payload of CmdSetRetention (operator action). Hours
// must be in 1…720; 0 restores the default (720).
type SetRetention struct {
	PhoneNumberID string
	Hours         int
}

func (f *FSM) applySetRetention(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetRetention
	decode(payload, &c)
	if c.Hours < 0 || time.Duration(c.Hours)*time.Hour > MaxRetention {
		return nil, domainErr(ErrInvalid, "retention out of range")
	}
	return nil, updateRecord(tx, bucketPhones, c.PhoneNumberID, "phone number", func(p *Phone) { p.RetentionHours = c.Hours })
}

// Expire is the payload of CmdExpire. Now (unix ms) is chosen by the
// leader; each phone's cut-off is Now minus its retention, derived inside
// Apply from the replicated phone record, so every replica deletes the same
// records.
type Expire struct {
	Now int64
	// Budget bounds the deletions of this command (0: DefaultExpireBudget;
	// at most MaxExpireBudget).
	Budget int
}

// ExpireResult is CmdExpire's Result.Value (msgpack; DecodeExpireResult).
type ExpireResult struct {
	// Deleted counts the records deleted (messages, windows, webhook
	// events, distinct-consumer entries, media, sessions, …).
	Deleted int
	// More is set when the budget ran out: propose again.
	More bool
	// DestroyedKeys are the data-key ids deleted by this command. Every
	// node must forget them from its in-memory keyring.
	DestroyedKeys []uint32
}

// DecodeExpireResult decodes CmdExpire's Result.Value.
func DecodeExpireResult(v []byte) (ExpireResult, error) {
	var r ExpireResult
	err := DecodePayload(v, &r)
	return r, err
}

// ExpireFunc deletes, inside CmdExpire's transaction, at most budget
// records older than cutoff(phoneNumberID) (unix ms) and returns how many
// it deleted. It must be deterministic (it runs on every replica).
type ExpireFunc func(tx *bolt.Tx, cutoff func(phoneNumberID string) int64, budget int) int

// SetExpireHook registers fn to be called, after the batch's transaction
// has committed, with the result of every applied CmdExpire (on every
// replica: nodes use it to forget destroyed data keys and compact the Raft
// log). fn must not block for long; it runs on Raft's apply goroutine.
func (f *FSM) SetExpireHook(fn func(ExpireResult)) {
	f.hookMu.Lock()
	f.expireHook = fn
	f.hookMu.Unlock()
}

func (f *FSM) deliverExpireHooks() {
	f.hookMu.Lock()
	pending, fn := f.pendingHooks, f.expireHook
	f.pendingHooks = nil
	f.hookMu.Unlock()
	if fn == nil {
		return
	}
	for _, r := range pending {
		fn(r)
	}
}

// ExpiredThrough is the Now of the latest applied CmdExpire (unix ms; 0
// before the first).
func (f *FSM) ExpiredThrough() int64 {
	var out int64
	_ = f.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyExpiredThrough); len(v) == 8 {
			out = int64(beUint64(v))
		}
		return nil
	})
	return out
}

func (f *FSM) applyExpire(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c Expire
	decode(payload, &c)
	if c.Now <= 0 {
		return nil, domainErr(ErrInvalid, "expire: now is required")
	}
	budget := c.Budget
	if budget <= 0 {
		budget = DefaultExpireBudget
	}
	budget = min(budget, MaxExpireBudget)

	// Retention of every phone, read once; an unknown phone (deleted since)
	// gets the maximum.
	ret := map[string]int64{}
	var phones []string // in key order
	_ = tx.Bucket(bucketPhones).ForEach(func(k, v []byte) error {
		var p Phone
		decode(v, &p)
		ret[string(k)] = int64(p.EffectiveRetention() / time.Millisecond)
		phones = append(phones, string(k))
		return nil
	})
	maxMs := int64(MaxRetention / time.Millisecond)
	cutoff := func(phoneID string) int64 {
		if r, ok := ret[phoneID]; ok {
			return c.Now - r
		}
		return c.Now - maxMs
	}

	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyExpiredThrough); len(v) != 8 || int64(beUint64(v)) < c.Now {
		mustPut(tx, bucketMeta, keyExpiredThrough, be64(c.Now))
	}

	var r ExpireResult
	left := func() int { return budget - r.Deleted }

	// Messages, per phone, oldest first (phones in key order).
	for _, ph := range phones {
		if left() <= 0 {
			break
		}
		r.Deleted += expireMessagesOfPhone(tx, ph, cutoff(ph), left())
	}
	// Messages of phones that no longer exist, and anything past the
	// maximum retention whatever its phone: the time-ordered main bucket.
	if left() > 0 {
		r.Deleted += sweepMessages(tx, c.Now-maxMs, left())
	}
	// 24-hour windows: useless after 24 h, and gone with the phone's
	// retention if that is shorter.
	for _, ph := range phones {
		if left() <= 0 {
			break
		}
		r.Deleted += expireWindowsOfPhone(tx, ph, max(cutoff(ph), c.Now-WindowMillis), left())
	}
	// Marketing sends (131049): gone with the phone's retention, and
	// useless after the longest cap window.
	for _, ph := range phones {
		if left() <= 0 {
			break
		}
		r.Deleted += expireMarketingSendsOfPhone(tx, ph, max(cutoff(ph), c.Now-MaxMarketingCapWindow.Milliseconds()), left())
	}
	if left() > 0 {
		r.Deleted += expireOutbox(tx, c.Now, cutoff, left())
	}
	for _, ph := range phones {
		if left() <= 0 {
			break
		}
		r.Deleted += expireInboundHashes(tx, ph, cutoff(ph), left())
	}
	// Distinct-consumer sets (messaging-limit tier, reach): entries past
	// their rolling window, also on numbers that send nothing more.
	for _, ph := range phones {
		if left() <= 0 {
			break
		}
		r.Deleted += expireDistinct(tx, f.sets, f.floors, ph, c.Now, left())
	}
	if left() > 0 {
		r.Deleted += expireAudit(tx, c.Now-AuditRetention.Milliseconds(), left())
	}
	if left() > 0 {
		r.Deleted += f.expireMedia(tx, cutoff, left())
	}
	if left() > 0 {
		r.Deleted += expireSignalRecords(tx, phones, c.Now, left())
	}
	r.More = left() <= 0
	// Data keys go only once everything sealed under them that expiry can
	// reach has been deleted (this command did not run out of budget).
	if !r.More {
		var ids []uint32
		_ = tx.Bucket(bucketDataKeys).ForEach(func(k, _ []byte) error {
			if len(k) == 4 {
				if id := uint32(beUint32(k)); DataKeyDestroyAt(id) <= c.Now {
					ids = append(ids, id)
				}
			}
			return nil
		})
		for _, id := range ids {
			mustDelete(tx, bucketDataKeys, dayKey(id))
		}
		r.DestroyedKeys = ids
	}
	f.hookMu.Lock()
	f.pendingHooks = append(f.pendingHooks, r)
	f.hookMu.Unlock()
	return marshal(r), nil
}

// expireMessagesOfPhone deletes up to budget messages of phoneID created
// before cutoff (unix ms), oldest first: the front of the phone's key
// range, read in key order.
func expireMessagesOfPhone(tx *bolt.Tx, phoneID string, cutoff int64, budget int) int {
	return deleteMessageRange(tx, messageKey(phoneID, nil), cutoff, budget)
}

// deleteMessageRange deletes up to budget messages under prefix (one
// phone's range) whose key time is before cutoff (unix ms), oldest first.
// A first pass only reads: it walks the front of the range in key order
// and notes the keys, then each bucket holding them — the messages, the
// template tags (keyed like the messages) and the connector's queues
// (pending, envelopes, read receipts: keyed by the 16-byte message key,
// so in the same order) — loses them last first, one cursor step apart
// (deleteBackward). Only a message with a plain wamid reference
// (needsRefEntry) costs a point delete elsewhere.
func deleteMessageRange(tx *bolt.Tx, prefix []byte, cutoff int64, budget int) int {
	cutNs := cutoff * int64(time.Millisecond)
	refs := tx.Bucket(bucketMessageIDs)
	klen := len(prefix) + messageKeyLen
	var arena []byte // the keys, klen bytes each
	c := tx.Bucket(bucketMessages).Cursor()
	for k, v := c.Seek(prefix); len(arena)/klen < budget && k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		mk := k[len(prefix):]
		if len(mk) != messageKeyLen || int64(beUint64(mk)) >= cutNs {
			break
		}
		ref, err := messageIDRefOf(v)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: %v", err))
		}
		if len(ref) > 0 && needsRefEntry(string(ref), mk) {
			if err := refs.Delete(bytes.Clone(ref)); err != nil {
				panic(fmt.Sprintf("raftfsm: delete %s: %v", bucketMessageIDs, err))
			}
		}
		arena = append(arena, k...)
	}
	n := len(arena) / klen
	if n == 0 {
		return 0
	}
	full := make([][]byte, n)  // messages and template tags
	short := make([][]byte, n) // the queues
	for i := range n {
		full[i] = arena[i*klen : (i+1)*klen : (i+1)*klen]
		short[i] = full[i][len(prefix):]
	}
	deleteBackward(c, bucketMessages, full)
	deleteBackward(tx.Bucket(bucketTemplateMsgs).Cursor(), bucketTemplateMsgs, present(tx.Bucket(bucketTemplateMsgs).Cursor(), full))
	for _, q := range [...][]byte{bucketSignalPending, bucketSignalEnvelopes, bucketSignalReads} {
		deleteBackward(tx.Bucket(q).Cursor(), q, present(tx.Bucket(q).Cursor(), short))
	}
	return n
}

// present returns the keys of keys (rising) that c's bucket holds, in the
// same order: one seek, then a walk that skips ahead by seeking wherever
// the bucket has nothing between two wanted keys (a sparse or empty
// queue costs a seek per stretch, not per key).
func present(c *bolt.Cursor, keys [][]byte) [][]byte {
	var out [][]byte
	k, _ := c.Seek(keys[0])
	for i := 0; i < len(keys) && k != nil; {
		switch cmp := bytes.Compare(k, keys[i]); {
		case cmp == 0:
			out = append(out, keys[i])
			i++
			k, _ = c.Next()
		case cmp > 0: // keys[i] is absent: skip to the first wanted key ≥ k
			i += sort.Search(len(keys)-i, func(j int) bool { return bytes.Compare(keys[i+j], k) >= 0 })
		default: // k is not wanted: the next bucket key ≥ keys[i]
			k, _ = c.Seek(keys[i])
		}
	}
	return out
}

// deleteBackward deletes keys (rising, every one in c's bucket) last
// first: after a Delete the entries before the cursor are as they were,
// so Prev reaches the next one to go without a seek from the root (after
// a Delete bbolt's Next may skip a key, and the cursor's page still shows
// the deleted one). Where Prev does not land on the expected key, a seek
// finds it.
func deleteBackward(c *bolt.Cursor, bucket []byte, keys [][]byte) {
	if len(keys) == 0 {
		return
	}
	k, _ := c.Seek(keys[len(keys)-1])
	for i := len(keys) - 1; ; {
		if !bytes.Equal(k, keys[i]) {
			if k, _ = c.Seek(keys[i]); !bytes.Equal(k, keys[i]) {
				panic(fmt.Sprintf("raftfsm: delete %s: key %x is gone", bucket, keys[i]))
			}
		}
		if err := c.Delete(); err != nil {
			panic(fmt.Sprintf("raftfsm: delete %s: %v", bucket, err))
		}
		if i--; i < 0 {
			return
		}
		k, _ = c.Prev()
	}
}

// sweepMessages deletes up to budget messages of any phone (also of phones
// that no longer exist) created before cutoff (unix ms): the front of
// every phone's range, phone by phone.
func sweepMessages(tx *bolt.Tx, cutoff int64, budget int) int {
	deleted := 0
	c := tx.Bucket(bucketMessages).Cursor()
	for k, _ := c.First(); k != nil && deleted < budget; {
		phoneID, _, ok := splitMessageKey(k)
		if !ok {
			panic(fmt.Sprintf("raftfsm: message key %x", k))
		}
		next := []byte(phoneID + "\x01") // past every key of this phone
		deleted += deleteMessageRange(tx, messageKey(phoneID, nil), cutoff, budget-deleted)
		k, _ = c.Seek(next)
	}
	return deleted
}

// deleteMessage deletes a message (by primary key) with its wamid
// reference and its entries in the connector's queues.
func deleteMessage(tx *bolt.Tx, pk []byte) {
	_, key, ok := splitMessageKey(pk)
	if !ok {
		panic(fmt.Sprintf("raftfsm: message key %x", pk))
	}
	if v := tx.Bucket(bucketMessages).Get(pk); v != nil {
		ref, err := messageIDRefOf(v)
		if err != nil {
			panic(fmt.Sprintf("raftfsm: %v", err))
		}
		if len(ref) > 0 && needsRefEntry(string(ref), key) {
			mustDelete(tx, bucketMessageIDs, bytes.Clone(ref))
		}
		mustDelete(tx, bucketMessages, pk)
	}
	mustDelete(tx, bucketTemplateMsgs, pk)
	// The connector's queues refer to messages by key: an expired message
	// is neither encrypted, nor resent, nor read-receipted any more.
	mustDelete(tx, bucketSignalPending, key)
	mustDelete(tx, bucketSignalEnvelopes, key)
	mustDelete(tx, bucketSignalReads, key)
}

// expireWindowsOfPhone deletes up to budget 24-hour-window entries of
// phoneID last opened before cutoff (unix ms).
func expireWindowsOfPhone(tx *bolt.Tx, phoneID string, cutoff int64, budget int) int {
	prefix := []byte(phoneID + "\x00")
	idx := dueIndexKeys(tx, bucketWindowsByTime, prefix, cutoff, budget)
	for _, k := range idx {
		ref := string(k[len(prefix)+9:])
		mustDelete(tx, bucketWindows, windowKey(phoneID, ref))
		mustDelete(tx, bucketWindowsByTime, k)
	}
	return len(idx)
}

// expireOutbox deletes up to budget queued webhook events created before
// their phone's cut-off (WABA-level events: the maximum retention). Outbox
// keys start with the proposer's time (ns), so the scan stops at the first
// event younger than the shortest retention, or when the budget is full;
// it holds only undelivered events (at most 7 days) anyway.
func expireOutbox(tx *bolt.Tx, now int64, cutoff func(string) int64, budget int) int {
	var keys [][]byte
	var gone []OutboxEvent
	newest := (now - int64(MinRetention/time.Millisecond)) * int64(time.Millisecond)
	c := tx.Bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && len(keys) < budget; k, v = c.Next() {
		if len(k) >= 8 && int64(beUint64(k)) >= newest {
			break
		}
		var e OutboxEvent
		decode(v, &e)
		if e.CreatedAt < cutoff(e.PhoneNumberID) {
			keys = append(keys, bytes.Clone(k))
			gone = append(gone, e)
		}
	}
	for i, k := range keys {
		mustDelete(tx, bucketOutbox, k)
		outboxLeft(tx, &gone[i], now)
	}
	return len(keys)
}

// DataKeyIDs returns the ids of the data keys held in the replicated state.
func (f *FSM) DataKeyIDs() ([]uint32, error) {
	var out []uint32
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDataKeys).ForEach(func(k, _ []byte) error {
			if len(k) == 4 {
				out = append(out, uint32(beUint32(k)))
			}
			return nil
		})
	})
	return out, err
}

// dueIndexKeys returns up to budget keys of a time index (prefix, BE64
// time, 0, rest) whose time is before cutoff, oldest first (copies).
func dueIndexKeys(tx *bolt.Tx, bucket, prefix []byte, cutoff int64, budget int) [][]byte {
	var idx [][]byte
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(idx) < budget; k, _ = c.Next() {
		rest := k[len(prefix):]
		if len(rest) < 9 || int64(beUint64(rest)) >= cutoff {
			break
		}
		idx = append(idx, bytes.Clone(k))
	}
	return idx
}

// AuditRetention is how long audit records are kept (they hold no content
// or consumer numbers, only who did what to which ids).
const AuditRetention = 365 * 24 * time.Hour

// expireAudit deletes up to budget audit records older than cutoff (unix
// ms); their keys start with the proposer's time in ns, so the oldest come
// first.
func expireAudit(tx *bolt.Tx, cutoffMs int64, budget int) int {
	var old [][]byte
	c := tx.Bucket(bucketAudit).Cursor()
	for k, _ := c.First(); k != nil && len(old) < budget; k, _ = c.Next() {
		if len(k) < 8 || int64(beUint64(k))/int64(time.Millisecond) >= cutoffMs {
			break
		}
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		mustDelete(tx, bucketAudit, k)
	}
	return len(old)
}
