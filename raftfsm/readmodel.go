package raftfsm

import (
	"bytes"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The read model (issue 12): an in-memory copy of the small records every
// Cloud API request reads — tokens by hash, phone numbers, businesses,
// WABAs, apps, templates — and of the tenants derived from them, so that
// LookupToken, Tenant, Phone and TemplateByName take a read lock and a map
// lookup instead of a bbolt read transaction and a reflective msgpack
// decode.
//
// It follows the database, not the commands: after every commit of
// ApplyBatch (before the applied index is published, so whoever waits for
// an index sees the model of that index) refresh compares each watched
// bucket with the model. A bucket whose root page is the one of the last
// refresh was not written (bbolt copies on write: a transaction that
// writes a bucket gives it a new root page, and the old one cannot be
// reused by that transaction); a written bucket, and a bucket small enough
// to be stored inline in its parent (root 0), is walked and its values
// compared byte for byte with the model's copies; only what differs is
// decoded. No handler has to remember to update it, so a new command that
// writes these buckets keeps it exact. openDB builds it from scratch
// (open, rollback to a checkpoint, snapshot install; a restored backup is
// opened like any database).
//
// Values handed out are copies (slices included), so callers cannot
// change the model.

// cached is one record of a watched bucket: its stored bytes and their
// decoding (err when they do not decode; the reader returns it).
type cached[T any] struct {
	raw []byte
	val T
	err error
}

// table is the model of one bucket.
type table[T any] struct {
	root    uint64 // the bucket's root page at the last refresh (0: inline)
	entries map[string]cached[T]
}

// tableChange is what refresh found different in one bucket.
type tableChange[T any] struct {
	root uint64
	put  []keyedRecord[T]
	del  []string
}

type keyedRecord[T any] struct {
	key string
	rec cached[T]
}

func (c *tableChange[T]) changed() bool { return len(c.put) > 0 || len(c.del) > 0 }

// diffTable compares bucket b with t (read-only; t is not changed).
func diffTable[T any](t *table[T], b *bolt.Bucket) tableChange[T] {
	ch := tableChange[T]{root: uint64(b.Root())}
	if ch.root != 0 && ch.root == t.root {
		return ch // not written since the last refresh
	}
	seen := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // a nested bucket (none of the watched ones has any)
		}
		if old, ok := t.entries[string(k)]; ok {
			seen++
			if bytes.Equal(old.raw, v) {
				continue
			}
		}
		rec := cached[T]{raw: bytes.Clone(v)}
		rec.err = unmarshal(rec.raw, &rec.val)
		ch.put = append(ch.put, keyedRecord[T]{key: string(k), rec: rec})
	}
	if seen < len(t.entries) {
		for k := range t.entries {
			if b.Get([]byte(k)) == nil {
				ch.del = append(ch.del, k)
			}
		}
		slices.Sort(ch.del)
	}
	return ch
}

// apply installs a change (the caller holds the model's write lock).
func (t *table[T]) apply(ch tableChange[T]) {
	t.root = ch.root
	if t.entries == nil {
		t.entries = make(map[string]cached[T], len(ch.put))
	}
	for _, p := range ch.put {
		t.entries[p.key] = p.rec
	}
	for _, k := range ch.del {
		delete(t.entries, k)
	}
}

// tenantRecord is a derived tenant (err: a record under it does not
// decode).
type tenantRecord struct {
	t   Tenant
	err error
}

// readModel is the FSM's read model (see above).
type readModel struct {
	mu         sync.RWMutex
	tokens     table[Token]
	phones     table[Phone]
	businesses table[Business]
	wabas      table[WABA]
	apps       table[App]
	templates  table[Template]
	tenants    map[string]tenantRecord // by phone-number id
}

// readChanges is one refresh's differences, found under no lock.
type readChanges struct {
	tokens     tableChange[Token]
	phones     tableChange[Phone]
	businesses tableChange[Business]
	wabas      tableChange[WABA]
	apps       tableChange[App]
	templates  tableChange[Template]
}

