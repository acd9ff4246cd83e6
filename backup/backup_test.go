package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func payload(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func keySecret(t *testing.T) Secret {
	t.Helper()
	s, err := KeyFile(payload(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seal(t *testing.T, s Secret, pt []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, s, 1000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func open(s Secret, file []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(file), s)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	s := keySecret(t)
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		pt := payload(t, n)
		file := seal(t, s, pt)
		got, err := open(s, file)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("%d bytes: payload differs", n)
		}
		r, _ := NewReader(bytes.NewReader(file), s)
		if h := r.Header(); h.CreatedAt != 1000 || h.Horizon != 2000 {
			t.Fatalf("header %+v", h)
		}
	}
}

func TestPassphrase(t *testing.T) {
	good, err := Passphrase([]byte("correct horse battery staple\n"))
	if err != nil {
		t.Fatal(err)
	}
	pt := payload(t, ChunkSize+5)
	file := seal(t, good, pt)
	if got, err := open(good, file); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open with the right passphrase: %v", err)
	}
	wrong, _ := Passphrase([]byte("incorrect horse battery staple"))
	if _, err := open(wrong, file); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong passphrase: got %v, want ErrAuth", err)
	}
	if _, err := open(keySecret(t), file); !errors.Is(err, ErrKey) {
		t.Fatalf("key file on a passphrase backup: got %v, want ErrKey", err)
	}
	if _, err := Passphrase([]byte("short")); !errors.Is(err, ErrKey) {
		t.Fatalf("short passphrase: %v", err)
	}
}

func TestTamperingIsRefused(t *testing.T) {
	s := keySecret(t)
	pt := payload(t, 3*ChunkSize+100)
	file := seal(t, s, pt)
	chunk := 4 + ChunkSize + 16 // one full sealed chunk on disk

	cases := map[string][]byte{
		"truncated mid-chunk":         file[:len(file)-7],
		"truncated at chunk boundary": file[:headerLen+2*chunk],
		"final chunk dropped":         file[:headerLen+3*chunk],
		"trailing data":               append(bytes.Clone(file), 0),
		"header horizon edited": func() []byte {
			b := bytes.Clone(file)
			b[headerLen-1] ^= 1
			return b
		}(),
		"ciphertext bit flip": func() []byte {
			b := bytes.Clone(file)
			b[headerLen+chunk+100] ^= 0x80
			return b
		}(),
		"chunks swapped": func() []byte {
			b := bytes.Clone(file)
			c1 := bytes.Clone(b[headerLen : headerLen+chunk])
			copy(b[headerLen:], b[headerLen+chunk:headerLen+2*chunk])
			copy(b[headerLen+chunk:], c1)
			return b
		}(),
		"empty":    nil,
		"not ours": []byte("SQLite format 3\x00 and more bytes to fill the header......"),
	}
	for name, f := range cases {
		got, err := open(s, f)
		if err == nil {
			t.Errorf("%s: accepted (%d bytes)", name, len(got))
			continue
		}
		if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTrailing) && !errors.Is(err, ErrFormat) {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	if _, err := open(s, file[:headerLen+3*chunk]); !errors.Is(err, ErrTruncated) {
		t.Errorf("dropped final chunk: got %v, want ErrTruncated", err)
	}
	if _, err := open(keySecret(t), file); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong key file: got %v, want ErrAuth", err)
	}
}

func TestKeyFileFormats(t *testing.T) {
	raw := payload(t, 32)
	for _, in := range [][]byte{raw, []byte("  " + string(hexOf(raw)) + "\n")} {
		if _, err := KeyFile(in); err != nil {
			t.Fatalf("KeyFile: %v", err)
		}
	}
	if _, err := KeyFile([]byte("too short")); !errors.Is(err, ErrKey) {
		t.Fatalf("bad key file: %v", err)
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}
