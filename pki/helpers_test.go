package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

func mustCA(t testing.TB, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA("test cluster CA", now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a node key and certificate and returns them as a TLS pair.
func issue(t testing.TB, ca *CA, id string, now time.Time) tls.Certificate {
	t.Helper()
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.IssueNodeCert(id, key.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// craft signs an arbitrary template with ca's key (for certificates that
// IssueNodeCert would never produce) and returns the TLS pair.
func craft(t testing.TB, ca *CA, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(42)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadKeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nodeTemplate is what IssueNodeCert would sign for id, for tests to alter.
func nodeTemplate(id string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: id},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{NodeURI(id)},
	}
}

type result struct {
	err    error
	peerID string // node id of the peer, "" if none
}

// handshake serves one TLS connection with serverCfg on a fresh 127.0.0.1
// listener, dials it with clientCfg and exchanges one byte each way (in TLS
// 1.3 a refused client certificate surfaces only after the client's
// handshake returns). It reports each side's outcome.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (client, server result) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, serverCfg)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = io.ReadFull(tc, make([]byte, 1))
		}
		if err == nil {
			_, err = tc.Write([]byte{2})
		}
		id, _ := PeerNodeID(tc.ConnectionState())
		done <- result{err: err, peerID: id}
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	tc, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), clientCfg)
	if err == nil {
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = tc.Write([]byte{1}); err == nil {
			_, err = io.ReadFull(tc, make([]byte, 1))
		}
		client.peerID, _ = PeerNodeID(tc.ConnectionState())
		_ = tc.Close()
	}
	client.err = err
	return client, <-done
}
