package pki

import "errors"

// ErrMalformedToken is returned by ParseJoinToken for any string that is
// not a well-formed join token (wrong prefix, length or encoding).
var ErrMalformedToken = errors.New("malformed join token")

// ErrFingerprintMismatch is returned during a join handshake when the server
// does not present a CA certificate whose SHA-256 fingerprint equals the one
// in the join token: the server is not the cluster the token names.
var ErrFingerprintMismatch = errors.New("cluster CA fingerprint mismatch")

// ErrUntrustedPeer is returned when a peer's certificate does not chain to
// the cluster CA (or is expired, or lacks the needed key usage).
var ErrUntrustedPeer = errors.New("peer certificate not issued by the cluster CA")

// ErrNoNodeID is returned when a certificate does not name a node: no
// waedge://node/<id> URI SAN, or one that disagrees with the common name.
var ErrNoNodeID = errors.New("certificate carries no node id")

// ErrInvalidNodeID is returned when asked to issue a certificate for a node
// id that ValidNodeID rejects.
var ErrInvalidNodeID = errors.New("invalid node id")

// ErrUnsupportedKey is returned for public or private keys of a type or
// curve nodes do not use (only ECDSA P-256/P-384 and Ed25519 are accepted).
var ErrUnsupportedKey = errors.New("unsupported key type")

// ErrKeyMismatch is returned when a private key does not belong to the
// certificate it is loaded with.
var ErrKeyMismatch = errors.New("private key does not match certificate")

// ErrNotCA is returned by ParseCA for a certificate that is not a CA.
var ErrNotCA = errors.New("certificate is not a CA")

// ErrNoPEM is returned when the input holds no PEM block of the expected type.
var ErrNoPEM = errors.New("no PEM block of the expected type")
