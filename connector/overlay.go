package connector

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"time"

	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/signalstore"
)

// Sealer seals what the connector stores (package seal).
type Sealer interface {
	Seal(ctx context.Context, aad, pt []byte) ([]byte, error)
	SealFor(ctx context.Context, retention time.Duration, aad, pt []byte) ([]byte, error)
	Open(aad, sealed []byte) ([]byte, error)
	SealState(aad, pt []byte) ([]byte, error)
	OpenState(aad, sealed []byte) ([]byte, error)
	ConsumerRef(phoneNumberID, waID string) string
}

// Buckets of signalstore whose keys name a consumer ("number:device"):
// the number is replaced by its ConsumerRef before it becomes a key, and
// values are sealed under the day's data key, so they expire with it.
var consumerBuckets = map[string]bool{"sessions": true, "identities": true}

// overlay is a signalstore.Store for one operation on one business
// number: reads come from the committed FSM (recording the version of
// every key read), writes stay in memory until commit turns them into one
// SignalCommit guarded by those versions. It is used by one goroutine.
type overlay struct {
	ctx     context.Context
	fsm     *raftfsm.FSM
	seal    Sealer
	phoneID string

	versions map[string]uint64  // store key → version read from the FSM
	reads    map[string][]byte  // store key → plaintext read from the FSM (nil = absent)
	writes   map[string]*string // store key → new plaintext value; nil = delete
	fsmReads int                // values read from the FSM (one per key: the rest come from reads)
}

func newOverlay(ctx context.Context, fsm *raftfsm.FSM, s Sealer, phoneID string) *overlay {
	return &overlay{ctx: ctx, fsm: fsm, seal: s, phoneID: phoneID,
		versions: make(map[string]uint64), reads: make(map[string][]byte), writes: make(map[string]*string)}
}

var _ signalstore.Store = (*overlay)(nil)

// storeKey maps a signalstore bucket and key to the FSM key.
func (o *overlay) storeKey(bucket, key string) string {
	if consumerBuckets[bucket] {
		if number, dev, ok := strings.Cut(key, ":"); ok {
			key = o.seal.ConsumerRef(o.phoneID, number) + ":" + dev
		}
	}
	return bucket + "\x00" + key
}

func (o *overlay) aad(k string) []byte { return []byte("signal\x00" + o.phoneID + "\x00" + k) }

func (o *overlay) open(k string, sealed []byte) []byte {
	var pt []byte
	var err error
	if bucket, _, _ := strings.Cut(k, "\x00"); consumerBuckets[bucket] {
		pt, err = o.seal.Open(o.aad(k), sealed)
	} else {
		pt, err = o.seal.OpenState(o.aad(k), sealed)
	}
	if err != nil {
		// A value whose data key was destroyed (expired) reads as absent.
		return nil
	}
	return pt
}

func (o *overlay) load(k string) ([]byte, error) {
	if v, ok := o.writes[k]; ok {
		if v == nil {
			return nil, nil
		}
		return []byte(*v), nil
	}
	// One operation reads a key several times (libsignal loads the session
	// to check it exists, to encrypt, and again under StoreSession's Put):
	// the first read's plaintext serves the others. It is the value of the
	// version recorded for the commit's compare-and-set, so what the
	// operation saw and what it is checked against stay the same; each
	// caller gets its own copy (signalstore deserializes every load).
	if pt, ok := o.reads[k]; ok {
		return bytes.Clone(pt), nil
	}
	sealed, version, err := o.fsm.SignalRecord(o.phoneID, k)
	if err != nil {
		return nil, err
	}
	o.fsmReads++
	if _, seen := o.versions[k]; !seen {
		o.versions[k] = version
	}
	var pt []byte
	if sealed != nil {
		pt = o.open(k, sealed)
	}
	if o.versions[k] == version { // not when ForEach recorded an older version
		o.reads[k] = pt
	}
	return bytes.Clone(pt), nil
}

// Get implements signalstore.Store.
func (o *overlay) Get(bucket, key string) ([]byte, error) { return o.load(o.storeKey(bucket, key)) }

// Put implements signalstore.Store.
func (o *overlay) Put(bucket, key string, value []byte) error {
	k := o.storeKey(bucket, key)
	if _, err := o.load(k); err != nil { // record the version this write replaces
		return err
	}
	v := string(value)
	o.writes[k] = &v
	return nil
}

// Delete implements signalstore.Store.
func (o *overlay) Delete(bucket, key string) error {
	k := o.storeKey(bucket, key)
	if _, err := o.load(k); err != nil {
		return err
	}
	o.writes[k] = nil
	return nil
}

// Write implements signalstore.Store.
func (o *overlay) Write(entries ...signalstore.Entry) error {
	for _, e := range entries {
		var err error
		if e.Delete {
			err = o.Delete(e.Bucket, e.Key)
		} else {
			err = o.Put(e.Bucket, e.Key, e.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ForEach implements signalstore.Store over committed values merged with
// this operation's writes. Keys of consumer buckets are refs, not numbers.
func (o *overlay) ForEach(bucket string, fn func(key string, value []byte) error) error {
	prefix := bucket + "\x00"
	seen := make(map[string][]byte)
	err := o.fsm.SignalForEach(o.phoneID, prefix, func(k string, sealed []byte, version uint64) error {
		if _, ok := o.versions[k]; !ok {
			o.versions[k] = version
		}
		seen[k] = o.open(k, sealed)
		return nil
	})
	if err != nil {
		return err
	}
	for k, v := range o.writes {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if v == nil {
			delete(seen, k)
		} else {
			seen[k] = []byte(*v)
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if seen[k] == nil {
			continue
		}
		if err := fn(strings.TrimPrefix(k, prefix), seen[k]); err != nil {
			return err
		}
	}
	return nil
}

// replaced reports whether this operation overwrote an existing committed
// value of bucket/key with a different one (for example a consumer's
// identity key after a reinstall).
func (o *overlay) replaced(bucket, key string) bool {
	k := o.storeKey(bucket, key)
	v, written := o.writes[k]
	if !written || v == nil || o.versions[k] == 0 {
		return false
	}
	sealed, _, err := o.fsm.SignalRecord(o.phoneID, k)
	if err != nil || sealed == nil {
		return false
	}
	old := o.open(k, sealed)
	return old != nil && string(old) != *v
}

// commit returns the store part of a SignalCommit: every written key with
// the version it was read at, and the sealed new values.
func (o *overlay) commit() (raftfsm.SignalCommit, error) {
	c := raftfsm.SignalCommit{PhoneNumberID: o.phoneID}
	keys := make([]string, 0, len(o.writes))
	for k := range o.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Expect = append(c.Expect, raftfsm.SignalExpect{Key: k, Version: o.versions[k]})
		v := o.writes[k]
		if v == nil {
			c.Writes = append(c.Writes, raftfsm.SignalWrite{Key: k, Delete: true})
			continue
		}
		var sealed []byte
		var err error
		if bucket, _, _ := strings.Cut(k, "\x00"); consumerBuckets[bucket] {
			sealed, err = o.seal.Seal(o.ctx, o.aad(k), []byte(*v))
		} else {
			sealed, err = o.seal.SealState(o.aad(k), []byte(*v))
		}
		if err != nil {
			return c, err
		}
		c.Writes = append(c.Writes, raftfsm.SignalWrite{Key: k, Value: sealed})
	}
	return c, nil
}
