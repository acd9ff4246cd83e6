package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/waedge/waedge/raftfsm"
)

// IdentityHash is the Cloud API's identity hash of a consumer's identity
// key (webhook identity.hash, recipient_identity_key_hash on send).
func IdentityHash(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// Identities answers which identity key the business last saw for a
// consumer, for the send-time recipient_identity_key_hash check (137000).
type Identities struct {
	FSM    *raftfsm.FSM
	Sealer Sealer
}

// IdentityHash returns the hash of the consumer's current identity key;
// ok is false when no session was ever established.
func (i Identities) IdentityHash(phoneNumberID, waID string) (string, bool) {
	ov := newOverlay(context.Background(), i.FSM, i.Sealer, phoneNumberID)
	key, err := ov.Get("identities", waID+":1")
	if err != nil || key == nil {
		return "", false
	}
	return IdentityHash(key), true
}
