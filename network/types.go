// Package network defines how waedge and simulated phones talk to a messaging network: the Network
// interface a business-side connector uses, the wire types (bundles, envelopes, receipts, integrity
// signals), the binary frame codec spoken on the relay's WebSocket, the end-to-end message Content
// carried inside Signal ciphertext, and media sealing. It holds no transport implementation.
package network

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// Limits on what the network accepts. Everything that comes from outside is checked against them.
const (
	// MaxFrameSize bounds one encoded frame (header included).
	MaxFrameSize = 1 << 20
	// MaxCiphertextSize bounds an envelope's ciphertext so that a delivery frame always fits MaxFrameSize.
	MaxCiphertextSize = MaxFrameSize - 16<<10
	// MaxMediaSize bounds the plaintext of one media blob: Meta's largest
	// media limit, 100 MB for documents
	// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
	MaxMediaSize = 100_000_000
	// MaxBlobSize bounds one sealed media blob: MaxMediaSize plus
	// SealMedia's nonce and tag.
	MaxBlobSize = MaxMediaSize + 12 + 16
	// MaxIDLen bounds envelope, delivery, blob and message ids.
	MaxIDLen = 128
	// MaxProfileNameLen bounds an envelope's profile name in bytes.
	MaxProfileNameLen = 256
	// MaxPreKeysPerRequest bounds the one-time prekeys in one Register or AddPreKeys call.
	MaxPreKeysPerRequest = 1000
	// MaxAckIDs bounds the ids in one Ack or Receipt.
	MaxAckIDs = 1000
	// KeyLen is the length of a serialized Curve25519 public key (0x05 type byte plus 32 bytes).
	KeyLen = 33
	// SignatureLen is the length of an XEdDSA signature.
	SignatureLen = 64
	// MaxPreKeyID is the largest usable prekey id (ids are 24-bit; 0xFFFFFF is reserved).
	MaxPreKeyID = 0xFFFFFE
)

// Role says what kind of device a registration is. The relay tracks new-recipient rates only for businesses.
type Role string

// Roles.
const (
	RolePhone    Role = "phone"
	RoleBusiness Role = "business"
)

// Kind says which Signal message type an envelope's ciphertext is (the libsignal CiphertextMessage type).
type Kind uint8

// Envelope kinds; the values equal libsignal's protocol.WHISPER_TYPE and protocol.PREKEY_TYPE.
const (
	KindSignalMessage Kind = 2
	KindPreKeyMessage Kind = 3
)

// SignedPreKey is the public half of a device's signed prekey.
type SignedPreKey struct {
	ID        uint32 `json:"id"`
	Public    []byte `json:"public"`    // KeyLen bytes
	Signature []byte `json:"signature"` // XEdDSA over Public by the identity key, SignatureLen bytes
}

// OneTimePreKey is the public half of a one-time prekey. The relay hands each out at most once.
type OneTimePreKey struct {
	ID     uint32 `json:"id"`
	Public []byte `json:"public"` // KeyLen bytes
}

// Registration is what a device publishes so others can start Signal sessions with it.
type Registration struct {
	Number         string          `json:"number"`
	DeviceID       uint32          `json:"device_id"`
	RegistrationID uint32          `json:"registration_id"` // 14-bit, 1..16380
	IdentityKey    []byte          `json:"identity_key"`    // KeyLen bytes
	SignedPreKey   SignedPreKey    `json:"signed_prekey"`
	PreKeys        []OneTimePreKey `json:"prekeys,omitempty"`
	Role           Role            `json:"role"`
}

// PreKeyBundle is what a sender fetches to start a Signal session with a device.
type PreKeyBundle struct {
	Number          string `json:"number"`
	DeviceID        uint32 `json:"device_id"`
	RegistrationID  uint32 `json:"registration_id"`
	IdentityKey     []byte `json:"identity_key"`
	SignedPreKeyID  uint32 `json:"signed_prekey_id"`
	SignedPreKey    []byte `json:"signed_prekey"`
	SignedPreKeySig []byte `json:"signed_prekey_sig"`
	PreKeyID        uint32 `json:"prekey_id,omitempty"` // 0 = the bundle has no one-time prekey
	PreKey          []byte `json:"prekey,omitempty"`
}

// Envelope is one Signal ciphertext routed by the network. The relay never sees what is inside.
type Envelope struct {
	ID          string // sender-chosen, unique on the network; used for dedupe, acks and receipts
	From, To    string // digits only
	FromDevice  uint32
	Kind        Kind
	Ciphertext  []byte
	Timestamp   int64  // unix ms, sender clock
	ProfileName string // optional, phones only
}

// Receipt reports delivery or reading of envelopes back to their sender.
type Receipt struct {
	EnvelopeIDs []string `json:"envelope_ids"`
	From        string   `json:"from"` // who received/read
	To          string   `json:"to"`   // the original sender
	Status      string   `json:"status"`
	Timestamp   int64    `json:"timestamp"`
}

// Receipt statuses.
const (
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// Typing is an ephemeral typing indicator; the relay forwards it only to an online recipient.
type Typing struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Timestamp int64  `json:"timestamp"`
}

