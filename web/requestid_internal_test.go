package web

import (
	"encoding/base64"
	"testing"
)

// TestNewRequestID keeps the fbtrace_id's shape: "A" and 12 random bytes
// in unpadded base64url, a fresh one each time.
func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newRequestID()
		if len(id) != 17 || id[0] != 'A' {
			t.Fatalf("id %q: want A and 16 base64url characters", id)
		}
		if b, err := base64.RawURLEncoding.DecodeString(id[1:]); err != nil || len(b) != 12 {
			t.Fatalf("id %q: %d bytes, %v", id, len(b), err)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}
