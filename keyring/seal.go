// Package keyring seals data at rest: AES-256-GCM under data keys that
// rotate daily and are wrapped by a cluster key-encryption key (KEK).
// Destroying a day's data key makes everything sealed under it unreadable,
// wherever a copy of the ciphertext survives (database, snapshot, Raft log
// tail, backup).
//
// Sealing happens on the proposer, before a command enters Raft, so the
// replicated bytes are ciphertext; nonces are random, which is why sealing
// must never run inside a (deterministic) Raft Apply.
//
// Sealed format: [version 1][key id uint32 big-endian][nonce 12][ciphertext+tag 16].
// The key id and the caller's AAD are authenticated.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
)

const (
	sealVersion byte = 1
	nonceLen         = 12
	tagLen           = 16
	idOff            = 1
	nonceOff         = idOff + 4
	headerLen        = nonceOff + nonceLen
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = headerLen + tagLen
)

// wrapAAD separates wrapped data keys from content, should a KEK ever be
// used as a data key by mistake.
var wrapAAD = []byte("waedge data key")

// DataKey is one day's data key; ID is the day number (days since the Unix
// epoch, UTC). Printing a DataKey shows only its ID.
type DataKey struct {
	ID  uint32
	Key [32]byte
}

// String shows the key's id, never its bytes.
func (dk DataKey) String() string { return fmt.Sprintf("keyring.DataKey(id=%d)", dk.ID) }

// GoString shows the key's id, never its bytes (for %#v).
func (dk DataKey) GoString() string { return dk.String() }

// LogValue makes slog show the key's id only.
func (dk DataKey) LogValue() slog.Value { return slog.GroupValue(slog.Uint64("id", uint64(dk.ID))) }

// NewDataKey makes a fresh random data key for day.
func NewDataKey(day uint32) (DataKey, error) {
	dk := DataKey{ID: day}
	if _, err := rand.Read(dk.Key[:]); err != nil {
		return DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	return dk, nil
}

// newAEAD returns AES-256-GCM under key.
func newAEAD(key *[32]byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// fullAAD is what GCM authenticates besides the ciphertext: the key id,
// then the caller's AAD. The id has a fixed length, so the concatenation is
// unambiguous.
func fullAAD(id uint32, aad []byte) []byte {
	out := make([]byte, 4, 4+len(aad))
	binary.BigEndian.PutUint32(out, id)
	return append(out, aad...)
}

func sealWith(a cipher.AEAD, id uint32, aad, pt []byte) ([]byte, error) {
	// One allocation holds the blob and, after it, the full AAD (a send
	// seals three times). The blob is capped at its own length, so
	// appending to it reallocates rather than reaching the AAD, and the
	// AAD is cleared once sealed.
	n := headerLen + len(pt) + tagLen
	buf := make([]byte, n+4+len(aad))
	out, full := buf[:headerLen:n], buf[n:]
	binary.BigEndian.PutUint32(full, id)
	copy(full[4:], aad)
	out[0] = sealVersion
	binary.BigEndian.PutUint32(out[idOff:], id)
	if _, err := rand.Read(out[nonceOff:headerLen]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out = a.Seal(out, out[nonceOff:headerLen], pt, full)
	clear(full)
	return out, nil
}

func openWith(a cipher.AEAD, id uint32, aad, sealed []byte) ([]byte, error) {
	got, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	if got != id {
		return nil, fmt.Errorf("%w: blob needs key %d, have key %d", ErrKeyMismatch, got, id)
	}
	pt, err := a.Open(nil, sealed[nonceOff:headerLen], sealed[headerLen:], fullAAD(id, aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// KeyID tells which data key a sealed blob needs. It checks only the
// header: ErrCorrupt if the blob is too short to be sealed or has an
// unknown version.
func KeyID(sealed []byte) (uint32, error) {
	if len(sealed) < Overhead || sealed[0] != sealVersion {
		return 0, ErrCorrupt
	}
	return binary.BigEndian.Uint32(sealed[idOff:]), nil
}

// Seal encrypts plaintext under dk with a random nonce. aad binds the blob
// to its context (e.g. the message id) so that it cannot be moved to
// another record unnoticed; Open needs the same aad.
func Seal(dk DataKey, aad, plaintext []byte) ([]byte, error) {
	a, err := newAEAD(&dk.Key)
	if err != nil {
		return nil, err
	}
	return sealWith(a, dk.ID, aad, plaintext)
}

// Open decrypts a blob sealed under dk with the same aad. It returns
// ErrKeyMismatch if the blob names another key id and ErrCorrupt if it is
// malformed or not authentic.
func Open(dk DataKey, aad, sealed []byte) ([]byte, error) {
	a, err := newAEAD(&dk.Key)
	if err != nil {
		return nil, err
	}
	return openWith(a, dk.ID, aad, sealed)
}

// WrapDataKey encrypts a data key under the KEK for storage in the
// replicated state. The wrapped form is bound to the key's id.
func WrapDataKey(kek KEK, dk DataKey) ([]byte, error) {
	k := [32]byte(kek)
	a, err := newAEAD(&k)
	if err != nil {
		return nil, err
	}
	return sealWith(a, dk.ID, wrapAAD, dk.Key[:])
}

// UnwrapDataKey decrypts the wrapped data key with id. A wrong KEK or
// tampered bytes give ErrCorrupt; a blob wrapped for another id gives
// ErrKeyMismatch.
func UnwrapDataKey(kek KEK, id uint32, wrapped []byte) (DataKey, error) {
	k := [32]byte(kek)
	a, err := newAEAD(&k)
	if err != nil {
		return DataKey{}, err
	}
	pt, err := openWith(a, id, wrapAAD, wrapped)
	if err != nil {
		return DataKey{}, err
	}
	if len(pt) != 32 {
		return DataKey{}, ErrCorrupt
	}
	dk := DataKey{ID: id, Key: [32]byte(pt)}
	clear(pt)
	return dk, nil
}
