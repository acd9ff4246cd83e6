package pki

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

type node struct {
	ca   *CA
	cert tls.Certificate
}

func newNode(t *testing.T, ca *CA, id string) node {
	t.Helper()
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.IssueNodeCert(id, key.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return node{ca: ca, cert: c}
}

func mustCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// handshake runs a TLS server with serverCfg on loopback and dials it with
// clientCfg; it returns the client's and the server's handshake errors and
// the node id the server saw.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (clientErr, serverErr error, peerID string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		err error
		id  string
	}
	done := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- res{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, serverCfg)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3 reports client-certificate failures on first read.
			_, err = io.ReadFull(tc, make([]byte, 1))
		}
		id := ""
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			id, _ = NodeIDFromCert(certs[0])
		}
		done <- res{err: err, id: id}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
	if err == nil {
		_, err = c.Write([]byte{1})
		if err == nil {
			_, err = c.Read(make([]byte, 1)) // EOF after the server closes: fine
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		c.Close()
	}
	r := <-done
	return err, r.err, r.id
}

func TestMutualTLS(t *testing.T) {
	ca, other := mustCA(t), mustCA(t)
	a, b, stranger := newNode(t, ca, "node-a"), newNode(t, ca, "node-b"), newNode(t, other, "node-x")

	cerr, serr, id := handshake(t, ServerTLSConfig(ca.Cert, a.cert), ClientTLSConfig(ca.Cert, b.cert))
	if cerr != nil || serr != nil || id != "node-b" {
		t.Fatalf("same CA: client %v server %v id %q", cerr, serr, id)
	}
	// A client of another CA is refused by the server.
	_, serr, _ = handshake(t, ServerTLSConfig(ca.Cert, a.cert), ClientTLSConfig(other.Cert, stranger.cert))
	if serr == nil {
		t.Fatal("server accepted a client of another CA")
	}
	// A server of another CA is refused by the client.
	cerr, _, _ = handshake(t, ServerTLSConfig(other.Cert, stranger.cert), ClientTLSConfig(ca.Cert, b.cert))
	if !errors.Is(cerr, ErrUntrustedPeer) {
		t.Fatalf("client accepted a server of another CA: %v", cerr)
	}
}

func TestJoinClientPinsFingerprint(t *testing.T) {
	ca, other := mustCA(t), mustCA(t)
	a := newNode(t, ca, "node-a")
	cerr, serr, id := handshake(t, ServerTLSConfig(ca.Cert, a.cert), JoinClientTLSConfig(ca.Fingerprint()))
	if cerr != nil || serr != nil || id != "" {
		t.Fatalf("right fingerprint: client %v server %v id %q", cerr, serr, id)
	}
	cerr, _, _ = handshake(t, ServerTLSConfig(ca.Cert, a.cert), JoinClientTLSConfig(other.Fingerprint()))
	if !errors.Is(cerr, ErrFingerprintMismatch) {
		t.Fatalf("wrong fingerprint: %v", cerr)
	}
}

func TestJoinToken(t *testing.T) {
	ca := mustCA(t)
	tok, err := NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseJoinToken(tok.String())
	if err != nil || back != tok {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	s := tok.String()
	for name, bad := range map[string]string{
		"prefix":    "xyz1." + s[5:],
		"truncated": s[:len(s)-4],
		"encoding":  s[:10] + "!!" + s[12:],
		"empty":     "",
		"longer":    s + "AAAA",
	} {
		if _, err := ParseJoinToken(bad); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if tok.SecretHash() == [32]byte{} {
		t.Fatal("empty secret hash")
	}
}

func TestNodeCertificate(t *testing.T) {
	ca := mustCA(t)
	n := newNode(t, ca, "node-1")
	if id, err := NodeIDFromCert(n.cert.Leaf); err != nil || id != "node-1" {
		t.Fatalf("id %q %v", id, err)
	}
	back, err := ParseCA(ca.CertPEM, ca.KeyPEM)
	if err != nil || back.Fingerprint() != ca.Fingerprint() {
		t.Fatalf("parse CA: %v", err)
	}
	if _, err := ca.IssueNodeCert("", n.cert.Leaf.PublicKey, time.Now()); err == nil {
		t.Fatal("issued a certificate without node id")
	}
}

func FuzzParseJoinToken(f *testing.F) {
	ca, _ := NewCA("fuzz", time.Now())
	tok, _ := NewJoinToken(ca.Fingerprint())
	f.Add(tok.String())
	f.Add("wjt1.")
	f.Add(strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, s string) {
		tk, err := ParseJoinToken(s)
		if err != nil {
			return
		}
		if back, err := ParseJoinToken(tk.String()); err != nil || back != tk {
			t.Fatalf("round trip of accepted token failed")
		}
	})
}
