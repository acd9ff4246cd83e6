package httptls_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waedge/waedge/httptls"
)

// TestSelfSignedKeptAndRenewed: the certificate is reused while valid for
// the same hosts (its fingerprint is what clients pinned) and replaced when
// it nears expiry or a host is added.
func TestSelfSignedKeptAndRenewed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	fp := func(at time.Time, hosts ...string) string {
		t.Helper()
		c, k, err := httptls.EnsureSelfSigned(dir, hosts, at)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(k); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode: %v %v", st.Mode(), err)
		}
		r, err := httptls.NewReloader(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return r.Fingerprint()
	}
	first := fp(now, "127.0.0.1", "localhost")
	if again := fp(now.Add(time.Hour), "127.0.0.1", "localhost"); again != first {
		t.Fatal("a valid certificate was regenerated")
	}
	if other := fp(now, "127.0.0.1", "localhost", "wa.example.com"); other == first {
		t.Fatal("a certificate not naming a new host was kept")
	}
	second := fp(now, "127.0.0.1")
	if renewed := fp(now.Add(340*24*time.Hour), "127.0.0.1"); renewed == second {
		t.Fatal("a certificate 25 days from expiry was kept")
	}
}

// TestReloadKeepsCertificateOnError: a failed reload leaves the served
// certificate; a good one replaces it.
func TestReloadKeepsCertificateOnError(t *testing.T) {
	a, ak, err := httptls.EnsureSelfSigned(filepath.Join(t.TempDir(), "a"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, err := httptls.NewReloader(a, ak)
	if err != nil {
		t.Fatal(err)
	}
	before := r.Fingerprint()
	if err := os.WriteFile(a, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); !errors.Is(err, httptls.ErrNoCertificate) {
		t.Fatalf("reload of garbage: %v", err)
	}
	if r.Fingerprint() != before {
		t.Fatal("a failed reload changed the certificate")
	}
	if _, err := httptls.ClientConfig(ak); err == nil {
		t.Fatal("a key file was accepted as --ca-file")
	}
}
