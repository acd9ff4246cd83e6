package signalstore

import (
	"bytes"
	"sort"
	"sync"
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
