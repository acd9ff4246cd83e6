package keyring

import "errors"

// ErrCorrupt is returned for a sealed blob or wrapped key that is malformed
// (too short, unknown version) or fails authentication (tampered bytes,
// wrong AAD, wrong key).
var ErrCorrupt = errors.New("sealed data corrupt or not authentic")

// ErrKeyMismatch is returned by Open and UnwrapDataKey when the blob names
// another key id than the key offered.
var ErrKeyMismatch = errors.New("sealed under another data key")

// ErrKeyDestroyed is returned when the data key a blob needs has been
// destroyed (its data is past retention). Ring.Open also returns it for a
// key the ring does not hold: a ring cannot tell a key destroyed before a
// restart from one it was never given, and callers that can load keys
// treat the error as "look it up, else it is gone".
var ErrKeyDestroyed = errors.New("data key destroyed")

// ErrUnknownKey is returned by Ring.Seal for a key id the ring was never
// given: the caller should create or load that day's key and Add it.
var ErrUnknownKey = errors.New("data key not in the keyring")

// ErrKeyConflict is returned by Ring.Add when the ring already holds a
// different key under the same id. Replacing it would make everything
// sealed under the first key unreadable.
var ErrKeyConflict = errors.New("a different data key with this id is already held")

// ErrBadKEK is returned for a key-encryption key that does not parse: not
// hex or base64 of exactly 32 bytes, or all zero.
var ErrBadKEK = errors.New("invalid key-encryption key")

// ErrKEKPermissions is returned by LoadOrCreateKEK when the key file is
// readable or writable by users other than its owner.
var ErrKEKPermissions = errors.New("key-encryption key file is accessible to other users")
