// Package keyring seals data at rest: AES-256-GCM under data keys that
// rotate daily and are wrapped by a cluster key-encryption key (KEK).
// Destroying a day's data key makes everything sealed under it unreadable,
// wherever a copy of the ciphertext survives (database, snapshot, Raft log
// tail, backup). Sealing happens on the proposer, before a command enters
// Raft, so replicated bytes are ciphertext; nonces are random, which is why
// sealing never runs inside Apply.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Errors.
var (
	// ErrCorrupt: a sealed blob that is malformed or fails authentication.
	ErrCorrupt = errors.New("sealed data corrupt or not authentic")
	// ErrKeyMismatch: the blob was sealed under another data key.
	ErrKeyMismatch = errors.New("sealed under another data key")
	// ErrKeyDestroyed: the data key was destroyed (data past retention).
	ErrKeyDestroyed = errors.New("data key destroyed")
	// ErrBadKEK: a key-encryption key that does not parse.
	ErrBadKEK = errors.New("invalid key-encryption key")
)

// KEK is the cluster key-encryption key.
type KEK [32]byte

// DataKey is one day's data key; ID is the day number (unix days).
type DataKey struct {
	ID  uint32
	Key [32]byte
}

const (
	sealVersion byte = 1
	headerLen        = 1 + 4 + 12
)

// ParseKEK reads a KEK given as hex or base64 of 32 bytes.
func ParseKEK(s string) (KEK, error) {
	var k KEK
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			copy(k[:], b)
			return k, nil
		}
	}
	return k, ErrBadKEK
}

// LoadOrCreateKEK reads the KEK from path (hex), creating it (0600) if absent.
func LoadOrCreateKEK(path string) (KEK, error) {
	if b, err := os.ReadFile(path); err == nil {
		return ParseKEK(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return KEK{}, err
	}
	var k KEK
	if _, err := rand.Read(k[:]); err != nil {
		return k, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return k, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k[:]) + "\n"); err != nil {
		return k, err
	}
	return k, f.Sync()
}

// NewDataKey makes a fresh data key for day.
func NewDataKey(day uint32) (DataKey, error) {
	dk := DataKey{ID: day}
	_, err := rand.Read(dk.Key[:])
	return dk, err
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func idAAD(id uint32, aad []byte) []byte {
	out := make([]byte, 4, 4+len(aad))
	binary.BigEndian.PutUint32(out, id)
	return append(out, aad...)
}

// WrapDataKey encrypts a data key under the KEK, bound to its id.
func WrapDataKey(kek KEK, dk DataKey) ([]byte, error) {
	return sealRaw(kek[:], dk.ID, []byte("waedge data key"), dk.Key[:])
}

// UnwrapDataKey decrypts a wrapped data key.
func UnwrapDataKey(kek KEK, id uint32, wrapped []byte) (DataKey, error) {
	pt, err := openRaw(kek[:], id, []byte("waedge data key"), wrapped)
	if err != nil {
		return DataKey{}, err
	}
	if len(pt) != 32 {
		return DataKey{}, ErrCorrupt
	}
	dk := DataKey{ID: id}
	copy(dk.Key[:], pt)
	return dk, nil
}

func sealRaw(key []byte, id uint32, aad, pt []byte) ([]byte, error) {
	a, err := gcm(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerLen, headerLen+len(pt)+a.Overhead())
	out[0] = sealVersion
	binary.BigEndian.PutUint32(out[1:5], id)
	if _, err := rand.Read(out[5:headerLen]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[5:headerLen], pt, idAAD(id, aad)), nil
}

func openRaw(key []byte, id uint32, aad, sealed []byte) ([]byte, error) {
	got, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	if got != id {
		return nil, ErrKeyMismatch
	}
	a, err := gcm(key)
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, sealed[5:headerLen], sealed[headerLen:], idAAD(id, aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// KeyID tells which data key a sealed blob needs.
func KeyID(sealed []byte) (uint32, error) {
	if len(sealed) < headerLen+16 || sealed[0] != sealVersion {
		return 0, ErrCorrupt
	}
	return binary.BigEndian.Uint32(sealed[1:5]), nil
}

// Seal encrypts plaintext under dk; aad binds it to its context (e.g. the
// message id) so a blob cannot be moved to another record.
func Seal(dk DataKey, aad, plaintext []byte) ([]byte, error) {
	return sealRaw(dk.Key[:], dk.ID, aad, plaintext)
}

// Open decrypts a blob sealed under dk.
func Open(dk DataKey, aad, sealed []byte) ([]byte, error) {
	return openRaw(dk.Key[:], dk.ID, aad, sealed)
}

// Ring holds the unwrapped data keys a node currently knows.
type Ring struct {
	kek       KEK
	mu        sync.RWMutex
	keys      map[uint32]DataKey
	destroyed map[uint32]bool
}

// NewRing returns an empty ring for kek.
func NewRing(kek KEK) *Ring {
	return &Ring{kek: kek, keys: map[uint32]DataKey{}, destroyed: map[uint32]bool{}}
}

// Add unwraps and remembers a data key.
func (r *Ring) Add(id uint32, wrapped []byte) error {
	dk, err := UnwrapDataKey(r.kek, id, wrapped)
	if err != nil {
		return fmt.Errorf("unwrap data key %d: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.destroyed[id] {
		r.keys[id] = dk
	}
	return nil
}

// Forget destroys a data key in memory; later Opens fail with ErrKeyDestroyed.
func (r *Ring) Forget(id uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[id]; ok {
		clear(k.Key[:])
		delete(r.keys, id)
	}
	r.destroyed[id] = true
}

// Seal seals under the data key id.
func (r *Ring) Seal(id uint32, aad, pt []byte) ([]byte, error) {
	r.mu.RLock()
	dk, ok := r.keys[id]
	destroyed := r.destroyed[id]
	r.mu.RUnlock()
	if destroyed {
		return nil, ErrKeyDestroyed
	}
	if !ok {
		return nil, fmt.Errorf("data key %d: %w", id, ErrKeyMismatch)
	}
	return Seal(dk, aad, pt)
}

// Open opens a blob with whichever data key it names.
func (r *Ring) Open(aad, sealed []byte) ([]byte, error) {
	id, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	dk, ok := r.keys[id]
	destroyed := r.destroyed[id]
	r.mu.RUnlock()
	if destroyed || !ok {
		return nil, ErrKeyDestroyed
	}
	return Open(dk, aad, sealed)
}
