package pki

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// caPool returns a pool holding only ca.
func caPool(ca *x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// verifyLeaf checks that the peer's leaf certificate chains directly to a
// CA in roots, is valid now, allows usage and names a node. Other
// certificates the peer sent are ignored: the cluster CA is the only issuer
// and signs node certificates directly.
func verifyLeaf(certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: no certificate", ErrUntrustedPeer)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{usage},
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedPeer, err)
	}
	_, err := NodeIDFromCert(certs[0])
	return err
}

// ServerTLSConfig is the configuration of a node's cluster listener (TLS 1.3
// only). It presents nodeCert followed by the CA certificate (joiners pin
// the CA by fingerprint, so they need it in the handshake). A client
// certificate is optional but, when given, must chain to ca and name a
// node; a client without one may only use the join protocol, which the
// caller enforces (PeerNodeID returns ErrNoNodeID for it).
func ServerTLSConfig(ca *x509.Certificate, nodeCert tls.Certificate) *tls.Config {
	cert := nodeCert
	if len(nodeCert.Certificate) > 0 {
		cert.Certificate = [][]byte{nodeCert.Certificate[0], ca.Raw}
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    caPool(ca),
		// The chain was verified by crypto/tls against ClientCAs; this adds
		// the node-id requirement. VerifyConnection also runs on resumed
		// sessions, unlike VerifyPeerCertificate.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			_, err := NodeIDFromCert(cs.PeerCertificates[0])
			return err
		},
	}
}

// ClientTLSConfig is the configuration for dialling another node (TLS 1.3
// only). It presents nodeCert and accepts only a server whose certificate
// chains to ca and names a node (ErrUntrustedPeer otherwise). Host names are
// not checked: nodes are identified by certificate, not by DNS, so the
// built-in verification is switched off and replaced by VerifyConnection.
func ClientTLSConfig(ca *x509.Certificate, nodeCert tls.Certificate) *tls.Config {
	roots := caPool(ca)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{nodeCert},
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyLeaf(cs.PeerCertificates, roots, x509.ExtKeyUsageServerAuth)
		},
	}
}

// JoinClientTLSConfig is the configuration a joining node dials with (TLS
// 1.3 only, no client certificate). It accepts the server only if the
// server's handshake includes a CA certificate whose SHA-256 fingerprint is
// caFingerprint and the server's leaf certificate chains to that CA (the
// server proves it holds the leaf's key, so a copied CA certificate is not
// enough). Otherwise the handshake fails with ErrFingerprintMismatch or
// ErrUntrustedPeer, wrapped.
func JoinClientTLSConfig(caFingerprint [32]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			certs := cs.PeerCertificates
			if len(certs) < 2 {
				return fmt.Errorf("%w: server sent no CA certificate", ErrFingerprintMismatch)
			}
			for _, c := range certs[1:] {
				fp := sha256.Sum256(c.Raw)
				if subtle.ConstantTimeCompare(fp[:], caFingerprint[:]) != 1 {
					continue
				}
				if !c.IsCA || !c.BasicConstraintsValid {
					return fmt.Errorf("%w: pinned certificate is not a CA", ErrFingerprintMismatch)
				}
				return verifyLeaf(certs[:1], caPool(c), x509.ExtKeyUsageServerAuth)
			}
			return fmt.Errorf("%w: the server belongs to another cluster", ErrFingerprintMismatch)
		},
	}
}
