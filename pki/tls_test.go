package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

type signer = crypto.Signer

func TestTLSHandshakes(t *testing.T) {
	now := time.Now()
	ca, other := mustCA(t, now), mustCA(t, now)
	a, b := issue(t, ca, "node-a", now), issue(t, ca, "node-b", now)
	stranger := issue(t, other, "node-x", now)
	expired := issue(t, ca, "node-old", now.AddDate(-6, 0, 0))
	noID := craft(t, ca, &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	serverOnlyTmpl := nodeTemplate("node-s")
	serverOnlyTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	serverOnly := craft(t, ca, serverOnlyTmpl)
	// An impostor with its own CA copies the (public) cluster CA
	// certificate into its chain, hoping a joiner only checks fingerprints.
	impostor := stranger
	impostor.Certificate = [][]byte{stranger.Certificate[0], ca.Cert.Raw}
	// A token pinning a certificate that is not a CA: a leaf signed by a
	// self-signed non-CA certificate must not pass as a cluster.
	notCA := craft(t, ca, nodeTemplate("pseudo-ca"))
	pseudo := &CA{Cert: notCA.Leaf, Key: notCA.PrivateKey.(signer)}
	underPseudo := craft(t, pseudo, nodeTemplate("node-p"))
	underPseudo.Certificate = append(underPseudo.Certificate, notCA.Leaf.Raw)
	// A server that sends its leaf without the CA certificate.
	leafOnly := tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{a}}

	tests := []struct {
		name             string
		server, client   *tls.Config
		clientErr        error // nil: must succeed; else errors.Is target
		serverMustFail   bool
		serverSees       string
		clientSees       string
		clientMayFailAny bool // the client's error is not asserted
	}{
		{name: "same CA, mutual", server: ServerTLSConfig(ca.Cert, a), client: ClientTLSConfig(ca.Cert, b),
			serverSees: "node-b", clientSees: "node-a"},
		{name: "client from another CA", server: ServerTLSConfig(ca.Cert, a), client: ClientTLSConfig(other.Cert, stranger),
			serverMustFail: true, clientMayFailAny: true},
		{name: "client with cluster CA but client cert from another CA", server: ServerTLSConfig(ca.Cert, a),
			client: ClientTLSConfig(ca.Cert, stranger), serverMustFail: true, clientMayFailAny: true},
		{name: "server from another CA", server: ServerTLSConfig(other.Cert, stranger), client: ClientTLSConfig(ca.Cert, b),
			clientErr: ErrUntrustedPeer, serverMustFail: true},
		{name: "expired server certificate", server: ServerTLSConfig(ca.Cert, expired), client: ClientTLSConfig(ca.Cert, b),
			clientErr: ErrUntrustedPeer, serverMustFail: true},
		{name: "expired client certificate", server: ServerTLSConfig(ca.Cert, a), client: ClientTLSConfig(ca.Cert, expired),
			serverMustFail: true, clientMayFailAny: true},
		{name: "server certificate without node id", server: ServerTLSConfig(ca.Cert, noID), client: ClientTLSConfig(ca.Cert, b),
			clientErr: ErrNoNodeID, serverMustFail: true},
		{name: "client certificate without node id", server: ServerTLSConfig(ca.Cert, a), client: ClientTLSConfig(ca.Cert, noID),
			serverMustFail: true, clientMayFailAny: true},
		{name: "client certificate without client-auth usage", server: ServerTLSConfig(ca.Cert, a),
			client: ClientTLSConfig(ca.Cert, serverOnly), serverMustFail: true, clientMayFailAny: true},
		{name: "client without certificate (joiner) is let through", server: ServerTLSConfig(ca.Cert, a),
			client: JoinClientTLSConfig(ca.Fingerprint()), clientSees: "node-a"},
		{name: "join: right fingerprint", server: ServerTLSConfig(ca.Cert, a), client: JoinClientTLSConfig(ca.Fingerprint()),
			clientSees: "node-a"},
		{name: "join: wrong fingerprint", server: ServerTLSConfig(ca.Cert, a), client: JoinClientTLSConfig(other.Fingerprint()),
			clientErr: ErrFingerprintMismatch, serverMustFail: true},
		{name: "join: pinned CA copied by an impostor", server: &tls.Config{MinVersion: tls.VersionTLS13,
			Certificates: []tls.Certificate{impostor}}, client: JoinClientTLSConfig(ca.Fingerprint()),
			clientErr: ErrUntrustedPeer, serverMustFail: true},
		{name: "join: server sends no CA certificate", server: &leafOnly, client: JoinClientTLSConfig(ca.Fingerprint()),
			clientErr: ErrFingerprintMismatch, serverMustFail: true},
		{name: "join: pinned certificate is not a CA", server: &tls.Config{MinVersion: tls.VersionTLS13,
			Certificates: []tls.Certificate{underPseudo}}, client: JoinClientTLSConfig(CertFingerprint(notCA.Leaf)),
			clientErr: ErrFingerprintMismatch, serverMustFail: true},
		{name: "join: fingerprint of a leaf is not a CA", server: ServerTLSConfig(ca.Cert, a),
			client: JoinClientTLSConfig(CertFingerprint(a.Leaf)), clientErr: ErrFingerprintMismatch, serverMustFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, server := handshake(t, tc.server, tc.client)
			switch {
			case tc.clientMayFailAny:
			case tc.clientErr == nil && client.err != nil:
				t.Fatalf("client failed: %v", client.err)
			case tc.clientErr != nil && !errors.Is(client.err, tc.clientErr):
				t.Fatalf("client error = %v, want %v", client.err, tc.clientErr)
			}
			if tc.serverMustFail != (server.err != nil) {
				t.Fatalf("server error = %v, want failure %v", server.err, tc.serverMustFail)
			}
			if server.err == nil && server.peerID != tc.serverSees {
				t.Errorf("server sees peer %q, want %q", server.peerID, tc.serverSees)
			}
			if client.err == nil && client.peerID != tc.clientSees {
				t.Errorf("client sees peer %q, want %q", client.peerID, tc.clientSees)
			}
		})
	}
}

func TestConfigsAreTLS13Only(t *testing.T) {
	ca := mustCA(t, time.Now())
	a := issue(t, ca, "node-a", time.Now())
	for name, cfg := range map[string]*tls.Config{
		"server": ServerTLSConfig(ca.Cert, a),
		"client": ClientTLSConfig(ca.Cert, a),
		"join":   JoinClientTLSConfig(ca.Fingerprint()),
	} {
		if cfg.MinVersion != tls.VersionTLS13 {
			t.Errorf("%s: MinVersion %x", name, cfg.MinVersion)
		}
	}
	// The server sends leaf + CA, whatever chain it was given.
	chain := ServerTLSConfig(ca.Cert, a).Certificates[0].Certificate
	if len(chain) != 2 || string(chain[1]) != string(ca.Cert.Raw) {
		t.Fatalf("server chain has %d certificates", len(chain))
	}
	// ... and does not alter the caller's certificate.
	if len(a.Certificate) != 1 {
		t.Fatalf("caller's chain changed to %d certificates", len(a.Certificate))
	}
	// A client that only speaks TLS 1.2 is refused.
	old := JoinClientTLSConfig(ca.Fingerprint())
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if client, _ := handshake(t, ServerTLSConfig(ca.Cert, a), old); client.err == nil {
		t.Fatal("TLS 1.2 client accepted")
	}
}
