package signalstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/keyhelper"

	"github.com/waedge/waedge/network"
)

// Buckets of a phone Store used by SignalStore.
const (
	bSignalMeta = "signal_meta"
	bPreKeys    = "prekeys"
	bSignedKeys = "signed_prekeys"
	bSessions   = "sessions"
	bIdentities = "identities"
)

// SignalStore implements libsignal's identity, prekey, signed-prekey and session stores on a Store.
// Every load deserializes fresh bytes (libsignal mutates records in memory before it checks a MAC,
// so a cached object would be corrupted by one forged message), every store serializes and refuses
// empty output (record.Session.Serialize swallows errors and returns nil). It does no locking of its
// own: callers hold one lock per remote address around each encrypt/decrypt.
type SignalStore struct {
	st    Store
	ser   *serialize.Serializer
	kp    *identity.KeyPair
	regID uint32

	mu sync.Mutex // serializes prekey id allocation
}

// OpenSignalStore loads the identity kept in st, creating one (identity key pair, 14-bit registration
// id, signed prekey 1) on first use.
func Open(st Store) (*SignalStore, error) {
	s := &SignalStore{st: st, ser: serialize.NewProtoBufSerializer()}
	raw, err := st.Get(bSignalMeta, "identity")
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	if raw == nil {
		if err := s.create(); err != nil {
			return nil, err
		}
		raw, err = st.Get(bSignalMeta, "identity")
		if err != nil {
			return nil, fmt.Errorf("load identity: %w", err)
		}
	}
	if len(raw) != 32+network.KeyLen+4 {
		return nil, fmt.Errorf("identity record: %w", ErrStore)
	}
	pub, err := ecc.DecodePoint(raw[32:32+network.KeyLen], 0)
	if err != nil {
		return nil, fmt.Errorf("identity public key: %w", ErrStore)
	}
	s.kp = identity.NewKeyPair(identity.NewKey(pub), ecc.NewDjbECPrivateKey([32]byte(raw[:32])))
	s.regID = binary.BigEndian.Uint32(raw[32+network.KeyLen:])
	return s, nil
}

func (s *SignalStore) create() error {
	kp, err := keyhelper.GenerateIdentityKeyPair()
	if err != nil {
		return fmt.Errorf("identity key: %w", err)
	}
	// GenerateRegistrationID returns 32 random bits; Signal registration ids are 14-bit and non-zero.
	regID := keyhelper.GenerateRegistrationID()%16380 + 1
	spk, err := keyhelper.GenerateSignedPreKey(kp, 1, s.ser.SignedPreKeyRecord)
	if err != nil {
		return fmt.Errorf("signed prekey: %w", err)
	}
	if err := s.StoreSignedPreKey(context.Background(), spk.ID(), spk); err != nil {
		return err
	}
	priv := kp.PrivateKey().Serialize()
	raw := append(append(priv[:], kp.PublicKey().Serialize()...), binary.BigEndian.AppendUint32(nil, regID)...)
	if err := s.st.Put(bSignalMeta, "signed_prekey_id", binary.BigEndian.AppendUint32(nil, spk.ID())); err != nil {
		return fmt.Errorf("store signed prekey id: %w", err)
	}
	// The identity is written last: a crash before this point just creates a new one next time.
	if err := s.st.Put(bSignalMeta, "identity", raw); err != nil {
		return fmt.Errorf("store identity: %w", err)
	}
	return nil
}

// Serializer returns the serializer the store's records use (libsignal's protobuf one).
func (s *SignalStore) Serializer() *serialize.Serializer { return s.ser }

// IdentityPublicKey returns the serialized public identity key (33 bytes).
func (s *SignalStore) IdentityPublicKey() []byte { return s.kp.PublicKey().Serialize() }

// SignAuth signs msg (a network.AuthMessage) with the identity key.
func (s *SignalStore) SignAuth(msg []byte) []byte {
	sig := ecc.CalculateSignature(s.kp.PrivateKey(), msg)
	return sig[:]
}

