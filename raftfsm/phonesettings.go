package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Bounds of one phone-number setting.
const (
	MaxSettingName  = 128
	MaxSettingValue = 64 << 10
)

// PutPhoneSetting is the payload of CmdPutPhoneSetting: Value (JSON, as
// the API shows it) replaces the setting Name of the phone number, or
// with Delete the setting is removed (ErrNotFound if absent). The
// proposer validates the value; Apply checks the number belongs to the
// business. Event, when set, is a webhook queued with the change.
type PutPhoneSetting struct {
	PhoneNumberID string
	BusinessID    string
	Name          string
	Value         []byte
	Delete        bool
	Event         *OutboxEvent
}

// PhoneSetting is one stored setting.
type PhoneSetting struct {
	Name  string
	Value []byte
}

func phoneSettingKey(phoneID, name string) []byte { return []byte(phoneID + "\x00" + name) }

func (f *FSM) applyPutPhoneSetting(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c PutPhoneSetting
	decode(payload, &c)
	if c.Name == "" || len(c.Name) > MaxSettingName || len(c.Value) > MaxSettingValue || (!c.Delete && len(c.Value) == 0) {
		return nil, domainErr(ErrInvalid, "setting name and value")
	}
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	key := phoneSettingKey(c.PhoneNumberID, c.Name)
	if c.Delete {
		if tx.Bucket(bucketPhoneSettings).Get(key) == nil {
			return nil, domainErr(ErrNotFound, "setting")
		}
		mustDelete(tx, bucketPhoneSettings, key)
	} else {
		mustPut(tx, bucketPhoneSettings, key, c.Value)
	}
	if c.Event != nil {
		enqueue(tx, p.WABAID, p.BusinessID, c.Event)
	}
	return nil, nil
}

// PhoneSettingValue returns one setting of a phone number (ErrNotFound
// when it was never set).
func (f *FSM) PhoneSettingValue(phoneID, name string) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPhoneSettings).Get(phoneSettingKey(phoneID, name))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// PhoneSettings returns the settings of a phone number whose names start
// with prefix, in name order.
func (f *FSM) PhoneSettings(phoneID, prefix string) ([]PhoneSetting, error) {
	var out []PhoneSetting
	err := f.View(func(tx *bolt.Tx) error {
		p := phoneSettingKey(phoneID, prefix)
		cur := tx.Bucket(bucketPhoneSettings).Cursor()
		for k, v := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
			out = append(out, PhoneSetting{Name: string(k[len(phoneID)+1:]), Value: bytes.Clone(v)})
		}
		return nil
	})
	return out, err
}

// WindowOpenedAt is when the consumer ref last wrote to the phone number
// (unix ms; false if never or expired).
func (f *FSM) WindowOpenedAt(phoneID, ref string) (int64, bool, error) {
	var at int64
	var ok bool
	err := f.View(func(tx *bolt.Tx) error {
		if w := tx.Bucket(bucketWindows).Get(windowKey(phoneID, ref)); len(w) == 8 {
			at, ok = int64(beUint64(w)), true
		}
		return nil
	})
	return at, ok, err
}

// BlockSettingPrefix starts the name of a block-list entry of a phone
// number: BlockSettingPrefix + the consumer's keyed reference
// (POST /{phone-number-id}/block_users).
const BlockSettingPrefix = "block/"

// Blocked reports whether the business number phoneID has blocked the
// consumer ref, as this replica sees it.
func (f *FSM) Blocked(phoneID, ref string) bool { return f.Recipient(phoneID, ref, 0).Blocked }

// RecipientState is what a send needs to know about one consumer of a
// business number, read in one transaction: the block list, the
// marketing preference and the 24-hour window at a time.
type RecipientState struct {
	Blocked          bool // the business blocked the consumer (block_users)
	MarketingStopped bool // the consumer stopped marketing messages
	WindowOpen       bool // the customer-service window is open at the time asked
}

// Recipient reads the consumer ref's state towards the number phoneID at
// at (unix ms), as this replica sees it.
func (f *FSM) Recipient(phoneID, ref string, at int64) RecipientState {
	return f.RecipientParts(phoneID, ref, at, RecipientAll)
}

// RecipientPart selects parts of a RecipientState to read.
type RecipientPart uint8

// The parts of a RecipientState.
const (
	RecipientBlocked RecipientPart = 1 << iota
	RecipientMarketingStopped
	RecipientWindow
	RecipientAll = RecipientBlocked | RecipientMarketingStopped | RecipientWindow
)

// RecipientParts is Recipient reading only the parts asked for (the
// others are false): a send reads it on every request, and most need
// one key of the three (a template that is not marketing, to a number
// whose quality is not red, needs only the block list).
func (f *FSM) RecipientParts(phoneID, ref string, at int64, parts RecipientPart) RecipientState {
	var st RecipientState
	if parts == 0 {
		return st
	}
	_ = f.View(func(tx *bolt.Tx) error {
		if parts&(RecipientBlocked|RecipientMarketingStopped) != 0 {
			settings := tx.Bucket(bucketPhoneSettings)
			if parts&RecipientBlocked != 0 {
				st.Blocked = settings.Get(phoneSettingKey(phoneID, BlockSettingPrefix+ref)) != nil
			}
			if parts&RecipientMarketingStopped != 0 {
				st.MarketingStopped = settings.Get(phoneSettingKey(phoneID, marketingStopPrefix+ref)) != nil
			}
		}
		if parts&RecipientWindow != 0 {
			w := tx.Bucket(bucketWindows).Get(windowKey(phoneID, ref))
			st.WindowOpen = len(w) == 8 && at-int64(beUint64(w)) <= WindowMillis
		}
		return nil
	})
	return st
}
