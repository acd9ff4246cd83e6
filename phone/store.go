package phone

import (
	"bytes"
	"fmt"
	"time"

	"github.com/waedge/waedge/signalstore"
	bolt "go.etcd.io/bbolt"
)

// Store, Entry and MemStore live in signalstore (waedge's business side uses them too).
type (
	// Store is signalstore.Store.
	Store = signalstore.Store
	// Entry is signalstore.Entry.
	Entry = signalstore.Entry
	// MemStore is signalstore.MemStore.
	MemStore = signalstore.MemStore
)

// NewMemStore returns an empty in-memory Store.
func NewMemStore() *MemStore { return signalstore.NewMemStore() }

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