// Registration returns the public registration for number with the given one-time prekeys.
func (s *SignalStore) Registration(ctx context.Context, number string, role network.Role, otks []network.OneTimePreKey) (network.Registration, error) {
	raw, err := s.st.Get(bSignalMeta, "signed_prekey_id")
	if err != nil || len(raw) != 4 {
		return network.Registration{}, fmt.Errorf("signed prekey id: %w", ErrStore)
	}
	spk, err := s.LoadSignedPreKey(ctx, binary.BigEndian.Uint32(raw))
	if err != nil || spk == nil {
		return network.Registration{}, fmt.Errorf("signed prekey: %w", ErrStore)
	}
	sig := spk.Signature()
	return network.Registration{Number: number, DeviceID: 1, RegistrationID: s.regID,
		IdentityKey: s.IdentityPublicKey(), Role: role, PreKeys: otks,
		SignedPreKey: network.SignedPreKey{ID: spk.ID(), Public: spk.KeyPair().PublicKey().Serialize(), Signature: sig[:]}}, nil
}

// NewPreKeys generates n one-time prekeys with fresh ids (never reused: the counter is persisted),
// stores their private halves and returns the public halves to publish.
func (s *SignalStore) NewPreKeys(ctx context.Context, n int) ([]network.OneTimePreKey, error) {
	if n <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := uint32(1)
	if raw, err := s.st.Get(bSignalMeta, "next_prekey_id"); err != nil {
		return nil, fmt.Errorf("prekey counter: %w", err)
	} else if len(raw) == 4 {
		next = binary.BigEndian.Uint32(raw)
	}
	if next+uint32(n) > network.MaxPreKeyID {
		next = 1 // 24-bit ids wrap; ids still in the store are skipped below
	}
	// GeneratePreKeys' second argument is the last id, inclusive.
	pks, err := keyhelper.GeneratePreKeys(int(next), int(next)+n-1, s.ser.PreKeyRecord)
	if err != nil {
		return nil, fmt.Errorf("generate prekeys: %w", err)
	}
	out := make([]network.OneTimePreKey, 0, n)
	entries := make([]Entry, 0, n+1)
	for _, pk := range pks {
		id := pk.ID().Value
		if ok, _ := s.ContainsPreKey(ctx, id); ok {
			continue
		}
		b := pk.Serialize()
		if len(b) == 0 {
			return nil, fmt.Errorf("serialize prekey %d: %w", id, ErrStore)
		}
		entries = append(entries, Entry{Bucket: bPreKeys, Key: keyID(id), Value: b})
		out = append(out, network.OneTimePreKey{ID: id, Public: pk.KeyPair().PublicKey().Serialize()})
	}
	// The private halves and the counter are stored together, before anything is published.
	entries = append(entries, Entry{Bucket: bSignalMeta, Key: "next_prekey_id", Value: binary.BigEndian.AppendUint32(nil, next+uint32(n))})
	if err := s.st.Write(entries...); err != nil {
		return nil, fmt.Errorf("store prekeys: %w", err)
	}
	return out, nil
}

func keyID(id uint32) string { return fmt.Sprintf("%08d", id) }

// GetIdentityKeyPair implements store.IdentityKey.
func (s *SignalStore) GetIdentityKeyPair() *identity.KeyPair { return s.kp }

// GetLocalRegistrationID implements store.IdentityKey.
func (s *SignalStore) GetLocalRegistrationID() uint32 { return s.regID }

// SaveIdentity implements store.IdentityKey; it writes only when the key changed (libsignal calls it
// on every message).
func (s *SignalStore) SaveIdentity(_ context.Context, addr *protocol.SignalAddress, key *identity.Key) error {
	b := key.Serialize()
	old, err := s.st.Get(bIdentities, addr.String())
	if err != nil {
		return fmt.Errorf("load identity: %w", err)
	}
	if bytes.Equal(old, b) {
		return nil
	}
	return s.st.Put(bIdentities, addr.String(), b)
}

// IsTrustedIdentity implements store.IdentityKey. Like WhatsApp, a phone accepts a changed identity
// (the peer reinstalled) instead of refusing to talk; SaveIdentity records the new key.
func (s *SignalStore) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

// LoadPreKey implements store.PreKey; a missing key is (nil, nil).
func (s *SignalStore) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	b, err := s.st.Get(bPreKeys, keyID(id))
	if err != nil || b == nil {
		return nil, err
	}
	st, err := s.ser.PreKeyRecord.Deserialize(b)
	if err != nil {
		return nil, fmt.Errorf("prekey %d: %w", id, ErrStore)
	}
	kp, err := keyPairFromRecord(st.PublicKey, st.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("prekey %d: %w", id, err)
	}
	return record.NewPreKey(st.ID, kp, s.ser.PreKeyRecord), nil
}

