package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca := mustCA(t, now)
	c := ca.Cert
	if !c.IsCA || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("not a leaf-only CA: isCA %v maxPathLenZero %v usage %v", c.IsCA, c.MaxPathLenZero, c.KeyUsage)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("CA key %T, want ECDSA P-256", c.PublicKey)
	}
	if want := now.AddDate(10, 0, 0); !c.NotAfter.Equal(want) {
		t.Fatalf("NotAfter %v, want %v", c.NotAfter, want)
	}
	if c.NotBefore.After(now) {
		t.Fatalf("NotBefore %v after creation", c.NotBefore)
	}
	other := mustCA(t, now)
	if ca.Fingerprint() == other.Fingerprint() || c.SerialNumber.Cmp(other.Cert.SerialNumber) == 0 {
		t.Fatal("two CAs share a fingerprint or serial")
	}
}

func TestParseCA(t *testing.T) {
	now := time.Now()
	ca, other := mustCA(t, now), mustCA(t, now)
	key, keyPEM, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := ca.IssueNodeCert("node-1", key.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ca.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	tests := []struct {
		name          string
		cert, key     []byte
		want          error // nil: must parse
		wantAnyFailed bool
	}{
		{name: "round trip", cert: ca.CertPEM, key: ca.KeyPEM},
		{name: "SEC 1 key", cert: ca.CertPEM, key: sec1PEM},
		{name: "leading junk and other blocks", cert: append([]byte("junk\n"), ca.CertPEM...),
			key: append(pem.EncodeToMemory(&pem.Block{Type: "COMMENT", Bytes: []byte("x")}), ca.KeyPEM...)},
		{name: "key of another CA", cert: ca.CertPEM, key: other.KeyPEM, want: ErrKeyMismatch},
		{name: "node certificate", cert: leafPEM, key: keyPEM, want: ErrNotCA},
		{name: "no certificate", cert: []byte("nothing"), key: ca.KeyPEM, want: ErrNoPEM},
		{name: "no key", cert: ca.CertPEM, key: ca.CertPEM, want: ErrNoPEM},
		{name: "garbage DER", cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
			key: ca.KeyPEM, wantAnyFailed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCA(tc.cert, tc.key)
			switch {
			case tc.wantAnyFailed:
				if err == nil {
					t.Fatal("accepted")
				}
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
			case err != nil:
				t.Fatal(err)
			case got.Fingerprint() != ca.Fingerprint():
				t.Fatal("fingerprint changed")
			}
		})
	}
	// A parsed CA can issue certificates that verify against the original.
	back, err := ParseCA(ca.CertPEM, sec1PEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.IssueNodeCert("node-2", key.Public(), now); err != nil {
		t.Fatal(err)
	}
}

func TestIssueNodeCert(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	ca, other := mustCA(t, now), mustCA(t, now)
	key, _, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.IssueNodeCert("node-1", key.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "node-1" || len(c.URIs) != 1 || c.URIs[0].String() != "waedge://node/node-1" {
		t.Fatalf("CN %q URIs %v", c.Subject.CommonName, c.URIs)
	}
	if id, err := NodeIDFromCert(c); err != nil || id != "node-1" {
		t.Fatalf("NodeIDFromCert = %q, %v", id, err)
	}
	if !samePublicKey(c.PublicKey, key.Public()) {
		t.Fatal("certificate is not for the given key")
	}
	if c.IsCA {
		t.Fatal("node certificate is a CA")
	}
	if want := now.AddDate(5, 0, 0); !c.NotAfter.Equal(want) {
		t.Fatalf("NotAfter %v, want %v", c.NotAfter, want)
	}
	// A random 128-bit serial has fewer than 64 significant bits with
	// probability 2^-64.
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() < 64 {
		t.Fatalf("serial %v", c.SerialNumber)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: caPool(ca.Cert), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Fatalf("usage %v: %v", usage, err)
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: caPool(other.Cert)}); err == nil {
		t.Fatal("verifies against another CA")
	}
	second, err := ca.IssueNodeCert("node-1", key.Public(), now)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := ParseCertificatePEM(second); c2.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Fatal("two certificates share a serial number")
	}
}

