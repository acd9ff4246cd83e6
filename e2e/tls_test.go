package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/waedge/waedge/httptls"
)

// servedFingerprint is the fingerprint of the certificate addr serves now.
func servedFingerprint(addr string) (string, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return httptls.Fingerprint(c.ConnectionState().PeerCertificates[0].Raw), nil
}

func fileFingerprint(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	return httptls.Fingerprint(blk.Bytes)
}

// TestBlackBoxTLSAuto: --tls-auto serves HTTPS only, with a self-signed
// certificate kept in the data dir whose fingerprint the log prints, HSTS
// on every answer; the CLI reaches it with --ca-file and refuses it
// without.
func TestBlackBoxTLSAuto(t *testing.T) {
	p := newProc(t, "tls-auto", "--tls-auto")
	p.start()
	certFile := filepath.Join(p.dataDir, httptls.AutoDir, httptls.AutoCertFile)
	var client *http.Client
	waitFor(t, "HTTPS ready", 20*time.Second, func() bool {
		if client == nil {
			c, err := httptls.Client(certFile, 5*time.Second)
			if err != nil {
				return false
			}
			client = c
		}
		resp, err := client.Get("https://" + p.httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Header.Get("Strict-Transport-Security") == "" {
			t.Fatal("no Strict-Transport-Security header on HTTPS")
		}
		return resp.StatusCode == 200
	})
	fp := fileFingerprint(t, certFile)
	if !strings.Contains(p.log.String(), fp) {
		t.Errorf("the log does not print the certificate's fingerprint %s", fp)
	}
	if resp, err := httpClient.Get(p.url("/healthz")); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP answered 200 on the TLS port")
	}
	tokenFile := filepath.Join(p.dataDir, "admin.token")
	if out, errOut, err := cli(t, "cluster", "status", "--server", "https://"+p.httpAddr, "--token-file", tokenFile, "--ca-file", certFile); err != nil || !strings.Contains(out, `"state"`) {
		t.Fatalf("cluster status over HTTPS with --ca-file: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := cli(t, "cluster", "status", "--server", "https://"+p.httpAddr, "--token-file", tokenFile); err == nil {
		t.Fatal("cluster status trusted a self-signed certificate without --ca-file")
	}
	// waedge bench measures an HTTPS cluster with the same --ca-file.
	adminToken, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cli(t, "bench", "accept", "--target", "https://"+p.httpAddr, "--token", strings.TrimSpace(string(adminToken)),
		"--ca-file", certFile, "--senders", "1", "--duration", "1s", "--json")
	var res struct {
		Accepted float64 `json:"accepted_per_s"`
		Errors   float64 `json:"errors"`
	}
	if err != nil || json.Unmarshal([]byte(strings.TrimSpace(out)), &res) != nil || res.Accepted <= 0 || res.Errors != 0 {
		t.Fatalf("bench accept over HTTPS with --ca-file: %v %+v\n%s%s", err, res, out, errOut)
	}

	// A restart keeps the certificate (clients keep trusting it).
	p.stop()
	p.start()
	waitFor(t, "HTTPS back", 20*time.Second, func() bool {
		got, err := servedFingerprint(p.httpAddr)
		return err == nil && got == fp
	})
}

// TestBlackBoxTLSReloadOnSIGHUP: --tls-cert/--tls-key are re-read on
// SIGHUP; a pair that does not load leaves the previous certificate in
// service.
func TestBlackBoxTLSReloadOnSIGHUP(t *testing.T) {
	now := time.Now()
	certA, keyA, err := httptls.EnsureSelfSigned(filepath.Join(t.TempDir(), "a"), []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	certB, keyB, err := httptls.EnsureSelfSigned(filepath.Join(t.TempDir(), "b"), []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cp := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp(certA, cert)
	cp(keyA, key)
	p := newProc(t, "tls-files", "--tls-cert", cert, "--tls-key", key)
	p.start()
	fpA, fpB := fileFingerprint(t, certA), fileFingerprint(t, certB)
	waitFor(t, "certificate A served", 20*time.Second, func() bool {
		got, err := servedFingerprint(p.httpAddr)
		return err == nil && got == fpA
	})

	// A broken pair (B's certificate with A's key) is refused.
	cp(certB, cert)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused reload logged", 10*time.Second, func() bool {
		return strings.Contains(p.log.String(), "TLS certificate not reloaded")
	})
	if got, err := servedFingerprint(p.httpAddr); err != nil || got != fpA {
		t.Fatalf("after a failed reload: %s %v, want A", got, err)
	}

	cp(keyB, key)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "certificate B served after SIGHUP", 10*time.Second, func() bool {
		got, err := servedFingerprint(p.httpAddr)
		return err == nil && got == fpB
	})
	if !p.alive() {
		t.Fatal("SIGHUP ended the process")
	}
}
