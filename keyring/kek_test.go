package keyring

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseKEK(t *testing.T) {
	var want KEK
	for i := range want {
		want[i] = byte(i*7 + 1) // bytes that give '+', '/', '-', '_' in base64
	}
	want[0], want[1], want[2] = 0xfb, 0xff, 0xfe
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex", hex.EncodeToString(want[:]), true},
		{"HEX", strings.ToUpper(hex.EncodeToString(want[:])), true},
		{"hex with newline", hex.EncodeToString(want[:]) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(want[:]), true},
		{"base64 raw", base64.RawStdEncoding.EncodeToString(want[:]), true},
		{"base64url", base64.URLEncoding.EncodeToString(want[:]), true},
		{"base64url raw", "  " + base64.RawURLEncoding.EncodeToString(want[:]) + " ", true},
		{"empty", "", false},
		{"short hex", hex.EncodeToString(want[:31]), false},
		{"long hex", hex.EncodeToString(want[:]) + "00", false},
		{"short base64", base64.StdEncoding.EncodeToString(want[:31]), false},
		{"all zero", strings.Repeat("0", 64), false},
		{"garbage", strings.Repeat("z", 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKEK(tc.in)
			if !tc.ok {
				if !errors.Is(err, ErrBadKEK) {
					t.Fatalf("accepted: %v", err)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("got %x, %v", got[:], err)
			}
		})
	}
}

func TestLoadOrCreateKEK(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "master.key")
	k1, err := LoadOrCreateKEK(p)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == (KEK{}) {
		t.Fatal("zero key")
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode().Perm(), err)
	}
	content, _ := os.ReadFile(p)
	if string(content) != hex.EncodeToString(k1[:])+"\n" {
		t.Fatal("file is not the key in hex")
	}
	k2, err := LoadOrCreateKEK(p)
	if err != nil || k1 != k2 {
		t.Fatalf("reload differs: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d entries in the directory: temporary file left", len(entries))
	}

	write := func(name string, data []byte, perm os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // umask-proof
			t.Fatal(err)
		}
		return p
	}
	raw := KEK{9, 8, 7}
	tests := []struct {
		name string
		path string
		want KEK
		err  error
	}{
		{"raw bytes", write("raw.key", raw[:], 0o600), raw, nil},
		{"base64", write("b64.key", []byte(base64.StdEncoding.EncodeToString(raw[:])), 0o400), raw, nil},
		{"group-readable", write("open.key", []byte(hex.EncodeToString(raw[:])), 0o640), KEK{}, ErrKEKPermissions},
		{"corrupt", write("bad.key", []byte("not a key"), 0o600), KEK{}, ErrBadKEK},
		{"empty", write("empty.key", nil, 0o600), KEK{}, ErrBadKEK},
		{"raw zero", write("zero.key", make([]byte, 32), 0o600), KEK{}, ErrBadKEK},
		{"missing directory", filepath.Join(dir, "nope", "x.key"), KEK{}, fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadOrCreateKEK(tc.path)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got key %v, %v", got == tc.want, err)
			}
		})
	}
}

func TestLoadOrCreateKEKConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	keys := make([]KEK, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKEK(p) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Fatalf("caller %d: %v (same key: %v)", i, errs[i], keys[i] == keys[0])
		}
	}
}

func FuzzParseKEK(f *testing.F) {
	for _, s := range []string{strings.Repeat("ab", 32), base64.StdEncoding.EncodeToString(make([]byte, 32)), "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKEK(s)
		if err != nil {
			if !errors.Is(err, ErrBadKEK) {
				t.Fatalf("error %v does not wrap ErrBadKEK", err)
			}
			return
		}
		if k == (KEK{}) {
			t.Fatal("accepted an all-zero key")
		}
		if back, err := ParseKEK(hex.EncodeToString(k[:])); err != nil || back != k {
			t.Fatal("hex round trip")
		}
	})
}