func TestIssueNodeCertNeverOutlivesCA(t *testing.T) {
	ca := mustCA(t, time.Now().AddDate(-8, 0, 0))
	key, _, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.IssueNodeCert("node-1", key.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ParseCertificatePEM(certPEM)
	if !c.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Fatalf("NotAfter %v, CA expires %v", c.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueNodeCertRefuses(t *testing.T) {
	ca := mustCA(t, time.Now())
	key, _, _ := NewNodeKey()
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		pub  any
		want error // nil: must succeed
	}{
		{"ok", "node-1", key.Public(), nil},
		{"ed25519 key", "node.2_b", edPub, nil},
		{"64 characters", strings.Repeat("n", 64), key.Public(), nil},
		{"empty id", "", key.Public(), ErrNoNodeID},
		{"65 characters", strings.Repeat("n", 65), key.Public(), ErrInvalidNodeID},
		{"slash", "a/b", key.Public(), ErrInvalidNodeID},
		{"leading dash", "-a", key.Public(), ErrInvalidNodeID},
		{"space", "a b", key.Public(), ErrInvalidNodeID},
		{"non-ASCII", "nodé", key.Public(), ErrInvalidNodeID},
		{"P-224 key", "node-1", p224.Public(), ErrUnsupportedKey},
		{"nil key", "node-1", nil, ErrUnsupportedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.IssueNodeCert(tc.id, tc.pub, time.Now())
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	key, _, _ := NewNodeKey()
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, err := x509.MarshalPKIXPublicKey(p224.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []any{key.Public(), edPub} {
		der, err := MarshalPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePublicKey(der)
		if err != nil || !samePublicKey(back, pub) {
			t.Fatalf("%T round trip: %v", pub, err)
		}
	}
	if _, err := MarshalPublicKey(p224.Public()); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("marshal P-224: %v", err)
	}
	for name, b := range map[string][]byte{"P-224": p224DER, "garbage": []byte("garbage"), "empty": nil} {
		if _, err := ParsePublicKey(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestNodeIDFromCert(t *testing.T) {
	ca := mustCA(t, time.Now())
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		cn   string
		uris []*url.URL
		want string // "": must fail
	}{
		{"issued form", "node-1", []*url.URL{uri("waedge://node/node-1")}, "node-1"},
		{"with an unrelated URI", "node-1", []*url.URL{uri("https://example.com/"), uri("waedge://node/node-1")}, "node-1"},
		{"no URI", "node-1", nil, ""},
		{"CN differs", "node-2", []*url.URL{uri("waedge://node/node-1")}, ""},
		{"two node URIs", "node-1", []*url.URL{uri("waedge://node/node-1"), uri("waedge://node/node-2")}, ""},
		{"wrong scheme", "node-1", []*url.URL{uri("https://node/node-1")}, ""},
		{"query", "node-1", []*url.URL{uri("waedge://node/node-1?x=1")}, ""},
		{"nested path", "a/b", []*url.URL{uri("waedge://node/a/b")}, ""},
		{"empty id", "", []*url.URL{uri("waedge://node/")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := nodeTemplate("x")
			tmpl.Subject.CommonName, tmpl.URIs = tc.cn, tc.uris
			c := craft(t, ca, tmpl)
			got, err := NodeIDFromCert(c.Leaf)
			if tc.want == "" {
				if !errors.Is(err, ErrNoNodeID) {
					t.Fatalf("got %q, %v; want ErrNoNodeID", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := NodeIDFromCert(nil); !errors.Is(err, ErrNoNodeID) {
		t.Fatalf("nil certificate: %v", err)
	}
}

func TestLoadKeyPair(t *testing.T) {
	ca := mustCA(t, time.Now())
	key, keyPEM, _ := NewNodeKey()
	_, otherKeyPEM, _ := NewNodeKey()
	certPEM, err := ca.IssueNodeCert("node-1", key.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	chainPEM := append(append([]byte{}, certPEM...), ca.CertPEM...)
	tests := []struct {
		name      string
		cert, key []byte
		chainLen  int // 0: must fail
	}{
		{"leaf", certPEM, keyPEM, 1},
		{"leaf and CA", chainPEM, keyPEM, 2},
		{"wrong key", certPEM, otherKeyPEM, 0},
		{"no certificate", nil, keyPEM, 0},
		{"no key", certPEM, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadKeyPair(tc.cert, tc.key)
			if tc.chainLen == 0 {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Certificate) != tc.chainLen || c.Leaf == nil || c.Leaf.Subject.CommonName != "node-1" {
				t.Fatalf("chain %d, leaf %v", len(c.Certificate), c.Leaf)
			}
		})
	}
}

func TestCADoesNotPrintItsKey(t *testing.T) {
	ca := mustCA(t, time.Now())
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("ca", slog.Any("ca", ca))
	for name, out := range map[string]string{
		"%v":  fmt.Sprintf("%v", ca),
		"%+v": fmt.Sprintf("%+v", ca),
		"%s":  fmt.Sprintf("%s", ca),
		"log": logged.String(),
	} {
		if strings.Contains(out, "PRIVATE") || strings.Contains(out, "BEGIN") || !strings.Contains(out, "test cluster CA") {
			t.Errorf("%s: %s", name, out)
		}
	}
}