// Signal is an integrity signal the network reports to a business number.
type Signal struct {
	Kind      string `json:"kind"`
	Business  string `json:"business"`
	Consumer  string `json:"consumer,omitempty"`
	Count     int    `json:"count,omitempty"`
	Timestamp int64  `json:"timestamp"`
}

// Signal kinds.
const (
	SignalSpamReport       = "spam_report"
	SignalBlock            = "block"
	SignalUnblock          = "unblock"
	SignalNewRecipientRate = "new_recipient_rate"
	// SignalMarketingStop and SignalMarketingResume: the consumer stopped
	// or resumed marketing messages from the business (the client's
	// "Offers and announcements" setting); the business hears of it by
	// the user_preferences webhook.
	SignalMarketingStop   = "marketing_stop"
	SignalMarketingResume = "marketing_resume"
)

// DeliveryType says which field of a Delivery is set.
type DeliveryType uint8

// Delivery types.
const (
	DeliveryEnvelope DeliveryType = 1
	DeliveryReceipt  DeliveryType = 2
	DeliveryTyping   DeliveryType = 3
	DeliverySignal   DeliveryType = 4
)

// Delivery is one item the network pushes to a connected device. Everything except Typing is queued
// by the relay until acknowledged with Ack(Recipient(), ID).
type Delivery struct {
	Type     DeliveryType
	ID       string // ack id: the envelope id for envelopes, relay-assigned otherwise; empty for typing
	Envelope *Envelope
	Receipt  *Receipt
	Typing   *Typing
	Signal   *Signal
}

// Recipient returns the number the delivery is addressed to.
func (d Delivery) Recipient() string {
	switch {
	case d.Envelope != nil:
		return d.Envelope.To
	case d.Receipt != nil:
		return d.Receipt.To
	case d.Typing != nil:
		return d.Typing.To
	case d.Signal != nil:
		return d.Signal.Business
	}
	return ""
}

// Network is what a business-side connector (waedge's leader) and a simulated phone use to reach the
// network. One connection serves many numbers; each number must be registered or logged in on it.
type Network interface {
	// Register publishes a device's keys and authenticates the number on this connection. Registering
	// again with the same identity key replaces the signed prekey and adds the given one-time prekeys.
	Register(ctx context.Context, reg Registration) error
	// Login authenticates an already registered number on this connection, so its queued deliveries
	// flow here. A later login of the same number on another connection takes the number over.
	Login(ctx context.Context, number string) error
	// AddPreKeys publishes more one-time prekeys for an authenticated number.
	AddPreKeys(ctx context.Context, number string, otks []OneTimePreKey) error
	// PreKeyCount returns how many one-time prekeys of an authenticated number are left.
	PreKeyCount(ctx context.Context, number string) (int, error)
	// FetchBundle returns a device's bundle, consuming one one-time prekey if any is left.
	FetchBundle(ctx context.Context, number string) (PreKeyBundle, error)
	// Send hands an envelope to the network; it is queued if the recipient is offline. Sending the same
	// envelope id again is deduplicated and succeeds.
	Send(ctx context.Context, env Envelope) error
	// Receive returns the channel of deliveries for all numbers authenticated on this connection.
	Receive(ctx context.Context) (<-chan Delivery, error)
	// Ack removes deliveries from a number's queue. It is idempotent; unacked deliveries are redelivered
	// after a reconnect.
	Ack(ctx context.Context, number string, ids ...string) error
	// SendReceipt reports delivery or reading back to the envelopes' sender.
	SendReceipt(ctx context.Context, r Receipt) error
	// Typing forwards a typing indicator to an online recipient (never queued).
	Typing(ctx context.Context, from, to string) error
	// Close ends the connection.
	Close() error
}

// BlobStore stores encrypted media blobs on the network (they are ciphertext; see SealMedia).
type BlobStore interface {
	// PutBlob uploads an encrypted blob and returns its id.
	PutBlob(ctx context.Context, blob []byte) (string, error)
	// GetBlob downloads an encrypted blob.
	GetBlob(ctx context.Context, id string) ([]byte, error)
}

// Reporter lets a consumer device report integrity events (spam reports, blocks) about a business.
type Reporter interface {
	// Report sends an integrity event of kind SignalSpamReport, SignalBlock or SignalUnblock, or a
	// marketing preference (SignalMarketingStop, SignalMarketingResume).
	Report(ctx context.Context, from, business, kind string) error
}

// Signer proves possession of a number's identity key: it returns the XEdDSA signature of message
// (built with AuthMessage) by the identity private key of number.
type Signer interface {
	Sign(number string, message []byte) ([]byte, error)
}

// authContext separates relay authentication signatures from any other use of the identity key.
const authContext = "waedge-relay-auth-v1\x00"

// AuthMessage is what a device signs to authenticate number on a connection whose challenge nonce is
// nonce. Binding the nonce makes each signature useless on any other connection.
func AuthMessage(nonce []byte, number string) []byte {
	m := make([]byte, 0, len(authContext)+len(nonce)+len(number))
	m = append(m, authContext...)
	m = append(m, nonce...)
	return append(m, number...)
}

