package console

import (
	"strings"
	"testing"
)

// TestPassword: a hash verifies its password only; salts differ; a
// malformed or foreign hash never verifies.
func TestPassword(t *testing.T) {
	h1, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("correct horse battery")
	if h1 == h2 || !strings.HasPrefix(h1, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hashes %q %q: want argon2id with distinct salts", h1, h2)
	}
	if !checkPassword(h1, "correct horse battery") || checkPassword(h1, "correct horse batterY") {
		t.Fatal("password check")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=65536,t=3,p=2$c2FsdA$a2V5", "$argon2id$v=19$m=99999999,t=3,p=2$c2FsdA$a2V5",
		strings.Replace(h1, "$argon2id$", "$argon2i$", 1)} {
		if checkPassword(bad, "correct horse battery") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

// BenchmarkPasswordHash is the cost of one sign-in's password check.
func BenchmarkPasswordHash(b *testing.B) {
	h, _ := hashPassword("correct horse battery")
	for b.Loop() {
		checkPassword(h, "correct horse battery")
	}
}
