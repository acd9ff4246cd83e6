// Package seal seals content on the proposer before it is replicated: it
// keeps the node's keyring in step with the data keys in the replicated
// state, creating the day's key (wrapped by the cluster KEK) the first time
// it is needed.
package seal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
)

// Proposer replicates commands and exposes the local replica.
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Sealer seals and opens content with the cluster's data keys: one key per
// retention class and period (raftfsm.DataKeyID), so that destroying a key
// destroys exactly content that is past its retention.
type Sealer struct {
	p    Proposer
	kek  keyring.KEK
	ring *keyring.Ring
	now  func() time.Time
	// refKey keys ConsumerRef.
	refKey [32]byte
	// refMACs are HMAC-SHA256 states keyed with refKey: ConsumerRef runs
	// on every send and receive, and resetting a keyed state is cheaper
	// than keying a new one.
	refMACs sync.Pool
	// state seals long-lived secrets (SealState).
	state keyring.DataKey
	// urlKey signs media download URLs.
	urlKey [32]byte
}

// New returns a sealer for the cluster KEK.
func New(p Proposer, kek keyring.KEK, now func() time.Time) *Sealer {
	if now == nil {
		now = time.Now
	}
	s := &Sealer{p: p, kek: kek, ring: keyring.NewRing(kek), now: now, refKey: RefKey(kek), state: stateKey(kek),
		urlKey: URLKey(kek)}
	s.refMACs.New = func() any { return hmac.New(sha256.New, s.refKey[:]) }
	return s
}

// Enabled reports whether this binary seals content (false only in a
// benchmark build with -tags waedge_noseal).
func Enabled() bool { return sealing }

// Day is the data-key id of the default (30-day) class for t: days since
// the Unix epoch (UTC).
func Day(t time.Time) uint32 { return uint32(t.UTC().Unix() / 86400) }

// Seal seals pt under the current data key of the default retention class
// (30 days), bound to aad.
func (s *Sealer) Seal(ctx context.Context, aad, pt []byte) ([]byte, error) {
	return s.SealFor(ctx, raftfsm.DefaultRetention, aad, pt)
}

// SealFor seals pt, bound to aad, under the current data key of the
// retention class of content kept for retention (a phone number's
// retention, raftfsm.Phone.EffectiveRetention): that key is destroyed soon
// after the content expires.
func (s *Sealer) SealFor(ctx context.Context, retention time.Duration, aad, pt []byte) ([]byte, error) {
	if !sealing {
		return bytes.Clone(pt), nil
	}
	id := raftfsm.DataKeyID(retention, s.now())
	out, err := s.ring.Seal(id, aad, pt)
	if err == nil || errors.Is(err, keyring.ErrKeyDestroyed) {
		return out, err
	}
	if err := s.ensure(ctx, id); err != nil {
		return nil, err
	}
	return s.ring.Seal(id, aad, pt)
}

// Forget destroys data keys in this node's keyring (expiry deleted them
// from the replicated state): nothing sealed under them opens again here.
func (s *Sealer) Forget(ids []uint32) {
	for _, id := range ids {
		s.ring.Forget(id)
	}
}

// Open opens a sealed blob, loading its data key from the replicated state
// if this node has not used it yet.
func (s *Sealer) Open(aad, sealed []byte) ([]byte, error) {
	if !sealing {
		return bytes.Clone(sealed), nil
	}
	pt, err := s.ring.Open(aad, sealed)
	if !errors.Is(err, keyring.ErrKeyDestroyed) {
		return pt, err
	}
	id, kerr := keyring.KeyID(sealed)
	if kerr != nil {
		return nil, kerr
	}
	wrapped, ferr := s.p.FSM().DataKey(id)
	if ferr != nil {
		return nil, keyring.ErrKeyDestroyed
	}
	if err := s.ring.Add(id, wrapped); err != nil {
		return nil, err
	}
	return s.ring.Open(aad, sealed)
}