// keyPairFromRecord rebuilds a key pair from a stored prekey structure. libsignal v0.2.1's
// NewPreKeyFromStruct and NewSignedPreKeyFromStruct copy the 33-byte serialized public key (type
// byte first) into a 32-byte array, so every record read back from bytes has a corrupt public key;
// the receiver then advertises a wrong ratchet key and the session breaks. Decoding the point
// properly avoids that.
func keyPairFromRecord(pub, priv []byte) (*ecc.ECKeyPair, error) {
	if len(priv) != 32 {
		return nil, ErrStore
	}
	var pk ecc.ECPublicKeyable
	switch {
	case network.ValidKey(pub):
		p, err := ecc.DecodePoint(pub, 0)
		if err != nil {
			return nil, ErrStore
		}
		pk = p
	case len(pub) == 32:
		pk = ecc.NewDjbECPublicKey([32]byte(pub))
	default:
		return nil, ErrStore
	}
	return ecc.NewECKeyPair(pk, ecc.NewDjbECPrivateKey([32]byte(priv))), nil
}

// StorePreKey implements store.PreKey.
func (s *SignalStore) StorePreKey(_ context.Context, id uint32, r *record.PreKey) error {
	b := r.Serialize()
	if len(b) == 0 {
		return fmt.Errorf("serialize prekey %d: %w", id, ErrStore)
	}
	return s.st.Put(bPreKeys, keyID(id), b)
}

// ContainsPreKey implements store.PreKey.
func (s *SignalStore) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	b, err := s.st.Get(bPreKeys, keyID(id))
	return b != nil, err
}

// RemovePreKey implements store.PreKey.
func (s *SignalStore) RemovePreKey(_ context.Context, id uint32) error {
	return s.st.Delete(bPreKeys, keyID(id))
}

// LoadSignedPreKey implements store.SignedPreKey; a missing key is (nil, nil).
func (s *SignalStore) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	b, err := s.st.Get(bSignedKeys, keyID(id))
	if err != nil || b == nil {
		return nil, err
	}
	return s.signedPreKeyFromBytes(b)
}

// signedPreKeyFromBytes is record.NewSignedPreKeyFromBytes without its public-key bug (see
// keyPairFromRecord).
func (s *SignalStore) signedPreKeyFromBytes(b []byte) (*record.SignedPreKey, error) {
	st, err := s.ser.SignedPreKeyRecord.Deserialize(b)
	if err != nil || len(st.Signature) != network.SignatureLen {
		return nil, fmt.Errorf("signed prekey: %w", ErrStore)
	}
	kp, err := keyPairFromRecord(st.PublicKey, st.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("signed prekey %d: %w", st.ID, err)
	}
	return record.NewSignedPreKey(st.ID, st.Timestamp, kp, [64]byte(st.Signature), s.ser.SignedPreKeyRecord), nil
}

// LoadSignedPreKeys implements store.SignedPreKey.
func (s *SignalStore) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	var out []*record.SignedPreKey
	err := s.st.ForEach(bSignedKeys, func(_ string, v []byte) error {
		r, err := s.signedPreKeyFromBytes(v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// StoreSignedPreKey implements store.SignedPreKey.
func (s *SignalStore) StoreSignedPreKey(_ context.Context, id uint32, r *record.SignedPreKey) error {
	b := r.Serialize()
	if len(b) == 0 {
		return fmt.Errorf("serialize signed prekey %d: %w", id, ErrStore)
	}
	return s.st.Put(bSignedKeys, keyID(id), b)
}

// ContainsSignedPreKey implements store.SignedPreKey.
func (s *SignalStore) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	b, err := s.st.Get(bSignedKeys, keyID(id))
	return b != nil, err
}

// RemoveSignedPreKey implements store.SignedPreKey.
func (s *SignalStore) RemoveSignedPreKey(_ context.Context, id uint32) error {
	return s.st.Delete(bSignedKeys, keyID(id))
}

// LoadSession implements store.Session: always a freshly deserialized record, and a new empty record
// (never nil) for an unknown address.
func (s *SignalStore) LoadSession(_ context.Context, addr *protocol.SignalAddress) (*record.Session, error) {
	b, err := s.st.Get(bSessions, addr.String())
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if b == nil {
		return record.NewSession(s.ser.Session, s.ser.State), nil
	}
	return record.NewSessionFromBytes(b, s.ser.Session, s.ser.State)
}

// GetSubDeviceSessions implements store.Session.
func (s *SignalStore) GetSubDeviceSessions(_ context.Context, name string) ([]uint32, error) {
	var out []uint32
	err := s.st.ForEach(bSessions, func(k string, _ []byte) error {
		n, dev, ok := strings.Cut(k, ":")
		if ok && n == name {
			if d, err := strconv.ParseUint(dev, 10, 32); err == nil && d != 1 {
				out = append(out, uint32(d))
			}
		}
		return nil
	})
	return out, err
}

// StoreSession implements store.Session; empty serializations are refused, and so is a record that
// makes libsignal's serializer panic (a fresh record without keys does).
func (s *SignalStore) StoreSession(_ context.Context, addr *protocol.SignalAddress, r *record.Session) (err error) {
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("serialize session: %w", ErrStore)
		}
	}()
	b := r.Serialize()
	if len(b) == 0 {
		return fmt.Errorf("serialize session: %w", ErrStore)
	}
	return s.st.Put(bSessions, addr.String(), b)
}