// diff compares the buckets of tx with m. Only the applying goroutine (or
// openDB) changes m, and it is the caller, so m needs no lock here.
func (m *readModel) diff(tx *bolt.Tx) readChanges {
	return readChanges{
		tokens:     diffTable(&m.tokens, tx.Bucket(bucketTokens)),
		phones:     diffTable(&m.phones, tx.Bucket(bucketPhones)),
		businesses: diffTable(&m.businesses, tx.Bucket(bucketBusinesses)),
		wabas:      diffTable(&m.wabas, tx.Bucket(bucketWABAs)),
		apps:       diffTable(&m.apps, tx.Bucket(bucketApps)),
		templates:  diffTable(&m.templates, tx.Bucket(bucketTemplates)),
	}
}

// apply installs the changes under the write lock, deriving the tenants
// again when a record they are made of changed.
func (m *readModel) apply(c readChanges) {
	retenant := c.phones.changed() || c.businesses.changed() || c.wabas.changed() || c.apps.changed() || m.tenants == nil
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens.apply(c.tokens)
	m.phones.apply(c.phones)
	m.businesses.apply(c.businesses)
	m.wabas.apply(c.wabas)
	m.apps.apply(c.apps)
	m.templates.apply(c.templates)
	if retenant {
		// Rare (a tenant, number or app changed): derived under the lock,
		// O(numbers) map lookups, nothing decoded.
		m.tenants = m.deriveTenants()
	}
}

// deriveTenants builds every tenant from the phone, business, WABA and app
// tables as Tenant always did: the business's app is its first in id order.
func (m *readModel) deriveTenants() map[string]tenantRecord {
	appKeys := make([]string, 0, len(m.apps.entries))
	for k := range m.apps.entries {
		appKeys = append(appKeys, k)
	}
	slices.Sort(appKeys)
	firstApp := make(map[string]string, len(appKeys))
	for _, k := range appKeys {
		a := m.apps.entries[k]
		if a.err != nil {
			continue
		}
		if _, ok := firstApp[a.val.BusinessID]; !ok {
			firstApp[a.val.BusinessID] = a.val.ID
		}
	}
	out := make(map[string]tenantRecord, len(m.phones.entries))
	for k, p := range m.phones.entries {
		if p.err != nil {
			out[k] = tenantRecord{err: p.err}
			continue
		}
		ph := p.val
		t := Tenant{PhoneNumberID: ph.ID, WABAID: ph.WABAID, BusinessID: ph.BusinessID,
			DisplayPhoneNumber: ph.DisplayPhoneNumber, VerifiedName: ph.VerifiedName, CreatedAt: ph.CreatedAt,
			AppID: firstApp[ph.BusinessID]}
		if b, ok := m.businesses.entries[ph.BusinessID]; ok {
			if b.err != nil {
				out[k] = tenantRecord{t: t, err: b.err}
				continue
			}
			t.BusinessName = b.val.Name
		}
		if w, ok := m.wabas.entries[ph.WABAID]; ok {
			if w.err != nil {
				out[k] = tenantRecord{t: t, err: w.err}
				continue
			}
			t.WABAName = w.val.Name
		}
		out[k] = tenantRecord{t: t}
	}
	return out
}

// buildReadModel reads the whole model from db.
func buildReadModel(db *bolt.DB) (*readModel, error) {
	m := &readModel{}
	if err := m.refresh(db); err != nil {
		return nil, err
	}
	return m, nil
}

// refresh brings m up to the last commit of db (see above). The caller is
// the only writer of m: ApplyBatch after its commit, or openDB.
func (m *readModel) refresh(db *bolt.DB) error {
	var c readChanges
	if err := db.View(func(tx *bolt.Tx) error {
		c = m.diff(tx)
		return nil
	}); err != nil {
		return err
	}
	m.apply(c)
	return nil
}

// model returns the live read model, nil when the FSM is closed.
func (f *FSM) model() *readModel { return f.reads.Load() }

// clonePhone copies p with its own slices.
func clonePhone(p Phone) Phone {
	p.PINHash = slices.Clone(p.PINHash)
	p.RegisterLog = slices.Clone(p.RegisterLog)
	p.Profile.Websites = slices.Clone(p.Profile.Websites)
	p.NameChanges = slices.Clone(p.NameChanges)
	return p
}

// cloneTemplate copies t with its own slices.
func cloneTemplate(t Template) Template {
	t.Components = slices.Clone(t.Components)
	t.BodyParamNames = slices.Clone(t.BodyParamNames)
	t.HeaderParamNames = slices.Clone(t.HeaderParamNames)
	t.EditLog = slices.Clone(t.EditLog)
	return t
}
