package raftfsm

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// The definitions MessageIDRef and WAMIDKeyID were written as before stop
// 24; the lean versions must give the same strings for every input.
func messageIDRefDefinition(wamid string) string {
	h := sha256.Sum256([]byte("waedge wamid v1\x00" + wamid))
	ref := hex.EncodeToString(h[:16])
	raw, ok := strings.CutPrefix(wamid, "wamid.")
	if !ok || len(raw) > 512 {
		return ref
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return ref
	}
	const tail = 2 + keyedKeyIDLen + 1
	if len(b) < tail {
		return ref
	}
	t := b[len(b)-tail:]
	if t[0] != 0x18 || t[1] != keyedKeyIDLen || t[tail-1] != 0 {
		return ref
	}
	key, err := hex.DecodeString(string(t[2 : 2+2*messageKeyLen]))
	if err != nil {
		return ref
	}
	return hex.EncodeToString(key) + ref
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

func TestMessageIDRefMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := []string{"", "wamid.", "wamid.!!", "in1", "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTdCRkQ2RkE0MTNFNzc0RDYA",
		"wamid." + strings.Repeat("A", 512), "wamid." + strings.Repeat("A", 516), strings.Repeat("x", 2000)}
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
		if want := strings.ToUpper(hex.EncodeToString(key[:]) + hex.EncodeToString(random[:])); kid != want {
			t.Fatalf("WAMIDKeyID = %q, want %q", kid, want)
		}
		w := leanKeyedWAMID(strings.Repeat("4", 1+r.IntN(15)), kid)
		ids = append(ids, w, w[:len(w)-2], strings.ToLower(w))
		if i%50 == 0 { // a key id of another length: not keyed
			ids = append(ids, leanKeyedWAMID("491700000042", kid[:len(kid)-2]))
		}
	}
	for _, id := range ids {
		if got, want := MessageIDRef(id), messageIDRefDefinition(id); got != want {
			t.Fatalf("MessageIDRef(%q) = %q, want %q", id, got, want)
		}
	}
	if got := MessageIDRef(ids[len(ids)-3]); len(got) != 2*messageKeyLen+32 {
		t.Fatalf("a keyed wamid's reference %q is not keyed", got)
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
