package raftfsm

import (
	"crypto/subtle"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Registration limits (Cloud API: 10 register calls per number per 72 h).
const (
	RegisterWindowMillis = 72 * 60 * 60 * 1000
	RegisterMaxCalls     = 10
)

// RegisterPhone is the payload of CmdRegisterPhone.
type RegisterPhone struct {
	PhoneNumberID string
	BusinessID    string
	Register      bool   // false: deregister
	PINHash       []byte // register only
	At            int64
}

// SetPIN is the payload of CmdSetPIN.
type SetPIN struct {
	PhoneNumberID string
	BusinessID    string
	PINHash       []byte
	// Event is the security webhook (PIN_CHANGED), queued with the change.
	Event *OutboxEvent `codec:",omitempty"`
}

// UpdateProfile is the payload of CmdUpdateProfile; nil fields are kept.
type UpdateProfile struct {
	PhoneNumberID string
	BusinessID    string
	About         *string
	Address       *string
	Description   *string
	Email         *string
	Websites      *[]string
	Vertical      *string
	// VerifiedName, when set, is a display-name change (POST
	// /{phone-number-id}?new_display_name=…), limited like Meta's to
	// MaxNameChanges in 30 days as of At; Event is its
	// phone_number_name_update webhook.
	VerifiedName *string      `codec:",omitempty"`
	At           int64        `codec:",omitempty"`
	Event        *OutboxEvent `codec:",omitempty"`
}

// MaxNameChanges is how often a number's display name may change in 30
// days (https://developers.facebook.com/docs/whatsapp/cloud-api/phone-numbers/display-names).
const MaxNameChanges = 10

const nameChangeWindow = 30 * 24 * 60 * 60 * 1000

// storedPhone loads the phone number id (ErrNotFound when there is none).
func storedPhone(tx *bolt.Tx, id string) (Phone, error) {
	var p Phone
	v := tx.Bucket(bucketPhones).Get([]byte(id))
	if v == nil {
		return p, domainErr(ErrNotFound, "phone number")
	}
	decode(v, &p)
	return p, nil
}

// ownPhone loads a phone of the business (ErrNotFound otherwise).
func ownPhone(tx *bolt.Tx, id, business string) (Phone, error) {
	p, err := storedPhone(tx, id)
	if err == nil && p.BusinessID != business {
		err = domainErr(ErrNotFound, "phone number")
	}
	return p, err
}

func (f *FSM) applyRegisterPhone(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RegisterPhone
	decode(payload, &c)
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	var recent []int64
	for _, t := range p.RegisterLog {
		if c.At-t < RegisterWindowMillis {
			recent = append(recent, t)
		}
	}
	if len(recent) >= RegisterMaxCalls {
		return nil, domainErr(ErrRateLimited, "register/deregister calls")
	}
	if c.Register && len(p.PINHash) > 0 && subtle.ConstantTimeCompare(p.PINHash, c.PINHash) != 1 {
		// A failed PIN still counts as an attempt.
		p.RegisterLog = append(recent, c.At)
		mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
		return nil, ErrPINMismatch
	}
	p.RegisterLog = append(recent, c.At)
	p.Registered = c.Register
	if c.Register && len(p.PINHash) == 0 {
		p.PINHash = c.PINHash
	}
	mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
	return nil, nil
}

func (f *FSM) applySetPIN(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetPIN
	decode(payload, &c)
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	if len(c.PINHash) == 0 {
		return nil, domainErr(ErrInvalid, "pin")
	}
	p.PINHash = c.PINHash
	mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
	if c.Event != nil {
		enqueue(tx, p.WABAID, p.BusinessID, c.Event)
	}
	return nil, nil
}

func (f *FSM) applyUpdateProfile(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c UpdateProfile
	decode(payload, &c)
	p, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID)
	if err != nil {
		return nil, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Profile.About, c.About)
	set(&p.Profile.Address, c.Address)
	set(&p.Profile.Description, c.Description)
	set(&p.Profile.Email, c.Email)
	set(&p.Profile.Vertical, c.Vertical)
	if c.Websites != nil {
		p.Profile.Websites = *c.Websites
	}
	if c.VerifiedName != nil {
		if *c.VerifiedName == "" {
			return nil, domainErr(ErrInvalid, "display name")
		}
		p.NameChanges = slices.DeleteFunc(p.NameChanges, func(at int64) bool { return c.At-at >= nameChangeWindow })
		if len(p.NameChanges) >= MaxNameChanges {
			return nil, domainErr(ErrRateLimited, "%d display-name changes in 30 days", MaxNameChanges)
		}
		p.VerifiedName, p.NameChanges = *c.VerifiedName, append(p.NameChanges, c.At)
	}
	mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
	if c.Event != nil {
		enqueue(tx, p.WABAID, p.BusinessID, c.Event)
	}
	return nil, nil
}

// Phone returns a phone-number record.
func (f *FSM) Phone(id string) (Phone, error) {
	m := f.model()
	if m == nil {
		return Phone{}, ErrClosed
	}
	m.mu.RLock()
	rec, ok := m.phones.entries[id]
	m.mu.RUnlock()
	if !ok {
		return Phone{}, ErrNotFound
	}
	return clonePhone(rec.val), rec.err
}

// PhonesOfWABA returns the phone numbers of a WABA.
func (f *FSM) PhonesOfWABA(wabaID string) ([]Phone, error) {
	var out []Phone
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPhones).ForEach(func(_, v []byte) error {
			var p Phone
			if err := unmarshal(v, &p); err != nil {
				return err
			}
			if p.WABAID == wabaID {
				out = append(out, p)
			}
			return nil
		})
	})
	return out, err
}

// SetPhoneLimits is the payload of CmdSetPhoneLimits (operator action).
type SetPhoneLimits struct {
	PhoneNumberID string
	ThroughputMPS int
	PairPerMinute int
	// PairBurst: 0 is the default (45).
	PairBurst int `codec:",omitempty"`
}

func (f *FSM) applySetPhoneLimits(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetPhoneLimits
	decode(payload, &c)
	if c.ThroughputMPS < 0 || c.ThroughputMPS > 100000 || c.PairPerMinute < 0 || c.PairPerMinute > 100000 ||
		c.PairBurst < 0 || c.PairBurst > 100000 {
		return nil, domainErr(ErrInvalid, "limits out of range")
	}
	return nil, updateRecord(tx, bucketPhones, c.PhoneNumberID, "phone number", func(p *Phone) {
		p.ThroughputMPS, p.PairPerMinute, p.PairBurst = c.ThroughputMPS, c.PairPerMinute, c.PairBurst
	})
}
