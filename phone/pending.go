package phone

import (
	"bytes"
	"sort"
)

// pendingStore buffers the writes of one operation over a Store: reads see the base merged with the
// buffer, and nothing reaches the base until the caller writes entries() — together with whatever
// else must be atomic with it. A received message uses it so that the Signal session update of its
// decryption and the message itself are stored in one transaction: a crash leaves either both (the
// redelivered envelope is recognised as seen) or neither (it is decrypted again).
type pendingStore struct {
	base   Store
	writes map[string]map[string][]byte // bucket → key → value; nil value = delete
}

var _ Store = (*pendingStore)(nil)

func newPendingStore(base Store) *pendingStore {
	return &pendingStore{base: base, writes: make(map[string]map[string][]byte)}
}

func (s *pendingStore) pending(bucket, key string) ([]byte, bool) {
	v, ok := s.writes[bucket][key]
	return v, ok
}

func (s *pendingStore) set(bucket, key string, v []byte) {
	b := s.writes[bucket]
	if b == nil {
		b = make(map[string][]byte)
		s.writes[bucket] = b
	}
	b[key] = v
}

// Get implements Store.
func (s *pendingStore) Get(bucket, key string) ([]byte, error) {
	if v, ok := s.pending(bucket, key); ok {
		return bytes.Clone(v), nil
	}
	return s.base.Get(bucket, key)
}

// Put implements Store (buffered).
func (s *pendingStore) Put(bucket, key string, value []byte) error {
	s.set(bucket, key, append([]byte{}, value...))
	return nil
}

// Delete implements Store (buffered).
func (s *pendingStore) Delete(bucket, key string) error {
	s.set(bucket, key, nil)
	return nil
}

// Write implements Store (buffered).
func (s *pendingStore) Write(entries ...Entry) error {
	for _, e := range entries {
		if e.Delete {
			s.set(e.Bucket, e.Key, nil)
		} else {
			s.set(e.Bucket, e.Key, append([]byte{}, e.Value...))
		}
	}
	return nil
}

// ForEach implements Store over the base merged with the buffered writes, in key order.
func (s *pendingStore) ForEach(bucket string, fn func(key string, value []byte) error) error {
	merged := map[string][]byte{}
	if err := s.base.ForEach(bucket, func(k string, v []byte) error { merged[k] = v; return nil }); err != nil {
		return err
	}
	for k, v := range s.writes[bucket] {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = bytes.Clone(v)
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, merged[k]); err != nil {
			return err
		}
	}
	return nil
}

// entries returns the buffered writes as one Write's entries (deterministic order).
func (s *pendingStore) entries() []Entry {
	var out []Entry
	buckets := make([]string, 0, len(s.writes))
	for b := range s.writes {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	for _, b := range buckets {
		keys := make([]string, 0, len(s.writes[b]))
		for k := range s.writes[b] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := s.writes[b][k]
			out = append(out, Entry{Bucket: b, Key: k, Value: v, Delete: v == nil})
		}
	}
	return out
}
