// Package seal seals content on the proposer before it is replicated: it
// keeps the node's keyring in step with the data keys in the replicated
// state, creating the day's key (wrapped by the cluster KEK) the first time
// it is needed.
package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
)

// Proposer replicates commands and exposes the local replica.
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error)
	FSM() *raftfsm.FSM
}

// Sealer seals and opens content with the cluster's daily data keys.
type Sealer struct {
	p    Proposer
	kek  keyring.KEK
	ring *keyring.Ring
	now  func() time.Time
}

// New returns a sealer for the cluster KEK.
func New(p Proposer, kek keyring.KEK, now func() time.Time) *Sealer {
	if now == nil {
		now = time.Now
	}
	return &Sealer{p: p, kek: kek, ring: keyring.NewRing(kek), now: now}
}

// Day is the data-key id for t: days since the Unix epoch (UTC).
func Day(t time.Time) uint32 { return uint32(t.UTC().Unix() / 86400) }

// Seal seals pt under today's data key, bound to aad.
func (s *Sealer) Seal(ctx context.Context, aad, pt []byte) ([]byte, error) {
	day := Day(s.now())
	out, err := s.ring.Seal(day, aad, pt)
	if err == nil || errors.Is(err, keyring.ErrKeyDestroyed) {
		return out, err
	}
	if err := s.ensure(ctx, day); err != nil {
		return nil, err
	}
	return s.ring.Seal(day, aad, pt)
}

// Open opens a sealed blob, loading its data key from the replicated state
// if this node has not used it yet.
func (s *Sealer) Open(aad, sealed []byte) ([]byte, error) {
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

// ensure loads or creates the data key of day. Concurrent creators race
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
	res, err := s.p.Propose(ctx, cmd)
	if err != nil {
		return fmt.Errorf("store data key: %w", err)
	}
	if res.Err != nil && !errors.Is(res.Err, raftfsm.ErrConflict) {
		return res.Err
	}
	w, err := s.p.FSM().DataKey(day)
	if err != nil {
		return fmt.Errorf("load data key: %w", err)
	}
	return s.ring.Add(day, w)
}
