package raftfsm

import (
	bolt "go.etcd.io/bbolt"
)

// PutDataKey is the payload of CmdPutDataKey: a day's data key, wrapped by
// the cluster KEK (the FSM never sees an unwrapped key).
type PutDataKey struct {
	Day     uint32
	Wrapped []byte
}

func (f *FSM) applyPutDataKey(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutDataKey
	decode(payload, &c)
	if len(c.Wrapped) == 0 {
		return nil, domainErr(ErrInvalid, "wrapped key")
	}
	if tx.Bucket(bucketDataKeys).Get(dayKey(c.Day)) != nil {
		return nil, domainErr(ErrConflict, "data key for day %d exists", c.Day)
	}
	mustPut(tx, bucketDataKeys, dayKey(c.Day), c.Wrapped)
	return nil, nil
}

// DataKey returns the wrapped data key of a day.
func (f *FSM) DataKey(day uint32) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		out = get(tx, bucketDataKeys, dayKey(day))
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	return out, err
}
