package raftfsm

import (
	bolt "go.etcd.io/bbolt"
)

// Webhook configuration at Meta's three levels
// (https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override):
// the app's callback (POST /{app-id}/subscriptions), a WABA's override
// (Subscription.CallbackURL, POST /{waba-id}/subscribed_apps; empty: none)
// and a phone number's override (webhook_configuration on the number). A
// WABA must subscribe the app for any event to be delivered; the URL used
// is the number's override, else the WABA's, else the app's.

// AppWebhook is an app's callback (POST /{app-id}/subscriptions).
type AppWebhook struct {
	AppID       string
	BusinessID  string
	CallbackURL string
	// Fields are the subscribed webhook fields: the dispatcher delivers
	// only events of these fields to the app's WABAs (package webhook).
	Fields []string
	At     int64
}

// PhoneWebhook is a phone number's callback override.
type PhoneWebhook struct {
	PhoneNumberID string
	BusinessID    string
	CallbackURL   string
	At            int64
}

// SetAppWebhook is the payload of CmdSetAppWebhook; an empty CallbackURL
// removes the app's callback.
type SetAppWebhook AppWebhook

// SetPhoneWebhook is the payload of CmdSetPhoneWebhook; an empty
// CallbackURL removes the number's override.
type SetPhoneWebhook PhoneWebhook

func (f *FSM) applySetAppWebhook(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetAppWebhook
	decode(payload, &c)
	if _, err := ownedRecord(tx, bucketApps, c.AppID, c.BusinessID, "app", func(a *App) string { return a.BusinessID }); err != nil {
		return nil, err
	}
	putOrDelete(tx, bucketAppWebhooks, c.AppID, c.CallbackURL != "", AppWebhook(c))
	return nil, nil
}

func (f *FSM) applySetPhoneWebhook(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetPhoneWebhook
	decode(payload, &c)
	if _, err := ownedRecord(tx, bucketPhones, c.PhoneNumberID, c.BusinessID, "phone number", func(p *Phone) string { return p.BusinessID }); err != nil {
		return nil, err
	}
	putOrDelete(tx, bucketPhoneWebhooks, c.PhoneNumberID, c.CallbackURL != "", PhoneWebhook(c))
	return nil, nil
}

// ownedRecord decodes the record id of bucket and checks it belongs to
// businessID; another business's record is not found, like a missing one.
func ownedRecord[T any](tx *bolt.Tx, bucket []byte, id, businessID, what string, owner func(*T) string) (*T, error) {
	v := tx.Bucket(bucket).Get([]byte(id))
	if v == nil {
		return nil, domainErr(ErrNotFound, "%s", what)
	}
	r := new(T)
	decode(v, r)
	if owner(r) != businessID {
		return nil, domainErr(ErrNotFound, "%s", what)
	}
	return r, nil
}

// putOrDelete stores rec under key, or deletes the key when !put.
func putOrDelete(tx *bolt.Tx, bucket []byte, key string, put bool, rec any) {
	if !put {
		mustDelete(tx, bucket, []byte(key))
		return
	}
	mustPut(tx, bucket, []byte(key), marshal(rec))
}

// AppWebhooks returns every app's callback by app id.
func (f *FSM) AppWebhooks() (map[string]AppWebhook, error) {
	return readAll[AppWebhook](f, bucketAppWebhooks)
}

// PhoneWebhooks returns every phone number's override by phone-number id.
func (f *FSM) PhoneWebhooks() (map[string]PhoneWebhook, error) {
	return readAll[PhoneWebhook](f, bucketPhoneWebhooks)
}

func readAll[T any](f *FSM, bucket []byte) (map[string]T, error) {
	out := map[string]T{}
	err := f.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var r T
			if err := unmarshal(v, &r); err != nil {
				return err
			}
			out[string(k)] = r
			return nil
		})
	})
	return out, err
}

// CallbackFor is the URL an event of phone number phoneID (""
// for WABA-level events) of the subscription s is delivered to, with
// Meta's precedence; "" when no level has one.
func CallbackFor(s Subscription, phoneID string, apps map[string]AppWebhook, phones map[string]PhoneWebhook) string {
	if p, ok := phones[phoneID]; ok && phoneID != "" && p.CallbackURL != "" {
		return p.CallbackURL
	}
	if s.CallbackURL != "" {
		return s.CallbackURL
	}
	return apps[s.AppID].CallbackURL
}
