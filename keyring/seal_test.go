package keyring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustDataKey(t testing.TB, day uint32) DataKey {
	t.Helper()
	dk, err := NewDataKey(day)
	if err != nil {
		t.Fatal(err)
	}
	return dk
}

func TestSealRoundTrip(t *testing.T) {
	dk := mustDataKey(t, 20000)
	tests := []struct {
		name string
		aad  []byte
		pt   []byte
	}{
		{"empty", nil, nil},
		{"one byte", []byte("wamid.1"), []byte{0}},
		{"text", []byte("wamid.2"), []byte("Olá, the secret message 👍")},
		{"200 bytes", []byte("m"), bytes.Repeat([]byte{7}, 200)},
		{"64 KiB", nil, bytes.Repeat([]byte("media"), 64<<10/5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Seal(dk, tc.aad, tc.pt)
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != len(tc.pt)+Overhead {
				t.Fatalf("sealed %d bytes for %d", len(s), len(tc.pt))
			}
			if cap(s) != len(s) {
				// The AAD shares the blob's allocation: appending to the
				// blob must not reach it.
				t.Fatalf("sealed blob has capacity %d for %d bytes", cap(s), len(s))
			}
			if _, err := Open(dk, append(bytes.Clone(tc.aad), 'x'), s); err == nil {
				t.Fatal("opened with another AAD")
			}
			if s[0] != 1 || binary.BigEndian.Uint32(s[1:5]) != 20000 {
				t.Fatalf("header % x", s[:5])
			}
			if len(tc.pt) >= 8 && bytes.Contains(s, tc.pt[:8]) {
				t.Fatal("plaintext visible in the sealed blob")
			}
			if id, err := KeyID(s); err != nil || id != 20000 {
				t.Fatalf("KeyID = %d, %v", id, err)
			}
			got, err := Open(dk, tc.aad, s)
			if err != nil || !bytes.Equal(got, tc.pt) {
				t.Fatalf("Open = %q, %v", got, err)
			}
			again, _ := Seal(dk, tc.aad, tc.pt)
			if bytes.Equal(again[5:17], s[5:17]) {
				t.Fatal("nonce repeated")
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	dk := mustDataKey(t, 20000)
	sameID := mustDataKey(t, 20000)
	otherDay := mustDataKey(t, 20001)
	aad := []byte("wamid.1")
	s, err := Seal(dk, aad, []byte("hello, world"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Clone(s)
	v2[0] = 2
	// The same key bytes under another id must not open a blob whose id
	// field was rewritten: the id is authenticated.
	relabelled := bytes.Clone(s)
	binary.BigEndian.PutUint32(relabelled[1:5], 20001)
	sameBytesOtherDay := DataKey{ID: 20001, Key: dk.Key}
	tests := []struct {
		name   string
		key    DataKey
		aad    []byte
		sealed []byte
		want   error
	}{
		{"wrong aad", dk, []byte("wamid.2"), s, ErrCorrupt},
		{"missing aad", dk, nil, s, ErrCorrupt},
		{"another key with the same id", sameID, aad, s, ErrCorrupt},
		{"key of another day", otherDay, aad, s, ErrKeyMismatch},
		{"unknown version", dk, aad, v2, ErrCorrupt},
		{"id field rewritten", sameBytesOtherDay, aad, relabelled, ErrCorrupt},
		{"appended byte", dk, aad, append(bytes.Clone(s), 0), ErrCorrupt},
		{"empty", dk, aad, nil, ErrCorrupt},
		{"header only", dk, aad, s[:17], ErrCorrupt},
		{"shorter than a tag", dk, aad, s[:Overhead-1], ErrCorrupt},
		{"one byte short", dk, aad, s[:len(s)-1], ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if pt, err := Open(tc.key, tc.aad, tc.sealed); !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
		})
	}
	t.Run("every flipped bit", func(t *testing.T) {
		for i := range len(s) * 8 {
			bad := bytes.Clone(s)
			bad[i/8] ^= 1 << (i % 8)
			if _, err := Open(dk, aad, bad); err == nil {
				t.Fatalf("bit %d flipped: accepted", i)
			}
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(s) {
			if _, err := Open(dk, aad, s[:n]); err == nil {
				t.Fatalf("truncated to %d bytes: accepted", n)
			}
		}
	})
}

func TestWrapDataKey(t *testing.T) {
	kek, wrong := KEK{1}, KEK{2}
	dk := mustDataKey(t, 7)
	w, err := WrapDataKey(kek, dk)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, dk.Key[:8]) {
		t.Fatal("data key visible in wrapped form")
	}
	back, err := UnwrapDataKey(kek, 7, w)
	if err != nil || back != dk {
		t.Fatalf("unwrap: %v", err)
	}
	tampered := bytes.Clone(w)
	tampered[len(tampered)-1] ^= 1
	// Content sealed under a data key whose bytes equal the KEK is not a
	// wrapped key: the AAD differs.
	asContent, _ := Seal(DataKey{ID: 7, Key: kek}, nil, dk.Key[:])
	relabelled := bytes.Clone(w)
	binary.BigEndian.PutUint32(relabelled[1:5], 8)
	short, _ := WrapDataKey(kek, DataKey{ID: 7})
	short = short[:len(short)-1]
	tests := []struct {
		name    string
		kek     KEK
		id      uint32
		wrapped []byte
		want    error
	}{
		{"wrong KEK", wrong, 7, w, ErrCorrupt},
		{"other id", kek, 8, w, ErrKeyMismatch},
		{"tampered", kek, 7, tampered, ErrCorrupt},
		{"id field rewritten", kek, 8, relabelled, ErrCorrupt},
		{"content blob", kek, 7, asContent, ErrCorrupt},
		{"truncated", kek, 7, short, ErrCorrupt},
		{"empty", kek, 7, nil, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnwrapDataKey(tc.kek, tc.id, tc.wrapped); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeysDoNotPrint(t *testing.T) {
	kek := KEK{0xab, 0xcd, 0xef, 0x12}
	dk := DataKey{ID: 9, Key: [32]byte{0xab, 0xcd, 0xef, 0x12}}
	r := NewRing(kek)
	w, _ := WrapDataKey(kek, dk)
	if err := r.Add(9, w); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "kek", kek, "dk", dk, "ring", r)
	outs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%X", "%s", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, kek), fmt.Sprintf(verb, dk), fmt.Sprintf(verb, r),
			fmt.Sprintf(verb, struct{ K KEK }{kek}))
	}
	for _, out := range outs {
		lower := strings.ToLower(out)
		if strings.Contains(lower, "abcdef12") || strings.Contains(lower, "ab cd ef") || strings.Contains(out, "171 205") ||
			strings.Contains(lower, "0xab, 0xcd") {
			t.Errorf("key material printed: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprint(dk), "9") {
		t.Errorf("DataKey does not show its id: %v", dk)
	}
}

func FuzzOpen(f *testing.F) {
	kek := KEK{3}
	dk := DataKey{ID: 1, Key: [32]byte{1}}
	s, err := Seal(dk, []byte("aad"), []byte("x"))
	if err != nil {
		f.Fatal(err)
	}
	w, err := WrapDataKey(kek, dk)
	if err != nil {
		f.Fatal(err)
	}
	r := NewRing(kek)
	if err := r.Add(1, w); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{s, w, nil, {1}, {1, 0, 0, 0, 1}, s[:Overhead], append(bytes.Clone(s), 0)} {
		f.Add(seed, []byte("aad"))
	}
	f.Fuzz(func(t *testing.T, b, aad []byte) {
		id, idErr := KeyID(b)
		pt, err := Open(dk, aad, b)
		if err == nil {
			if idErr != nil || id != 1 {
				t.Fatalf("opened a blob whose KeyID is %d, %v", id, idErr)
			}
			// Anything that opens must have been sealed by us: the only such
			// blobs are seeds sealing "x" with AAD "aad". (Seeds are not
			// compared byte for byte: fuzz workers re-create them with other
			// random nonces.)
			if !bytes.Equal(aad, []byte("aad")) || string(pt) != "x" || len(b) != Overhead+1 {
				t.Fatalf("forged blob opened: %q", pt)
			}
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("unexpected error %v", err)
		}
		if rpt, rerr := r.Open(aad, b); (rerr == nil) != (err == nil) || !bytes.Equal(rpt, pt) {
			t.Fatalf("ring and Open disagree: %v vs %v", rerr, err)
		}
		if got, err := UnwrapDataKey(kek, id, b); err == nil && got != dk {
			t.Fatal("forged wrapped key accepted")
		}
	})
}

func benchmarkSizes(b *testing.B, fn func(b *testing.B, pt []byte)) {
	for _, size := range []int{200, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			pt := bytes.Repeat([]byte{'a'}, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			fn(b, pt)
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	dk := mustDataKey(b, 1)
	benchmarkSizes(b, func(b *testing.B, pt []byte) {
		for b.Loop() {
			if _, err := Seal(dk, []byte("wamid.x"), pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	dk := mustDataKey(b, 1)
	benchmarkSizes(b, func(b *testing.B, pt []byte) {
		s, err := Seal(dk, []byte("wamid.x"), pt)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := Open(dk, []byte("wamid.x"), s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The ring keeps one AES-GCM instance per key, so it skips the key
// schedule that the package-level functions pay on every call.
func BenchmarkRingSeal(b *testing.B) {
	r, id := benchRing(b)
	benchmarkSizes(b, func(b *testing.B, pt []byte) {
		for b.Loop() {
			if _, err := r.Seal(id, []byte("wamid.x"), pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRingOpen(b *testing.B) {
	r, id := benchRing(b)
	benchmarkSizes(b, func(b *testing.B, pt []byte) {
		s, err := r.Seal(id, []byte("wamid.x"), pt)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := r.Open([]byte("wamid.x"), s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchRing(b *testing.B) (*Ring, uint32) {
	kek := KEK{5}
	dk := mustDataKey(b, 20000)
	w, err := WrapDataKey(kek, dk)
	if err != nil {
		b.Fatal(err)
	}
	r := NewRing(kek)
	if err := r.Add(dk.ID, w); err != nil {
		b.Fatal(err)
	}
	return r, dk.ID
}

// TestSealAllocatesOnlyTheBlob: the full AAD shares the blob's allocation.
func TestSealAllocatesOnlyTheBlob(t *testing.T) {
	dk := mustDataKey(t, 20000)
	aead, err := newAEAD(&dk.Key)
	if err != nil {
		t.Fatal(err)
	}
	aad, pt := []byte("peer:wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTdCRkQ2RkE0MTNFNzc0RDYA"), []byte("491700000042")
	if n := testing.AllocsPerRun(100, func() { _, _ = sealWith(aead, dk.ID, aad, pt) }); n != 1 {
		t.Errorf("sealWith: %v allocations, want 1", n)
	}
}
