package cloudapi

import (
	"math/rand/v2"
	"testing"
)

// TestSWARMatchesByteTests: the word tests agree with the byte-by-byte
// definitions on random words, words of one repeated byte, and words with
// each byte value planted at each position among plain ones.
func TestSWARMatchesByteTests(t *testing.T) {
	quiet := func(b []byte) bool {
		for _, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return false
			}
		}
		return true
	}
	plain := func(b []byte) bool {
		for _, c := range b {
			if !plainJSON[c] {
				return false
			}
		}
		return true
	}
	check := func(b []byte) {
		x := word8b(b, 0)
		if word8(string(b), 0) != x {
			t.Fatalf("word8 of % x differs between string and bytes", b)
		}
		if got, want := quietString8(x), quiet(b); got != want {
			t.Fatalf("quietString8(% x) = %v, want %v", b, got, want)
		}
		if got, want := plainJSON8(x), plain(b); got != want {
			t.Fatalf("plainJSON8(% x) = %v, want %v", b, got, want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 8)
	for range 200000 {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		check(b)
	}
	for v := range 256 {
		for i := range b {
			b[i] = byte(v)
		}
		check(b)
		for pos := range 8 {
			for i := range b {
				b[i] = 'a' + byte(i)
			}
			b[pos] = byte(v)
			check(b)
			b[(pos+3)%8] = 0xC3 // a non-ASCII neighbour
			check(b)
		}
	}
}