// ContainsSession implements store.Session.
func (s *SignalStore) ContainsSession(_ context.Context, addr *protocol.SignalAddress) (bool, error) {
	b, err := s.st.Get(bSessions, addr.String())
	return b != nil, err
}

// DeleteSession implements store.Session.
func (s *SignalStore) DeleteSession(_ context.Context, addr *protocol.SignalAddress) error {
	return s.st.Delete(bSessions, addr.String())
}

// DeleteAllSessions implements store.Session.
func (s *SignalStore) DeleteAllSessions(context.Context) error {
	var keys []string
	if err := s.st.ForEach(bSessions, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.st.Delete(bSessions, k); err != nil {
			return err
		}
	}
	return nil
}

// SignedPreKeyAge returns the id and creation time (Unix seconds) of the
// signed prekey currently published.
func (s *SignalStore) SignedPreKeyAge(ctx context.Context) (uint32, int64, error) {
	raw, err := s.st.Get(bSignalMeta, "signed_prekey_id")
	if err != nil || len(raw) != 4 {
		return 0, 0, fmt.Errorf("signed prekey id: %w", ErrStore)
	}
	spk, err := s.LoadSignedPreKey(ctx, binary.BigEndian.Uint32(raw))
	if err != nil || spk == nil {
		return 0, 0, fmt.Errorf("signed prekey: %w", ErrStore)
	}
	return spk.ID(), spk.Timestamp(), nil
}

// RotateSignedPreKey makes a new signed prekey current. The previous one
// stays loadable for a grace period (pkmsgs in flight still name it);
// older ones are removed.
func (s *SignalStore) RotateSignedPreKey(ctx context.Context) (uint32, error) {
	cur, _, err := s.SignedPreKeyAge(ctx)
	if err != nil {
		return 0, err
	}
	next := cur%network.MaxPreKeyID + 1
	spk, err := keyhelper.GenerateSignedPreKey(s.kp, next, s.ser.SignedPreKeyRecord)
	if err != nil {
		return 0, fmt.Errorf("signed prekey: %w", err)
	}
	if err := s.StoreSignedPreKey(ctx, next, spk); err != nil {
		return 0, err
	}
	if err := s.st.Put(bSignalMeta, "signed_prekey_id", binary.BigEndian.AppendUint32(nil, next)); err != nil {
		return 0, err
	}
	var old []uint32
	err = s.st.ForEach(bSignedKeys, func(k string, _ []byte) error {
		if id, err := strconv.ParseUint(k, 10, 32); err == nil && uint32(id) != cur && uint32(id) != next {
			old = append(old, uint32(id))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range old {
		if err := s.RemoveSignedPreKey(ctx, id); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// PruneSession keeps only the current state of addr's session record when
// the record is larger than limit bytes (archived states are what grows,
// and each one makes garbage decrypts costlier). It reports the record's
// size afterwards (0 when there is no session).
func (s *SignalStore) PruneSession(ctx context.Context, addr *protocol.SignalAddress, limit int) (int, error) {
	b, err := s.st.Get(bSessions, addr.String())
	if err != nil || len(b) <= limit {
		return len(b), err
	}
	rec, err := record.NewSessionFromBytes(b, s.ser.Session, s.ser.State)
	if err != nil {
		return 0, fmt.Errorf("session: %w", ErrStore)
	}
	pruned := record.NewSessionFromState(rec.SessionState(), s.ser.Session)
	if err := s.StoreSession(ctx, addr, pruned); err != nil {
		return 0, err
	}
	nb, err := s.st.Get(bSessions, addr.String())
	return len(nb), err
}
