package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KEK is the cluster key-encryption key. It wraps data keys and never
// enters Raft. Printing a KEK shows no key material.
type KEK [32]byte

// String hides the key (also for %x and %v).
func (KEK) String() string { return "keyring.KEK(redacted)" }

// GoString hides the key (for %#v).
func (k KEK) GoString() string { return k.String() }

// LogValue makes slog show no key material.
func (KEK) LogValue() slog.Value { return slog.StringValue("redacted") }

// ParseKEK reads a KEK given as hex (64 digits, either case) or base64
// (standard or URL alphabet, padded or not) of exactly 32 bytes, as in the
// WAEDGE_MASTER_KEY environment variable. Surrounding white space is
// ignored. An all-zero key is refused as a configuration mistake.
func ParseKEK(s string) (KEK, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		b, err := dec(s)
		if err != nil || len(b) != len(KEK{}) {
			continue
		}
		k := KEK(b)
		clear(b)
		if k == (KEK{}) {
			return KEK{}, fmt.Errorf("%w: all zero", ErrBadKEK)
		}
		return k, nil
	}
	return KEK{}, ErrBadKEK
}

// LoadOrCreateKEK reads the KEK from the file at path, creating the file
// with a fresh random key (64 hex digits and a newline, mode 0600) if it
// does not exist. An existing file may hold hex, base64 or the 32 raw
// bytes. Creation is atomic: concurrent callers and crashes never leave a
// partial file, and all callers get the same key. A file accessible to
// other users is refused (ErrKEKPermissions).
func LoadOrCreateKEK(path string) (KEK, error) {
	k, err := readKEKFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if _, err := rand.Read(k[:]); err != nil {
		return KEK{}, fmt.Errorf("generate KEK: %w", err)
	}
	if err := createExclusive(path, []byte(hex.EncodeToString(k[:])+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return readKEKFile(path)
		}
		return KEK{}, err
	}
	return k, nil
}

func readKEKFile(path string) (KEK, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return KEK{}, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return KEK{}, fmt.Errorf("%w: %s has mode %v (want 0600)", ErrKEKPermissions, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return KEK{}, err
	}
	defer clear(b)
	if len(b) == len(KEK{}) { // raw bytes: no text encoding has this length
		if k := KEK(b); k != (KEK{}) {
			return k, nil
		}
		return KEK{}, fmt.Errorf("%w: all zero", ErrBadKEK)
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return KEK{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// createExclusive writes data to a synced temporary file and hard-links it
// to path, which fails with fs.ErrExist if path exists: the file appears
// complete or not at all.
func createExclusive(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create KEK file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		_ = f.Close()
		_ = os.Remove(tmp)
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("create KEK file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("create KEK file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("create KEK file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("create KEK file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		_ = d.Close()
	}
	return nil
}
