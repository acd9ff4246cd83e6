package phone

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the small key-value store a phone keeps its state in: identity, prekeys, Signal sessions,
// messages. Buckets are flat; Get returns nil for a missing key; ForEach visits keys in order; Write
// applies several changes atomically (one fsync for a BoltStore).
type Store interface {
	Get(bucket, key string) ([]byte, error)
	Put(bucket, key string, value []byte) error
	Delete(bucket, key string) error
	ForEach(bucket string, fn func(key string, value []byte) error) error
	Write(entries ...Entry) error
}

// Entry is one change for Store.Write: a put, or a delete when Delete is set.
type Entry struct {
	Bucket, Key string
	Value       []byte
	Delete      bool
}

// MemStore is an in-memory Store (the default; state ends with the process).
type MemStore struct {
	mu sync.RWMutex
	m  map[string]map[string][]byte
}

// NewMemStore returns an empty in-memory Store.
func NewMemStore() *MemStore { return &MemStore{m: make(map[string]map[string][]byte)} }

// Get implements Store; it returns a copy.
func (s *MemStore) Get(bucket, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[bucket][key]
	if !ok {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

// Put implements Store; it stores a copy.
func (s *MemStore) Put(bucket, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[bucket]
	if b == nil {
		b = make(map[string][]byte)
		s.m[bucket] = b
	}
	b[key] = append([]byte{}, value...)
	return nil
}

// Delete implements Store.
func (s *MemStore) Delete(bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[bucket], key)
	return nil
}

// Write implements Store.
func (s *MemStore) Write(entries ...Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if e.Delete {
			delete(s.m[e.Bucket], e.Key)
			continue
		}
		b := s.m[e.Bucket]
		if b == nil {
			b = make(map[string][]byte)
			s.m[e.Bucket] = b
		}
		b[e.Key] = append([]byte{}, e.Value...)
	}
	return nil
}

// ForEach implements Store. fn sees a snapshot and may modify the store.
func (s *MemStore) ForEach(bucket string, fn func(key string, value []byte) error) error {
	s.mu.RLock()
	keys := make([]string, 0, len(s.m[bucket]))
	vals := make(map[string][]byte, len(s.m[bucket]))
	for k, v := range s.m[bucket] {
		keys = append(keys, k)
		vals[k] = bytes.Clone(v)
	}
	s.mu.RUnlock()
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// BoltStore is a Store inside a bbolt file, under one top-level namespace bucket, so many phones can
// share a file (the relay's hosted phones do). Writes go through bbolt's Batch, which coalesces the
// fsyncs of concurrent phones.
type BoltStore struct {
	db *bolt.DB
	ns []byte
}

// OpenBoltDB opens (or creates) a bbolt file for BoltStores with batching tuned for interactive use.
func OpenBoltDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	return db, nil
}

// NewBoltStore returns the Store kept under namespace in db.
func NewBoltStore(db *bolt.DB, namespace string) *BoltStore {
	return &BoltStore{db: db, ns: []byte(namespace)}
}

// DeleteNamespace removes everything a BoltStore kept under namespace.
func DeleteNamespace(db *bolt.DB, namespace string) error {
	return db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(namespace)) == nil {
			return nil
		}
		return tx.DeleteBucket([]byte(namespace))
	})
}

func (s *BoltStore) bucket(tx *bolt.Tx, name string) *bolt.Bucket {
	if ns := tx.Bucket(s.ns); ns != nil {
		return ns.Bucket([]byte(name))
	}
	return nil
}

// Get implements Store.
func (s *BoltStore) Get(bucket, key string) ([]byte, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := s.bucket(tx, bucket); b != nil {
			v = bytes.Clone(b.Get([]byte(key)))
		}
		return nil
	})
	return v, err
}

// Put implements Store.
func (s *BoltStore) Put(bucket, key string, value []byte) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		ns, err := tx.CreateBucketIfNotExists(s.ns)
		if err != nil {
			return err
		}
		b, err := ns.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
}

// Write implements Store in one transaction.
func (s *BoltStore) Write(entries ...Entry) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		ns, err := tx.CreateBucketIfNotExists(s.ns)
		if err != nil {
			return err
		}
		for _, e := range entries {
			b, err := ns.CreateBucketIfNotExists([]byte(e.Bucket))
			if err != nil {
				return err
			}
			if e.Delete {
				err = b.Delete([]byte(e.Key))
			} else {
				err = b.Put([]byte(e.Key), e.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete implements Store.
func (s *BoltStore) Delete(bucket, key string) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		if b := s.bucket(tx, bucket); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	})
}

// ForEach implements Store. fn runs outside the read transaction, so it may write.
func (s *BoltStore) ForEach(bucket string, fn func(key string, value []byte) error) error {
	type kv struct {
		k string
		v []byte
	}
	var all []kv
	err := s.db.View(func(tx *bolt.Tx) error {
		b := s.bucket(tx, bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if v != nil {
				all = append(all, kv{string(k), bytes.Clone(v)})
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}
