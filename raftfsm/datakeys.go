package raftfsm

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// PutDataKey is the payload of CmdPutDataKey: a data key, wrapped by the
// cluster KEK (the FSM never sees an unwrapped key). Day is the key id
// (DataKeyID; for the default 30-day class it is the Unix day).
type PutDataKey struct {
	Day     uint32
	Wrapped []byte
}

// Data-key ids name a retention class and a period (see keyring/DESIGN.md):
// id = class<<dataKeyClassShift | period. Class 0 is the maximum retention
// (30 days) with daily keys, so its ids are Unix day numbers. Class c in
// 1…719 is a retention of c hours: hourly keys (period = Unix hour) up to
// 24 h, daily keys above. A key is destroyed once its period has ended
// and its class's retention has passed since, so content outlives its own
// retention by at most one period.
const (
	dataKeyClassShift = 22
	dataKeyPeriodMask = 1<<dataKeyClassShift - 1
	hourMillis        = 3600 * 1000
	dayMillis         = 24 * hourMillis
)

// DataKeyID returns the id of the data key that content with the given
// retention, sealed at t, goes under. Retention is rounded up to whole
// hours and clamped to [MinRetention, MaxRetention].
func DataKeyID(retention time.Duration, t time.Time) uint32 {
	hours := int64(NormalizeRetention(retention) / time.Hour)
	ms := t.UnixMilli()
	if hours >= int64(MaxRetention/time.Hour) {
		return uint32(ms/dayMillis) & dataKeyPeriodMask
	}
	period := int64(dayMillis)
	if hours <= 24 {
		period = hourMillis
	}
	return uint32(hours)<<dataKeyClassShift | uint32(ms/period)&dataKeyPeriodMask
}

// DataKeyDestroyAt is when (unix ms) the data key id is destroyed: the end
// of its period plus its class's retention.
func DataKeyDestroyAt(id uint32) int64 {
	class := int64(id >> dataKeyClassShift)
	p := int64(id & dataKeyPeriodMask)
	if class == 0 {
		return (p+1)*dayMillis + int64(MaxRetention/time.Millisecond)
	}
	period := int64(dayMillis)
	if class <= 24 {
		period = hourMillis
	}
	return (p+1)*period + class*hourMillis
}

func (f *FSM) applyPutDataKey(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutDataKey
	decode(payload, &c)
	if len(c.Wrapped) == 0 {
		return nil, domainErr(ErrInvalid, "wrapped key")
	}
	if through := tx.Bucket(bucketMeta).Get(keyExpiredThrough); len(through) == 8 &&
		DataKeyDestroyAt(c.Day) <= int64(beUint64(through)) {
		return nil, domainErr(ErrExpired, "data key %d is past its retention", c.Day)
	}
	if tx.Bucket(bucketDataKeys).Get(dayKey(c.Day)) != nil {
		return nil, domainErr(ErrConflict, "data key for day %d exists", c.Day)
	}
	mustPut(tx, bucketDataKeys, dayKey(c.Day), c.Wrapped)
	return nil, nil
}

// DataKey returns the wrapped data key id.
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
