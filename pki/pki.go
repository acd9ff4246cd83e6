// Package pki is the cluster's public-key infrastructure: the cluster CA,
// node certificates, join tokens and the TLS configurations for mutual TLS
// between nodes. Nodes are identified by the common name of their
// certificate, never by DNS names, so addresses can change freely.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Errors.
var (
	// ErrMalformedToken: a join token that does not parse.
	ErrMalformedToken = errors.New("malformed join token")
	// ErrFingerprintMismatch: the server's CA is not the one the join token names.
	ErrFingerprintMismatch = errors.New("cluster CA fingerprint mismatch")
	// ErrUntrustedPeer: a peer certificate that does not chain to the cluster CA.
	ErrUntrustedPeer = errors.New("peer certificate not issued by the cluster CA")
	// ErrNoNodeID: a certificate without a node id.
	ErrNoNodeID = errors.New("certificate carries no node id")
)

// CA is the cluster certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// NewCA creates a self-signed ECDSA P-256 CA valid for ten years.
func NewCA(commonName string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"waedge"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
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
		return nil, err
	}
	return ParseCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// ParseCA loads a CA from PEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, errors.New("certificate is not a CA")
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: certPEM, Key: key, KeyPEM: keyPEM}, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return s, nil
}

// Fingerprint is the SHA-256 of the CA certificate's DER encoding.
func (ca *CA) Fingerprint() [32]byte { return sha256.Sum256(ca.Cert.Raw) }

// nodeURI is the URI SAN naming a node.
func nodeURI(nodeID string) *url.URL {
	return &url.URL{Scheme: "waedge", Host: "node", Path: "/" + nodeID}
}

// IssueNodeCert signs a certificate for nodeID's public key, usable for both
// server and client authentication, valid for five years.
func (ca *CA) IssueNodeCert(nodeID string, pub crypto.PublicKey, now time.Time) ([]byte, error) {
	if nodeID == "" {
		return nil, ErrNoNodeID
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"waedge"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{nodeURI(nodeID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NewNodeKey generates a node's private key (ECDSA P-256).
func NewNodeKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes a public key as PKIX DER.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) { return x509.MarshalPKIXPublicKey(pub) }

// ParsePublicKey decodes a PKIX DER public key (ECDSA or Ed25519 only).
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, err
	}
	switch k.(type) {
	case *ecdsa.PublicKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T", k)
	}
}

// NodeIDFromCert returns the node id a certificate was issued to.
func NodeIDFromCert(c *x509.Certificate) (string, error) {
	for _, u := range c.URIs {
		if u.Scheme == "waedge" && u.Host == "node" && strings.HasPrefix(u.Path, "/") && len(u.Path) > 1 {
			if u.Path[1:] != c.Subject.CommonName {
				return "", ErrNoNodeID
			}
			return u.Path[1:], nil
		}
	}
	return "", ErrNoNodeID
}

// LoadKeyPair builds a tls.Certificate from PEM.
func LoadKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	return tls.X509KeyPair(certPEM, keyPEM)
}

// JoinToken admits one node to a cluster.
type JoinToken struct {
	// ID names the token (hex of 8 random bytes); it is not secret.
	ID string
	// CAFingerprint lets the joiner authenticate the cluster.
	CAFingerprint [32]byte
	// Secret lets the cluster authenticate the joiner.
	Secret [32]byte
}

const tokenPrefix = "wjt1."

// NewJoinToken mints a token for the cluster whose CA has caFingerprint.
func NewJoinToken(caFingerprint [32]byte) (JoinToken, error) {
	var id [8]byte
	t := JoinToken{CAFingerprint: caFingerprint}
	if _, err := rand.Read(id[:]); err != nil {
		return t, err
	}
	if _, err := rand.Read(t.Secret[:]); err != nil {
		return t, err
	}
	t.ID = hex.EncodeToString(id[:])
	return t, nil
}

// String encodes the token.
func (t JoinToken) String() string {
	id, _ := hex.DecodeString(t.ID)
	b := make([]byte, 0, 72)
	b = append(b, id...)
	b = append(b, t.CAFingerprint[:]...)
	b = append(b, t.Secret[:]...)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseJoinToken decodes a token.
func ParseJoinToken(s string) (JoinToken, error) {
	var t JoinToken
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, tokenPrefix) {
		return t, fmt.Errorf("%w: wrong prefix", ErrMalformedToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(tokenPrefix):])
	if err != nil {
		return t, fmt.Errorf("%w: bad encoding", ErrMalformedToken)
	}
	if len(b) != 72 {
		return t, fmt.Errorf("%w: wrong length", ErrMalformedToken)
	}
	t.ID = hex.EncodeToString(b[:8])
	copy(t.CAFingerprint[:], b[8:40])
	copy(t.Secret[:], b[40:])
	return t, nil
}

// SecretHash is what the cluster stores: sha256 of the secret.
func (t JoinToken) SecretHash() [32]byte { return sha256.Sum256(t.Secret[:]) }

// verifyChain checks that rawCerts' leaf chains to the CA in pool, for usage.
func verifyChain(rawCerts [][]byte, pool *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(rawCerts) == 0 {
		return ErrUntrustedPeer
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedPeer, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedPeer, err)
	}
	if _, err := NodeIDFromCert(leaf); err != nil {
		return err
	}
	return nil
}

// ServerTLSConfig presents nodeCert and accepts client certificates of the
// cluster CA when given (a client without one may only use the join
// protocol; the caller enforces that).
func ServerTLSConfig(ca *x509.Certificate, nodeCert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	nodeCert.Certificate = append(nodeCert.Certificate[:1:1], ca.Raw) // leaf + CA, for joiners
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{nodeCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}
}

// ClientTLSConfig presents nodeCert and accepts only servers whose
// certificate chains to the cluster CA. Host names are not checked: nodes
// are identified by certificate, not by DNS.
func ClientTLSConfig(ca *x509.Certificate, nodeCert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{nodeCert},
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool, x509.ExtKeyUsageServerAuth)
		},
	}
}

// JoinClientTLSConfig accepts the server only if it presents a CA
// certificate with caFingerprint and a leaf issued by it.
func JoinClientTLSConfig(caFingerprint [32]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, r := range raw[min(1, len(raw)):] {
				fp := sha256.Sum256(r)
				if !bytes.Equal(fp[:], caFingerprint[:]) {
					continue
				}
				ca, err := x509.ParseCertificate(r)
				if err != nil || !ca.IsCA {
					return ErrFingerprintMismatch
				}
				pool := x509.NewCertPool()
				pool.AddCert(ca)
				return verifyChain(raw, pool, x509.ExtKeyUsageServerAuth)
			}
			return ErrFingerprintMismatch
		},
	}
}

// WriteFileAtomic writes data to path through a synced temporary file and
// a rename, so a crash leaves either the old or the new content.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