// ValidNumber reports whether s is a phone number in the network's form: 3 to 15 ASCII digits.
func ValidNumber(s string) bool {
	if len(s) < 3 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidID reports whether s can be used as an envelope, delivery or message id: 1 to MaxIDLen bytes of
// letters, digits and ._:=+/- (so base64 and "wamid." ids fit).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '=', c == '+', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidKey reports whether b is a serialized Curve25519 public key (KeyLen bytes starting with 0x05).
func ValidKey(b []byte) bool { return len(b) == KeyLen && b[0] == 0x05 }

// Validate checks an envelope's fields against the network's rules.
func (e *Envelope) Validate() error {
	switch {
	case !ValidID(e.ID):
		return fmt.Errorf("envelope id: %w", ErrInvalid)
	case !ValidNumber(e.From) || !ValidNumber(e.To):
		return fmt.Errorf("envelope number: %w", ErrInvalid)
	case e.Kind != KindSignalMessage && e.Kind != KindPreKeyMessage:
		return fmt.Errorf("envelope kind %d: %w", e.Kind, ErrInvalid)
	case len(e.Ciphertext) == 0 || len(e.Ciphertext) > MaxCiphertextSize:
		return fmt.Errorf("envelope ciphertext size: %w", ErrInvalid)
	case e.Timestamp < 0:
		return fmt.Errorf("envelope timestamp: %w", ErrInvalid)
	case len(e.ProfileName) > MaxProfileNameLen || !utf8.ValidString(e.ProfileName):
		return fmt.Errorf("envelope profile name: %w", ErrInvalid)
	}
	return nil
}

// Validate checks a registration's fields (not the prekey signature, which needs Curve25519 code).
func (r *Registration) Validate() error {
	switch {
	case !ValidNumber(r.Number):
		return fmt.Errorf("registration number: %w", ErrInvalid)
	case r.DeviceID == 0:
		return fmt.Errorf("registration device id: %w", ErrInvalid)
	case r.RegistrationID == 0 || r.RegistrationID > 16380:
		return fmt.Errorf("registration id: %w", ErrInvalid)
	case !ValidKey(r.IdentityKey):
		return fmt.Errorf("registration identity key: %w", ErrInvalid)
	case !ValidKey(r.SignedPreKey.Public) || len(r.SignedPreKey.Signature) != SignatureLen:
		return fmt.Errorf("registration signed prekey: %w", ErrInvalid)
	case r.SignedPreKey.ID > MaxPreKeyID:
		return fmt.Errorf("registration signed prekey id: %w", ErrInvalid)
	case r.Role != RolePhone && r.Role != RoleBusiness:
		return fmt.Errorf("registration role: %w", ErrInvalid)
	}
	return ValidatePreKeys(r.PreKeys)
}

// ValidatePreKeys checks a batch of one-time prekeys: bounded count, ids 1..MaxPreKeyID, valid keys.
func ValidatePreKeys(otks []OneTimePreKey) error {
	if len(otks) > MaxPreKeysPerRequest {
		return fmt.Errorf("%d prekeys: %w", len(otks), ErrInvalid)
	}
	for _, k := range otks {
		if k.ID == 0 || k.ID > MaxPreKeyID || !ValidKey(k.Public) {
			return fmt.Errorf("prekey %d: %w", k.ID, ErrInvalid)
		}
	}
	return nil
}

// Validate checks a receipt's fields.
func (r *Receipt) Validate() error {
	switch {
	case !ValidNumber(r.From) || !ValidNumber(r.To):
		return fmt.Errorf("receipt number: %w", ErrInvalid)
	case r.Status != StatusDelivered && r.Status != StatusRead:
		return fmt.Errorf("receipt status: %w", ErrInvalid)
	case len(r.EnvelopeIDs) == 0 || len(r.EnvelopeIDs) > MaxAckIDs:
		return fmt.Errorf("receipt ids: %w", ErrInvalid)
	}
	for _, id := range r.EnvelopeIDs {
		if !ValidID(id) {
			return fmt.Errorf("receipt id: %w", ErrInvalid)
		}
	}
	return nil
}

// Validate checks a signal's fields.
func (s *Signal) Validate() error {
	switch s.Kind {
	case SignalSpamReport, SignalBlock, SignalUnblock, SignalNewRecipientRate:
	case SignalMarketingStop, SignalMarketingResume:
		if s.Consumer == "" {
			return fmt.Errorf("signal consumer: %w", ErrInvalid)
		}
	default:
		return fmt.Errorf("signal kind: %w", ErrInvalid)
	}
	if !ValidNumber(s.Business) || (s.Consumer != "" && !ValidNumber(s.Consumer)) || s.Count < 0 {
		return fmt.Errorf("signal fields: %w", ErrInvalid)
	}
	return nil
}

// Validate checks a typing indicator's fields.
func (t *Typing) Validate() error {
	if !ValidNumber(t.From) || !ValidNumber(t.To) {
		return fmt.Errorf("typing number: %w", ErrInvalid)
	}
	return nil
}
