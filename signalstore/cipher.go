package signalstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/util/optional"

	"github.com/waedge/waedge/network"
)

// Address returns the libsignal address of a remote device.
func Address(number string, deviceID uint32) *protocol.SignalAddress {
	return protocol.NewSignalAddress(number, deviceID)
}

// StartSession runs X3DH as initiator against a bundle fetched from the network. The caller holds the
// lock of the bundle's address.
func (s *SignalStore) StartSession(ctx context.Context, b network.PreKeyBundle) error {
	lb, err := libsignalBundle(b)
	if err != nil {
		return err
	}
	addr := Address(b.Number, b.DeviceID)
	if err := session.NewBuilder(s, s, s, s, addr, s.ser).ProcessBundle(ctx, lb); err != nil {
		return fmt.Errorf("process bundle: %w", err)
	}
	return nil
}

// libsignalBundle converts a network bundle, checking every key length first (ecc.DecodePoint
// indexes its input without checking).
func libsignalBundle(b network.PreKeyBundle) (*prekey.Bundle, error) {
	if !network.ValidKey(b.IdentityKey) || !network.ValidKey(b.SignedPreKey) || len(b.SignedPreKeySig) != network.SignatureLen ||
		(b.PreKeyID != 0 && !network.ValidKey(b.PreKey)) || b.DeviceID == 0 {
		return nil, ErrBadBundle
	}
	ik, err := ecc.DecodePoint(b.IdentityKey, 0)
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", ErrBadBundle)
	}
	spk, err := ecc.DecodePoint(b.SignedPreKey, 0)
	if err != nil {
		return nil, fmt.Errorf("signed prekey: %w", ErrBadBundle)
	}
	// An absent one-time prekey must be a nil interface, not a typed nil: libsignal compares with nil.
	var otk ecc.ECPublicKeyable
	otkID := optional.NewEmptyUint32()
	if b.PreKeyID != 0 {
		if otk, err = ecc.DecodePoint(b.PreKey, 0); err != nil {
			return nil, fmt.Errorf("one-time prekey: %w", ErrBadBundle)
		}
		otkID = optional.NewOptionalUint32(b.PreKeyID)
	}
	return prekey.NewBundle(b.RegistrationID, b.DeviceID, otkID, b.SignedPreKeyID, otk, spk,
		[64]byte(b.SignedPreKeySig), identity.NewKey(ik)), nil
}

// Encrypt encrypts plaintext for addr with the stored session (the updated record is stored before
// Encrypt returns). The caller holds addr's lock.
func (s *SignalStore) Encrypt(ctx context.Context, addr *protocol.SignalAddress, plaintext []byte) (network.Kind, []byte, error) {
	c := session.NewCipher(session.NewBuilder(s, s, s, s, addr, s.ser), addr)
	msg, err := c.Encrypt(ctx, plaintext)
	if err != nil {
		return 0, nil, fmt.Errorf("encrypt: %w", err)
	}
	switch msg.Type() {
	case protocol.PREKEY_TYPE:
		return network.KindPreKeyMessage, msg.Serialize(), nil
	case protocol.WHISPER_TYPE:
		return network.KindSignalMessage, msg.Serialize(), nil
	}
	return 0, nil, fmt.Errorf("encrypt produced message type %d", msg.Type())
}

// Decrypt decrypts a pkmsg or msg from addr. A replay of something already decrypted fails with an
// error matching signalerror.ErrOldCounter. The caller holds addr's lock.
func (s *SignalStore) Decrypt(ctx context.Context, addr *protocol.SignalAddress, kind network.Kind, ciphertext []byte) ([]byte, error) {
	c := session.NewCipher(session.NewBuilder(s, s, s, s, addr, s.ser), addr)
	switch kind {
	case network.KindPreKeyMessage:
		m, err := protocol.NewPreKeySignalMessageFromBytes(ciphertext, s.ser.PreKeySignalMessage, s.ser.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse pkmsg: %w", err)
		}
		return c.DecryptMessage(ctx, m)
	case network.KindSignalMessage:
		m, err := protocol.NewSignalMessageFromBytes(ciphertext, s.ser.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse msg: %w", err)
		}
		return c.Decrypt(ctx, m)
	}
	return nil, fmt.Errorf("envelope kind %d: %w", kind, network.ErrInvalid)
}

// IsDuplicate reports whether a decrypt error means "already decrypted this message".
func IsDuplicate(err error) bool { return errors.Is(err, signalerror.ErrOldCounter) }

// Locks hands out one mutex per key (a Signal address); libsignal has no locking of its own and two
// concurrent operations on one session reuse counters.
type Locks struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

// Lock locks key and returns its unlock function.
func (l *Locks) Lock(key string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*sync.Mutex)
	}
	m := l.m[key]
	if m == nil {
		m = new(sync.Mutex)
		l.m[key] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}
