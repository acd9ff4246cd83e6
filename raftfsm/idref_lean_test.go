package raftfsm

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// plainIDRef is the reference of any wamid that does not carry a message
// key: the hash alone.
func plainIDRef(wamid string) string {
	h := sha256.Sum256([]byte("waedge wamid v1\x00" + wamid))
	return hex.EncodeToString(h[:16])
}

// keyedWAMID builds a keyed wamid as cloudapi.NewWAMIDWithKeyID does
// (raftfsm cannot import cloudapi): {1: {1: waID, 2: 1}, 2: true, 3: keyID}.
func leanKeyedWAMID(waID, keyID string) string {
	b := []byte{0x1c, 0x18, byte(len(waID))}
	b = append(b, waID...)
	b = append(b, 0x15, 0x02, 0x00, 0x11, 0x18, byte(len(keyID)))
	b = append(b, keyID...)
	b = append(b, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

// TestMessageIDRefMatchesDefinition: a keyed wamid's reference is its
// key in hex followed by the hash, anything else's the hash alone; the key
// id is upper-case hex of key and random bytes.
func TestMessageIDRefMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]string{}
	for _, id := range []string{"", "wamid.", "wamid.!!", "in1", "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTdCRkQ2RkE0MTNFNzc0RDYA",
		"wamid." + strings.Repeat("A", 512), "wamid." + strings.Repeat("A", 516), strings.Repeat("x", 2000)} {
		want[id] = plainIDRef(id)
	}
	for i := 0; i < 300; i++ {
		var key [messageKeyLen]byte
		var random [9]byte
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		for j := range random {
			random[j] = byte(r.Uint32())
		}
		kid := WAMIDKeyID(key[:], random)
		if w := strings.ToUpper(hex.EncodeToString(key[:]) + hex.EncodeToString(random[:])); kid != w {
			t.Fatalf("WAMIDKeyID = %q, want %q", kid, w)
		}
		w := leanKeyedWAMID(strings.Repeat("4", 1+r.IntN(15)), kid)
		want[w] = hex.EncodeToString(key[:]) + plainIDRef(w)
		for _, other := range []string{w[:len(w)-2], strings.ToLower(w), leanKeyedWAMID("491700000042", kid[:len(kid)-2])} {
			want[other] = plainIDRef(other)
		}
	}
	for id, ref := range want {
		if got := MessageIDRef(id); got != ref {
			t.Fatalf("MessageIDRef(%q) = %q, want %q", id, got, ref)
		}
	}
}

// TestMessageIDRefAllocatesOnlyItsResult: every send computes both.
func TestMessageIDRefAllocatesOnlyItsResult(t *testing.T) {
	var key [messageKeyLen]byte
	w := leanKeyedWAMID("491700000042", WAMIDKeyID(key[:], [9]byte{1}))
	if n := testing.AllocsPerRun(100, func() { _ = MessageIDRef(w) }); n != 1 {
		t.Errorf("MessageIDRef: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = WAMIDKeyID(key[:], [9]byte{1}) }); n != 1 {
		t.Errorf("WAMIDKeyID: %v allocations, want 1", n)
	}
}
