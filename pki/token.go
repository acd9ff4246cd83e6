package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

const (
	tokenPrefix   = "wjt1."
	tokenIDLen    = 8
	tokenRawLen   = tokenIDLen + 32 + 32
	tokenBodyLen  = (tokenRawLen*8 + 5) / 6 // unpadded base64 length: 96
	tokenTotalLen = len(tokenPrefix) + tokenBodyLen
)

// JoinToken admits one node to a cluster. Its text form is
// "wjt1." + base64url(no padding) of ID (8 bytes) || CAFingerprint (32) ||
// Secret (32).
//
// The token is a credential: String returns it in full, so never log it.
// LogValue (used by slog) shows only the ID.
type JoinToken struct {
	// ID names the token (lower-case hex of 8 random bytes); it is not secret.
	ID string
	// CAFingerprint lets the joiner authenticate the cluster: the SHA-256 of
	// the cluster CA certificate's DER encoding.
	CAFingerprint [32]byte
	// Secret lets the cluster authenticate the joiner. The cluster stores
	// only SecretHash.
	Secret [32]byte
}

// NewJoinToken mints a token with a random ID and secret for the cluster
// whose CA has caFingerprint.
func NewJoinToken(caFingerprint [32]byte) (JoinToken, error) {
	var id [tokenIDLen]byte
	t := JoinToken{CAFingerprint: caFingerprint}
	if _, err := rand.Read(id[:]); err != nil {
		return JoinToken{}, fmt.Errorf("join token id: %w", err)
	}
	if _, err := rand.Read(t.Secret[:]); err != nil {
		return JoinToken{}, fmt.Errorf("join token secret: %w", err)
	}
	t.ID = hex.EncodeToString(id[:])
	return t, nil
}

// String encodes the token, secret included. For a token whose ID is not 16
// hex digits (one not made by NewJoinToken or ParseJoinToken) the result is
// a string ParseJoinToken refuses.
func (t JoinToken) String() string {
	id, err := hex.DecodeString(t.ID)
	if err != nil || len(id) != tokenIDLen {
		return tokenPrefix + "invalid"
	}
	b := make([]byte, 0, tokenRawLen)
	b = append(b, id...)
	b = append(b, t.CAFingerprint[:]...)
	b = append(b, t.Secret[:]...)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// LogValue makes slog show the token's ID only, never its secret.
func (t JoinToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID))
}

// ParseJoinToken decodes a token. Surrounding white space is ignored; any
// other deviation from the canonical form (prefix, length, alphabet,
// padding, embedded line breaks) yields ErrMalformedToken.
func ParseJoinToken(s string) (JoinToken, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, tokenPrefix) {
		return JoinToken{}, fmt.Errorf("%w: wrong prefix", ErrMalformedToken)
	}
	if len(s) != tokenTotalLen {
		return JoinToken{}, fmt.Errorf("%w: wrong length", ErrMalformedToken)
	}
	// The decoder skips CR and LF; the length checks below catch them.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(tokenPrefix):])
	if err != nil {
		return JoinToken{}, fmt.Errorf("%w: bad encoding", ErrMalformedToken)
	}
	if len(b) != tokenRawLen {
		return JoinToken{}, fmt.Errorf("%w: wrong length", ErrMalformedToken)
	}
	var t JoinToken
	t.ID = hex.EncodeToString(b[:tokenIDLen])
	copy(t.CAFingerprint[:], b[tokenIDLen:tokenIDLen+32])
	copy(t.Secret[:], b[tokenIDLen+32:])
	return t, nil
}

// SecretHash is what the cluster stores instead of the secret:
// SHA-256(Secret). The secret has 256 random bits, so an unsalted fast
// hash is enough.
func (t JoinToken) SecretHash() [32]byte { return sha256.Sum256(t.Secret[:]) }
