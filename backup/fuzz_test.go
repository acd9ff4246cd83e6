package backup

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzKey is the fixed key of the fuzz corpus (testdata/fuzz/FuzzReader
// holds files sealed under it).
var fuzzKey = bytes.Repeat([]byte{0x5a}, 32)

// fuzzPayload is the plaintext of n bytes every corpus file seals.
func fuzzPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// FuzzReader: whatever the bytes, the reader ends with one of its
// sentinel errors, or — only for a file really sealed under the key —
// yields exactly what was sealed. Seeds: testdata/fuzz/FuzzReader and
// the ones below.
func FuzzReader(f *testing.F) {
	s, err := KeyFile(fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{0, 5, ChunkSize + 3} {
		var out bytes.Buffer
		w, err := NewWriter(&out, s, 1000, 2000)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := w.Write(fuzzPayload(n)); err != nil {
			f.Fatal(err)
		}
		if err := w.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(out.Bytes())
		f.Add(out.Bytes()[:out.Len()-1])
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file), s)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
		}
		if err != nil {
			for _, sentinel := range []error{ErrFormat, ErrAuth, ErrTruncated, ErrTrailing, ErrKey} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("error outside the reader's vocabulary: %v", err)
		}
		if want := fuzzPayload(len(got)); !bytes.Equal(got, want) {
			t.Fatalf("a file not sealed under the key was read (%d bytes)", len(got))
		}
	})
}
