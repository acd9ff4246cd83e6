// Package pki is the cluster's public-key infrastructure: the cluster CA,
// node certificates, join tokens and the TLS configurations for mutual TLS
// between nodes. Nodes are identified by the node id in their certificate
// (common name and a waedge://node/<id> URI SAN), never by DNS names, so
// addresses can change freely.
//
// The package holds no state and does no I/O except WriteFileAtomic; the
// caller decides where PEM files live.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"time"
)

const (
	caValidityYears   = 10
	nodeValidityYears = 5
	// clockSkew back-dates NotBefore so that a certificate issued by a node
	// whose clock runs a little ahead is already valid on its peers.
	clockSkew    = time.Hour
	maxNodeIDLen = 64
	pemCert      = "CERTIFICATE"
	pemPKCS8     = "PRIVATE KEY"
	pemSEC1      = "EC PRIVATE KEY"
	uriScheme    = "waedge"
	uriHost      = "node"
)

// CA is the cluster certificate authority. CertPEM and KeyPEM are the forms
// the caller stores; Cert and Key are the parsed forms.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// String describes the CA without its key, so that printing a *CA by
// accident does not leak the private key.
func (ca *CA) String() string {
	if ca == nil || ca.Cert == nil {
		return "pki.CA(<nil>)"
	}
	fp := ca.Fingerprint()
	return fmt.Sprintf("pki.CA(CN=%q, sha256=%s)", ca.Cert.Subject.CommonName, hex.EncodeToString(fp[:]))
}

// LogValue makes slog print the CA's name and fingerprint, never its key.
func (ca *CA) LogValue() slog.Value { return slog.StringValue(ca.String()) }

// randomSerial returns a uniformly random serial number in [1, 2^128).
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	limit.Sub(limit, big.NewInt(1))
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// NewCA creates a self-signed ECDSA P-256 CA valid for ten years from now.
// The CA may sign only end-entity certificates (path length zero).
func NewCA(commonName string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	sn, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"waedge"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(caValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	return ParseCA(pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: pemPKCS8, Bytes: keyDER}))
}

// ParseCA loads a CA from its PEM certificate and PEM private key (PKCS#8 or
// SEC 1). It refuses a certificate that is not a CA and a key that does not
// belong to the certificate.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, ErrNotCA
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return nil, ErrKeyMismatch
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key, KeyPEM: keyPEM}, nil
}

// ParseCertificatePEM parses the first CERTIFICATE block of b.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, ErrNoPEM
		}
		if block.Type == pemCert {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			return c, nil
		}
	}
}

// ParsePrivateKeyPEM parses the first private-key block of b ("PRIVATE KEY"
// in PKCS#8 or "EC PRIVATE KEY" in SEC 1) as an ECDSA or Ed25519 key.
func ParsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, ErrNoPEM
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case pemPKCS8:
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case pemSEC1:
			k, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, k)
		}
		if err := checkPublicKey(s.Public()); err != nil {
			return nil, err
		}
		return s, nil
	}
}

// samePublicKey reports whether a and b are the same public key.
func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// checkPublicKey accepts the key types nodes use: ECDSA P-256/P-384, Ed25519.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return nil
		}
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// Fingerprint is the SHA-256 of the CA certificate's DER encoding. A join
// token carries it so that a joiner can recognise its cluster.
func (ca *CA) Fingerprint() [32]byte { return CertFingerprint(ca.Cert) }

// CertFingerprint is the SHA-256 of a certificate's DER encoding.
func CertFingerprint(c *x509.Certificate) [32]byte { return sha256.Sum256(c.Raw) }

// ValidNodeID reports whether id can be a node id: 1 to 64 characters of
// ASCII letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > maxNodeIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// NodeURI is the URI SAN naming a node: waedge://node/<nodeID>.
func NodeURI(nodeID string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + nodeID}
}

// IssueNodeCert signs a certificate for nodeID's public key: CN = nodeID,
// URI SAN waedge://node/<nodeID>, usable for TLS server and client
// authentication, valid for five years (never beyond the CA's own expiry),
// with a random 128-bit serial number.
func (ca *CA) IssueNodeCert(nodeID string, pub crypto.PublicKey, now time.Time) ([]byte, error) {
	if nodeID == "" {
		return nil, ErrNoNodeID
	}
	if !ValidNodeID(nodeID) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidNodeID, nodeID)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	sn, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.AddDate(nodeValidityYears, 0, 0)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"waedge"}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{NodeURI(nodeID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der}), nil
}

// NewNodeKey generates a node's private key (ECDSA P-256) and returns it
// with its PKCS#8 PEM encoding.
func NewNodeKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate node key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal node key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: pemPKCS8, Bytes: der}), nil
}

// MarshalPublicKey encodes a public key as PKIX DER.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// ParsePublicKey decodes a PKIX DER public key. Only ECDSA P-256/P-384 and
// Ed25519 keys are accepted (ErrUnsupportedKey otherwise); the bytes come
// from a joining node, so anything else is refused before it reaches
// IssueNodeCert.
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	if err := checkPublicKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// NodeIDFromCert returns the node id a certificate was issued to. The
// certificate must carry exactly one waedge://node/<id> URI SAN whose id is
// valid and equals the common name; otherwise ErrNoNodeID. It does not
// verify the certificate: use it on certificates a TLS handshake with this
// package's configurations has already verified.
func NodeIDFromCert(c *x509.Certificate) (string, error) {
	if c == nil {
		return "", ErrNoNodeID
	}
	id := ""
	for _, u := range c.URIs {
		if u.Scheme != uriScheme || u.Host != uriHost {
			continue
		}
		if id != "" {
			return "", fmt.Errorf("%w: more than one node URI", ErrNoNodeID)
		}
		cand := strings.TrimPrefix(u.Path, "/")
		if !ValidNodeID(cand) || u.String() != NodeURI(cand).String() {
			return "", fmt.Errorf("%w: malformed node URI", ErrNoNodeID)
		}
		id = cand
	}
	if id == "" {
		return "", ErrNoNodeID
	}
	if id != c.Subject.CommonName {
		return "", fmt.Errorf("%w: node URI and common name differ", ErrNoNodeID)
	}
	return id, nil
}

// PeerNodeID returns the node id of the peer of a connection whose handshake
// used ServerTLSConfig, ClientTLSConfig or JoinClientTLSConfig (which verify
// the peer's chain). A peer without a certificate (a joiner) yields
// ErrNoNodeID.
func PeerNodeID(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", ErrNoNodeID
	}
	return NodeIDFromCert(cs.PeerCertificates[0])
}

// LoadKeyPair builds a tls.Certificate from a PEM certificate and PEM
// private key. Every certificate in certPEM is kept, in order, so a file
// holding the node certificate followed by the CA certificate yields the
// full chain. The key must match the first certificate. Leaf is set.
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
		}
	}
	return c, nil
}
