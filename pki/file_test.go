package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	steps := []struct {
		data []byte
		perm os.FileMode
	}{
		{[]byte("first"), 0o600},
		{[]byte("second, longer content"), 0o600},
		{nil, 0o644},
	}
	for i, s := range steps {
		if err := WriteFileAtomic(path, s.data, s.perm); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, s.data) {
			t.Fatalf("step %d: read %q, %v", i, got, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != s.perm {
			t.Fatalf("step %d: mode %v, %v", i, fi.Mode().Perm(), err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries (temporary files left?), %v", len(entries), err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}
