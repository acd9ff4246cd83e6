package keyring

import (
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"sync"
)

// ringKey is a held data key with its AES-GCM instance, built once.
type ringKey struct {
	key  *[32]byte
	aead cipher.AEAD
}

// Ring is the in-memory set of unwrapped data keys a node holds, by id.
// It is safe for concurrent use. Keys enter it wrapped (Add) and leave it
// by Forget, after which the ring refuses that id for good.
type Ring struct {
	kek       KEK
	mu        sync.RWMutex
	keys      map[uint32]ringKey
	destroyed map[uint32]struct{}
}

// NewRing returns an empty ring that unwraps keys with kek.
func NewRing(kek KEK) *Ring {
	return &Ring{kek: kek, keys: map[uint32]ringKey{}, destroyed: map[uint32]struct{}{}}
}

// String describes the ring without key material.
func (r *Ring) String() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fmt.Sprintf("keyring.Ring(%d keys, %d destroyed)", len(r.keys), len(r.destroyed))
}

// GoString describes the ring without key material (for %#v).
func (r *Ring) GoString() string { return r.String() }

// Add unwraps a data key and holds it under id. Adding the key already held
// is a no-op; a different key under a held id is refused (ErrKeyConflict),
// and so is a destroyed id (ErrKeyDestroyed): a stale wrapped key, say from
// an old snapshot, must not bring expired data back.
func (r *Ring) Add(id uint32, wrapped []byte) error {
	dk, err := UnwrapDataKey(r.kek, id, wrapped)
	if err != nil {
		return fmt.Errorf("unwrap data key %d: %w", id, err)
	}
	key := &dk.Key
	a, err := newAEAD(key)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, gone := r.destroyed[id]; gone {
		clear(key[:])
		return fmt.Errorf("data key %d: %w", id, ErrKeyDestroyed)
	}
	if held, ok := r.keys[id]; ok {
		same := subtle.ConstantTimeCompare(held.key[:], key[:]) == 1
		clear(key[:])
		if !same {
			return fmt.Errorf("data key %d: %w", id, ErrKeyConflict)
		}
		return nil
	}
	r.keys[id] = ringKey{key: key, aead: a}
	return nil
}

// Has reports whether the ring holds the data key id.
func (r *Ring) Has(id uint32) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.keys[id]
	return ok
}

// Forget destroys data key id in this ring: its bytes are overwritten and
// every later Seal, Open or Add for id fails with ErrKeyDestroyed. (The
// AES key schedule inside crypto/aes cannot be wiped; it becomes garbage.)
// Forgetting an id the ring never held still bars it.
func (r *Ring) Forget(id uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[id]; ok {
		clear(k.key[:])
		delete(r.keys, id)
	}
	r.destroyed[id] = struct{}{}
}

// get returns the held key id, or ErrKeyDestroyed / ErrUnknownKey.
func (r *Ring) get(id uint32) (ringKey, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, gone := r.destroyed[id]; gone {
		return ringKey{}, fmt.Errorf("data key %d: %w", id, ErrKeyDestroyed)
	}
	k, ok := r.keys[id]
	if !ok {
		return ringKey{}, fmt.Errorf("data key %d: %w", id, ErrUnknownKey)
	}
	return k, nil
}

// Seal seals pt under data key id (see Seal). It fails with ErrUnknownKey
// if the ring does not hold id and ErrKeyDestroyed if id was forgotten.
func (r *Ring) Seal(id uint32, aad, pt []byte) ([]byte, error) {
	k, err := r.get(id)
	if err != nil {
		return nil, err
	}
	return sealWith(k.aead, id, aad, pt)
}

// Open opens a blob with whichever data key it names. If the ring does not
// hold that key — forgotten, or never added — the error is ErrKeyDestroyed
// (see its doc); a malformed or inauthentic blob gives ErrCorrupt.
func (r *Ring) Open(aad, sealed []byte) ([]byte, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	k, err := r.get(id)
	if err != nil {
		return nil, fmt.Errorf("data key %d not held: %w", id, ErrKeyDestroyed)
	}
	return openWith(k.aead, id, aad, sealed)
}
