// Package httptls is TLS for waedge's HTTP port: a certificate and key read
// from files and re-read on demand (SIGHUP), a persisted self-signed
// certificate for --tls-auto, and the client side that trusts a given CA
// file (the CLI and `waedge bench`).
package httptls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNoCertificate: the files hold no usable certificate and key.
var ErrNoCertificate = errors.New("httptls: no usable certificate")

// Reloader serves the certificate in certFile/keyFile and swaps it for the
// files' new content on Reload; a failed reload keeps the old one.
type Reloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// NewReloader loads certFile and keyFile (PEM).
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files. On error the current certificate stays.
func (r *Reloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoCertificate, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("%w: %w", ErrNoCertificate, err)
		}
	}
	r.cur.Store(&c)
	return nil
}

// Fingerprint is the SHA-256 fingerprint of the certificate served now.
func (r *Reloader) Fingerprint() string { return Fingerprint(r.cur.Load().Certificate[0]) }

// NotAfter is when the certificate served now expires.
func (r *Reloader) NotAfter() time.Time { return r.cur.Load().Leaf.NotAfter }

// ServerConfig is a TLS 1.2+ server configuration that always serves the
// current certificate.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cur.Load(), nil
		},
	}
}

// Fingerprint formats the SHA-256 of a DER certificate as colon-separated
// upper-case hex, as openssl x509 -fingerprint -sha256 prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// Self-signed certificate files of --tls-auto, inside the data dir.
const (
	AutoDir      = "http-tls"
	AutoCertFile = "cert.pem"
	AutoKeyFile  = "key.pem"
)

// autoValidity is how long a generated certificate is valid; it is
// regenerated at start when less than autoRenewBefore is left.
const (
	autoValidity    = 365 * 24 * time.Hour
	autoRenewBefore = 30 * 24 * time.Hour
)

// EnsureSelfSigned returns the cert and key files of dir's self-signed
// certificate for hosts (DNS names or IP addresses), generating them when
// missing, expiring within 30 days, or not covering every host. The
// certificate is its own CA, so clients can trust exactly it with
// --ca-file.
func EnsureSelfSigned(dir string, hosts []string, now time.Time) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, AutoCertFile), filepath.Join(dir, AutoKeyFile)
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		leaf, perr := x509.ParseCertificate(c.Certificate[0])
		if perr == nil && leaf.NotAfter.Sub(now) > autoRenewBefore && covers(leaf, hosts) {
			return certFile, keyFile, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", "", err
	}
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "waedge self-signed"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(autoValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else if h != "" {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	// The key first: a crash between the two writes leaves a pair that
	// does not load, which the next start regenerates.
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	if err := writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// covers reports whether leaf names every host.
func covers(leaf *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if h != "" && leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ClientConfig returns the TLS configuration of a client that trusts the
// PEM certificates in caFile (in addition to none: only they are trusted).
// An empty caFile returns nil: the system roots.
func ClientConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Client returns an HTTP client with timeout that trusts caFile (system
// roots when empty).
func Client(caFile string, timeout time.Duration) (*http.Client, error) {
	cfg, err := ClientConfig(caFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Timeout: timeout, Transport: tr}, nil
}