// ensure loads or creates the data key id (named day for history). Concurrent creators race
// through Raft; the first committed key wins and everyone loads it.
func (s *Sealer) ensure(ctx context.Context, day uint32) error {
	if wrapped, err := s.p.FSM().DataKey(day); err == nil {
		return s.ring.Add(day, wrapped)
	}
	dk, err := keyring.NewDataKey(day)
	if err != nil {
		return err
	}
	wrapped, err := keyring.WrapDataKey(s.kek, dk)
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutDataKey, raftfsm.PutDataKey{Day: day, Wrapped: wrapped})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(s.p.Propose(ctx, cmd)); err != nil && !errors.Is(err, raftfsm.ErrConflict) {
		return fmt.Errorf("store data key: %w", err)
	}
	w, err := s.p.FSM().DataKey(day)
	if err != nil {
		return fmt.Errorf("load data key: %w", err)
	}
	return s.ring.Add(day, w)
}

// ConsumerRef is the stable, non-reversible reference under which state
// about one consumer of one phone number is keyed (24-hour windows, Signal
// sessions): HMAC-SHA256 under a key derived from the cluster KEK, so the
// consumer's number itself never appears in a key on disk. It is 32 hex
// digits and the same on every node.
func (s *Sealer) ConsumerRef(phoneNumberID, waID string) string {
	m := s.refMACs.Get().(hash.Hash)
	m.Reset()
	ref := consumerRef(m, phoneNumberID, waID)
	s.refMACs.Put(m)
	return ref
}

// RefKey derives the consumer-reference key from the cluster KEK.
func RefKey(kek keyring.KEK) [32]byte {
	m := hmac.New(sha256.New, kek[:])
	m.Write([]byte("waedge consumer ref v1"))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// URLKey is the key media download URLs are signed with: derived from the
// cluster KEK, so every node of the cluster validates the URLs any node
// handed out.
func (s *Sealer) URLKey() [32]byte { return s.urlKey }

// URLKey derives the media-URL signing key from the cluster KEK:
// HMAC-SHA256(KEK, "waedge media url v1").
func URLKey(kek keyring.KEK) [32]byte {
	m := hmac.New(sha256.New, kek[:])
	m.Write([]byte("waedge media url v1"))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// ConsumerRef computes a consumer reference under refKey (see RefKey).
func ConsumerRef(refKey [32]byte, phoneNumberID, waID string) string {
	return consumerRef(hmac.New(sha256.New, refKey[:]), phoneNumberID, waID)
}

// consumerRef is the first 16 bytes, in hex, of m (HMAC-SHA256 under the
// reference key, fresh) over phoneNumberID, a zero byte and waID.
func consumerRef(m hash.Hash, phoneNumberID, waID string) string {
	b := make([]byte, 0, max(len(phoneNumberID)+1+len(waID), sha256.Size))
	b = append(append(append(b, phoneNumberID...), 0), waID...)
	m.Write(b)
	sum := m.Sum(b[:0])
	var ref [32]byte
	hex.Encode(ref[:], sum[:16])
	return string(ref[:])
}

// stateKeyID is the key id of the state key: outside the range of day ids,
// so a state-sealed blob is never mistaken for a day-sealed one.
const stateKeyID = 0xFFFFFFFF

// stateKey derives the key that seals long-lived secrets (a business
// number's Signal identity and prekeys) from the KEK: they must outlive
// every daily data key, and die only with the cluster key.
func stateKey(kek keyring.KEK) keyring.DataKey {
	m := hmac.New(sha256.New, kek[:])
	m.Write([]byte("waedge state key v1"))
	dk := keyring.DataKey{ID: stateKeyID}
	copy(dk.Key[:], m.Sum(nil))
	return dk
}

// SealState seals a long-lived secret under the KEK-derived state key.
func (s *Sealer) SealState(aad, pt []byte) ([]byte, error) {
	return keyring.Seal(s.state, aad, pt)
}

// OpenState opens what SealState sealed.
func (s *Sealer) OpenState(aad, sealed []byte) ([]byte, error) {
	return keyring.Open(s.state, aad, sealed)
}
