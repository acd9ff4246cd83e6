package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	dk, _ := NewDataKey(20000)
	other, _ := NewDataKey(20001)
	pt := []byte("Olá, the secret message 👍")
	s, err := Seal(dk, []byte("wamid.1"), pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s, pt[:8]) {
		t.Fatal("plaintext visible in sealed blob")
	}
	if got, err := Open(dk, []byte("wamid.1"), s); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q %v", got, err)
	}
	if id, _ := KeyID(s); id != 20000 {
		t.Fatalf("key id %d", id)
	}
	if _, err := Open(dk, []byte("wamid.2"), s); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong aad: %v", err)
	}
	if _, err := Open(other, []byte("wamid.1"), s); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong key: %v", err)
	}
	for i := range s {
		bad := bytes.Clone(s)
		bad[i] ^= 1
		if _, err := Open(dk, []byte("wamid.1"), bad); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	if _, err := Open(dk, nil, s[:10]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	s2, _ := Seal(dk, []byte("wamid.1"), pt)
	if bytes.Equal(s, s2) {
		t.Fatal("nonce reuse: identical blobs")
	}
}

func TestWrapAndRing(t *testing.T) {
	var kek, wrong KEK
	kek[0], wrong[0] = 1, 2
	dk, _ := NewDataKey(7)
	w, err := WrapDataKey(kek, dk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnwrapDataKey(wrong, 7, w); err == nil {
		t.Fatal("unwrapped with the wrong KEK")
	}
	if _, err := UnwrapDataKey(kek, 8, w); err == nil {
		t.Fatal("unwrapped under another id")
	}
	r := NewRing(kek)
	if err := r.Add(7, w); err != nil {
		t.Fatal(err)
	}
	s, err := r.Seal(7, nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Open(nil, s); err != nil || string(got) != "hello" {
		t.Fatalf("ring open: %q %v", got, err)
	}
	r.Forget(7)
	if _, err := r.Open(nil, s); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("after destroy: %v", err)
	}
	_ = r.Add(7, w) // re-adding a destroyed key does not resurrect it
	if _, err := r.Open(nil, s); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatal("destroyed key came back")
	}
}

func TestKEKFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master.key")
	k1, err := LoadOrCreateKEK(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateKEK(p)
	if err != nil || k1 != k2 {
		t.Fatal("reload differs")
	}
	if _, err := ParseKEK(strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKEK("short"); !errors.Is(err, ErrBadKEK) {
		t.Fatal("short key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	dk, _ := NewDataKey(1)
	s, _ := Seal(dk, nil, []byte("x"))
	f.Add(s)
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Open(dk, nil, b)
		_, _ = KeyID(b)
	})
}

func BenchmarkSeal200(b *testing.B) {
	dk, _ := NewDataKey(1)
	pt := make([]byte, 200)
	for i := 0; i < b.N; i++ {
		_, _ = Seal(dk, []byte("id"), pt)
	}
}

func BenchmarkSealOpen64K(b *testing.B) {
	dk, _ := NewDataKey(1)
	pt := make([]byte, 64<<10)
	b.SetBytes(int64(len(pt)))
	for i := 0; i < b.N; i++ {
		s, _ := Seal(dk, nil, pt)
		_, _ = Open(dk, nil, s)
	}
}
